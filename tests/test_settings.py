"""The declared settings: typed ATW_* and instance/config.py values, malformed ones named with
the reason, unknown names warned about with the closest one, and the README's table in step."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest

from atw.core import settings

ROOT = Path(__file__).resolve().parents[1]
TABLE_SCRIPT = ROOT / "scripts" / "settings_table.py"


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    """Each test sees its own warnings (they are given once per process)."""
    monkeypatch.setattr(settings, "_warned", set())


def test_defaults_come_from_the_declared_table():
    assert list(settings.DEFAULTS) == [s.name for s in settings.SETTINGS if s.config]
    assert "INSTANCE_PATH" not in settings.DEFAULTS  # environment only
    names = [s.name for s in settings.SETTINGS]
    assert len(names) == len(set(names))
    for s in settings.SETTINGS:  # every declared default passes its own checks
        assert settings.check(s, s.default) == s.default, s.name
        assert s.help and not s.help.endswith("."), s.name


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ATW_THUMB_SIZE", "big", "ATW_THUMB_SIZE: not a whole number: 'big'"),
        ("ATW_PER_PAGE", "12.5", "ATW_PER_PAGE: not a whole number: '12.5'"),
        ("ATW_DISPLAY_DECODE_WAIT", "soon", "ATW_DISPLAY_DECODE_WAIT: not a number: 'soon'"),
        ("ATW_CLASSIFY_THRESHOLD", "nan", "ATW_CLASSIFY_THRESHOLD: not a finite number: nan"),
        ("ATW_YOLO_RECT", "maybe", "ATW_YOLO_RECT: not a boolean (true/false, yes/no, on/off"),
        ("ATW_IMAGENET_RUNTIME", "fast", "ATW_IMAGENET_RUNTIME: must be one of auto, onnx, eager"),
        ("ATW_LABELERS", "imagenet,yolo", "ATW_LABELERS: must be each of imagenet, coco"),
        ("ATW_THUMB_QUALITY", "0", "ATW_THUMB_QUALITY: must be at least 1: 0"),
        ("ATW_THUMB_QUALITY", "101", "ATW_THUMB_QUALITY: must be at most 100: 101"),
        ("ATW_CLASSIFY_THRESHOLD", "1.5", "ATW_CLASSIFY_THRESHOLD: must be at most 1: 1.5"),
        ("ATW_INDEX_WORKERS", "-1", "ATW_INDEX_WORKERS: must be at least 0: -1"),
    ],
)
def test_a_malformed_environment_value_stops_start_up_naming_it(
    make_app, monkeypatch, name, value, message
):
    monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exc:
        make_app()
    assert message in str(exc.value)


def test_every_malformed_variable_is_named_at_once(make_app, monkeypatch):
    monkeypatch.setenv("ATW_THUMB_SIZE", "big")
    monkeypatch.setenv("ATW_API_KEYS_FOR_READS", "sometimes")
    with pytest.raises(SystemExit) as exc:
        make_app()
    lines = str(exc.value).splitlines()
    assert lines[0] == "atw: malformed settings:"
    assert lines[1:] == [
        "ATW_API_KEYS_FOR_READS: not a boolean (true/false, yes/no, on/off, 1/0): 'sometimes'",
        "ATW_THUMB_SIZE: not a whole number: 'big'",
    ]


def test_environment_values_are_typed(make_app, monkeypatch):
    env = {
        "ATW_API_KEYS_FOR_READS": "Yes",
        "ATW_YOLO_RECT": "off",
        "ATW_MAX_IMAGE_PIXELS": "1_000_000",
        "ATW_UPLOAD_RETENTION_DAYS": "0.5",
        "ATW_CLASSIFY_THRESHOLD": "0.3",
        "ATW_API_KEYS": "k1, k2,,k3",
        "ATW_TRUSTED_HOSTS": "photos.lan,192.168.1.20",
        "ATW_IMAGENET_RUNTIME": "ONNX",
        "ATW_LABELERS": "",
        "ATW_FILE_TIME_ZONE": "Europe/Lisbon",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    config = settings.from_environ(dict(env))
    assert config == {
        "API_KEYS_FOR_READS": True,
        "YOLO_RECT": False,
        "MAX_IMAGE_PIXELS": 1_000_000,
        "UPLOAD_RETENTION_DAYS": 0.5,
        "CLASSIFY_THRESHOLD": 0.3,
        "API_KEYS": ["k1", "k2", "k3"],
        "TRUSTED_HOSTS": ["photos.lan", "192.168.1.20"],
        "IMAGENET_RUNTIME": "ONNX",
        "LABELERS": "",
        "FILE_TIME_ZONE": "Europe/Lisbon",
    }
    app = make_app(LABELERS="imagenet")  # the test's own mapping wins over the environment
    assert {k: app.config[k] for k in config if k not in ("LABELERS", "TRUSTED_HOSTS")} == {
        k: v for k, v in config.items() if k not in ("LABELERS", "TRUSTED_HOSTS")
    }
    assert app.config["LABELERS"] == "imagenet"
    # TRUSTED_HOSTS is consumed by the security layer (Flask's own key is cleared there)
    assert "photos.lan" in app.extensions["atw.trusted_hosts"]


def test_an_unknown_variable_is_ignored_with_the_closest_known_name(make_app, monkeypatch, caplog):
    monkeypatch.setenv("ATW_THUMBSIZE", "300")
    monkeypatch.setenv("ATW_API_KEY_FOR_READS", "true")
    monkeypatch.setenv("ATW_COMPLETELY_DIFFERENT", "1")
    for name in settings.TOOL_VARIABLES:  # the tests' and benchmarks' own variables are known
        monkeypatch.setenv(name, "1")
    with caplog.at_level(logging.WARNING, logger="atw.core.settings"):
        app = make_app()
        make_app(INSTANCE_PATH=str(app.instance_path) + "-2")  # warned once per process
    assert app.config["THUMB_SIZE"] == 400 and "THUMBSIZE" not in app.config
    assert "API_KEY_FOR_READS" not in app.config and app.config["API_KEYS_FOR_READS"] is False
    messages = [r.getMessage() for r in caplog.records]
    assert sorted(messages) == [
        "atw: ignoring unknown environment variable ATW_API_KEY_FOR_READS (did you mean "
        "ATW_API_KEYS_FOR_READS?) (the settings: README.md, Configuration)",
        "atw: ignoring unknown environment variable ATW_COMPLETELY_DIFFERENT "
        "(the settings: README.md, Configuration)",
        "atw: ignoring unknown environment variable ATW_THUMBSIZE (did you mean "
        "ATW_THUMB_SIZE?) (the settings: README.md, Configuration)",
    ]


def test_the_warning_is_printed_once_on_stderr_of_a_real_process(tmp_path):
    code = "from atw import create_app\ncreate_app(); create_app()\nprint('started')\n"
    env = {"ATW_INSTANCE_PATH": str(tmp_path / "i"), "ATW_PERPAGE": "20", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "started"
    assert done.stderr.count("ATW_PERPAGE") == 1
    assert "did you mean ATW_PER_PAGE?" in done.stderr


def test_a_malformed_variable_stops_a_real_process_with_one_clear_line(tmp_path):
    env = {"ATW_INSTANCE_PATH": str(tmp_path / "i"), "ATW_THUMB_SIZE": "big", "PATH": "/bin"}
    done = subprocess.run(
        [sys.executable, "-c", "from atw import create_app\ncreate_app()"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == "atw: malformed settings:\nATW_THUMB_SIZE: not a whole number: 'big'\n"


def _config_file(tmp_path: Path, text: str) -> Path:
    inst = tmp_path / "inst"
    inst.mkdir()
    (inst / "config.py").write_text(text)
    return inst


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("THUMB_SIZE = '400'", "THUMB_SIZE: expected a whole number, got '400' (a str)"),
        ("THUMB_SIZE = 400.0", "THUMB_SIZE: expected a whole number, got 400.0 (a float)"),
        ("YOLO_RECT = 1", "YOLO_RECT: expected a boolean, got 1 (a int)"),
        ("PER_PAGE = True", "PER_PAGE: expected a whole number, got True (a bool)"),
        ("DISPLAY_DECODE_WAIT = '5'", "DISPLAY_DECODE_WAIT: expected a number, got '5' (a str)"),
        ("API_KEYS = ['k1', 2]", "API_KEYS: expected a list of strings, got ['k1', 2] (a list)"),
        ("SECRET_KEY = None", "SECRET_KEY: expected text, got None (a NoneType)"),
        ("YOLO_RUNTIME = 'gpu'", "YOLO_RUNTIME: must be one of auto, file, fp32, qdq, openvino"),
        ("MAX_PER_PAGE = 0", "MAX_PER_PAGE: must be at least 1: 0"),
        ("INSTANCE_PATH = '/x'", "INSTANCE_PATH: set it in the environment (ATW_INSTANCE_PATH)"),
    ],
)
def test_a_malformed_config_file_value_stops_start_up_naming_file_and_key(
    make_app, tmp_path, line, message
):
    inst = _config_file(tmp_path, f"{line}\n")
    with pytest.raises(SystemExit) as exc:
        make_app(INSTANCE_PATH=str(inst))
    assert f"{inst / 'config.py'}: {message}" in str(exc.value)


def test_config_file_values_of_the_right_type_and_other_keys_pass(make_app, tmp_path, caplog):
    inst = _config_file(
        tmp_path,
        "DISPLAY_DECODE_WAIT = 2\nAPI_KEYS = 'k1,k2'\nTRUSTED_HOSTS = ('a.lan',)\n"
        "SESSION_COOKIE_SECURE = True\nWTF_CSRF_TIME_LIMIT = 60\nTHUMBSIZE = 300\n",
    )
    with caplog.at_level(logging.WARNING, logger="atw.core.settings"):
        app = make_app(INSTANCE_PATH=str(inst))
    assert app.config["DISPLAY_DECODE_WAIT"] == 2
    assert app.config["API_KEYS"] == ["k1", "k2"]
    assert app.config["TRUSTED_HOSTS"] is None  # read by the security layer, which clears it
    assert "a.lan" in app.extensions["atw.trusted_hosts"]
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["WTF_CSRF_TIME_LIMIT"] == 60
    assert [r.getMessage() for r in caplog.records] == [
        f"atw: {inst / 'config.py'}: unknown setting THUMBSIZE (did you mean THUMB_SIZE?)"
    ]


# --- the README's configuration table ------------------------------------------------------


def readme_rows(text: str) -> dict[str, str]:
    """name → default cell of the README's configuration table (read as a person would)."""
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        name = re.match(r"`([A-Z][A-Z0-9_]*)`", cells[0]) if line.startswith("|") else None
        if name and len(cells) == 3:
            rows[name.group(1)] = cells[1]
    return rows


def differences(rows: dict[str, str]) -> list[str]:
    """What the README's rows and the declared settings disagree on, both ways."""
    table = _load_table_script()
    declared = {s.name: table.default_cell(s) for s in settings.SETTINGS}
    out = [f"declared but not in the README: {n}" for n in declared if n not in rows]
    out += [f"in the README but not declared: {n}" for n in rows if n not in declared]
    out += [
        f"{n}: README default {rows[n]}, declared {declared[n]}"
        for n in declared
        if n in rows and rows[n] != declared[n]
    ]
    return out


def _load_table_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("settings_table", TABLE_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_setting_is_documented_and_every_documented_key_declared():
    rows = readme_rows((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(rows) == len(settings.SETTINGS)
    assert differences(rows) == []


def test_the_comparison_bites_both_ways():
    rows = readme_rows((ROOT / "README.md").read_text(encoding="utf-8"))
    del rows["THUMB_SIZE"]
    rows["THUMB_SIZES"] = "`400`"
    rows["PER_PAGE"] = "`50`"
    assert differences(rows) == [
        "declared but not in the README: THUMB_SIZE",
        "in the README but not declared: THUMB_SIZES",
        "PER_PAGE: README default `50`, declared `100`",
    ]


def test_the_readme_table_is_the_one_made_from_the_declarations(tmp_path):
    check = [sys.executable, str(TABLE_SCRIPT), "--check"]
    done = subprocess.run(check, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    # a help text edited by hand in a copy of the README is caught, and --write puts it back
    copy = tmp_path / "README.md"
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    copy.write_text(text.replace("long side of thumbnails, px", "thumbnail size"))
    done = subprocess.run([*check, "--readme", str(copy)], capture_output=True, text=True)
    assert done.returncode == 1
    assert "-| `THUMB_SIZE` | `400` | thumbnail size |" in done.stdout
    subprocess.run([*check[:2], "--write", "--readme", str(copy)], check=True, capture_output=True)
    assert copy.read_text(encoding="utf-8") == text
