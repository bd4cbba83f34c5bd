"""The installable package: pyproject.toml against requirements.txt, and the wheel end to end.

The slow tests build the wheel from a copy of the source, install it without the `index` extra
into a fresh virtualenv (no torch, no onnxruntime there), and serve over real HTTP an index that
the full install (this virtualenv, with the real models) made of a few shared photos."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from importlib import metadata
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from PIL import Image

from atw import cli
from pipelines.labelers.registry import LABELLING_STACK
from tests.conftest import EXIF_DIR, MODEL_CONFIG, MODELS, fresh_app, need_shared

ROOT = Path(__file__).resolve().parents[1]
# Built wheels of atw's dependencies, kept between runs (pip download skips what is there).
WHEELHOUSE = ROOT / "test-artifacts" / "wheelhouse"
# Real photos with things the models know (../shared/DATA.md): a person, a clock and people,
# a bird, a boat; the HEIC needs pillow-heif (a base dependency) to be shown.
PHOTOS = ("boy1.jpg", "newyear_london.jpg", "bird.jpg", "ship.jpg", "IMG_5195.HEIC")
# Where a pinned package must be imported (test_every_pinned_package_is_imported).
CODE = [ROOT / "atw", ROOT / "pipelines", ROOT / "wsgi.py"]


# --- pyproject.toml and requirements.txt (fast) ----------------------------------------------


def pins() -> dict[str, str]:
    """requirements.txt as {canonical name: exact version}; every line must be an exact pin."""
    out: dict[str, str] = {}
    for raw in (ROOT / "requirements.txt").read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==", f"requirements.txt pins exact versions: {raw!r}"
        name = canonicalize_name(req.name)
        assert name not in out, f"{req.name} is pinned twice in requirements.txt"
        out[name] = spec.version
    return out


def declared() -> tuple[dict[str, Requirement], dict[str, Requirement]]:
    """pyproject.toml's dependencies and its `index` extra, by canonical name."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def by_name(lines: list[str]) -> dict[str, Requirement]:
        return {canonicalize_name(Requirement(s).name): Requirement(s) for s in lines}

    return by_name(project["dependencies"]), by_name(project["optional-dependencies"]["index"])


def every_extra() -> dict[str, Requirement]:
    """Every optional dependency of pyproject.toml (index, notebook, …), by canonical name."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = [s for extra in project["optional-dependencies"].values() for s in extra]
    return {canonicalize_name(Requirement(s).name): Requirement(s) for s in lines}


def test_pyproject_declares_every_pin_in_a_range_that_holds_it():
    base, _ = declared()
    index = every_extra()
    pinned = pins()
    assert not set(base) & set(index)
    assert set(base) | set(index) == set(pinned), (
        "requirements.txt (the full pinned set) and pyproject.toml (dependencies + the "
        f"extras) differ: only pinned {sorted(set(pinned) - set(base) - set(index))}, only "
        f"declared {sorted(set(base) | set(index) - set(pinned))}"
    )
    for name, req in {**base, **index}.items():
        assert req.specifier, f"{name}: give a compatible range in pyproject.toml"
        assert req.specifier.contains(pinned[name]), f"{name}=={pinned[name]} not in {req}"


def test_the_web_install_leaves_the_labelling_stack_to_the_index_extra():
    base, index = declared()
    stack = {canonicalize_name(m) for m in LABELLING_STACK}
    assert stack <= set(index)
    assert not stack & set(base)
    assert "torch" in index and "torchvision" in index


def test_every_pinned_package_is_imported():
    """No pinned package goes unused: each distribution's import name appears in atw,
    pipelines or wsgi.py in an import statement or as a quoted module name (packages read
    through importlib: find_spec, resources.files)."""
    text = "\n".join(
        p.read_text() for c in CODE for p in ([c] if c.is_file() else sorted(c.rglob("*.py")))
    )
    modules: dict[str, set[str]] = {}
    for module, dists in metadata.packages_distributions().items():
        for dist in dists:
            modules.setdefault(canonicalize_name(dist), set()).add(module)
    unused = []
    for name in pins():
        names = modules.get(name)
        assert names, f"{name} is pinned but not installed here (make setup)"
        used = any(
            re.search(rf"^\s*(from|import)\s+{re.escape(m)}\b", text, re.M)
            or re.search(rf"[\"']{re.escape(m)}[\"'.]", text)
            for m in names
        )
        if not used:
            unused.append(f"{name} ({', '.join(sorted(names))})")
    assert not unused, f"pinned in requirements.txt but never imported: {unused}"


# --- the wheel, a fresh virtualenv without the index extra, a real server (slow) ----------


def run(cmd: list[str | Path], **kw: Any) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure the error shows its output."""
    out = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if out.returncode != 0 and kw.get("check", True):
        pytest.fail(f"{cmd} failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return out


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without ATW_*, FLASK_* or PYTHON* (the Makefile exports
    model settings; PYTHONPATH would put the source tree in front of the installed package)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATW_", "FLASK_", "PYTHON"))}
    return {**env, **extra}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built by pip from a copy of the source (pyproject.toml, README, atw, pipelines)
    so the build leaves nothing in the working tree."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("atw", "pipelines"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp / "dist", src])
    (built,) = (tmp / "dist").glob("atw-*.whl")
    return built


def pins_without_extras(out: Path) -> Path:
    """requirements.txt as pip constraints: pip refuses a constraint with extras
    ("psycopg[binary]==…"), so the name alone keeps the version."""
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    out.write_text("\n".join(re.sub(r"^([A-Za-z0-9_.-]+)\[[^]]*\]", r"\1", ln) for ln in lines))
    return out


@pytest.fixture(scope="module")
def slim(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel installed, without the index extra; returns its bin/.
    Dependencies at the versions of requirements.txt, from WHEELHOUSE (filled from the
    package indexes the first time); no byte-compiling, which is most of an install's time."""
    venv = tmp_path_factory.mktemp("slim") / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv])
    pip = [sys.executable, "-m", "pip", "--python", venv / "bin" / "python"]
    constraints = ["-c", pins_without_extras(tmp_path_factory.mktemp("pins") / "pins.txt")]
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    for old in WHEELHOUSE.glob("atw-*.whl"):  # pip download copies the wheel in: never reuse it
        old.unlink()
    run([sys.executable, "-m", "pip", "download", "-q", "-d", WHEELHOUSE, wheel, *constraints])
    for old in WHEELHOUSE.glob("atw-*.whl"):
        old.unlink()
    offline = ["--no-compile", "--no-index", "--find-links", WHEELHOUSE]
    run([*pip, "install", "-q", *offline, wheel, *constraints])
    run([*pip, "check"])
    return venv / "bin"


@pytest.fixture(scope="module")
def full_instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An instance indexed by the full install (this virtualenv's `atw`, the real models)."""
    photos = [EXIF_DIR / name for name in PHOTOS]
    need_shared(*photos, MODELS / "yolov8n_int8.onnx")
    script = Path(sys.executable).parent / "atw"
    if not script.exists():
        pytest.fail(f"{script} is missing: install the project (make setup: pip install -e .)")
    instance = tmp_path_factory.mktemp("full") / "instance"
    env = clean_env(ATW_INSTANCE_PATH=str(instance))
    env.update({f"ATW_{k}": v for k, v in MODEL_CONFIG.items()})
    out = run([script, "index", "--quiet", "--workers", "1", *photos], env=env, cwd=instance.parent)
    assert f"{len(PHOTOS)} files: {len(PHOTOS)} indexed" in out.stdout, out.stdout
    return instance


@pytest.fixture(scope="module")
def server(
    slim: Path, full_instance: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`atw serve` of the slim install over the full install's instance; yields the base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cwd = tmp_path_factory.mktemp("serve")
    proc = subprocess.Popen(
        [slim / "atw", "serve", "--port", str(port), "--threads", "4"],
        cwd=cwd,
        env=clean_env(ATW_INSTANCE_PATH=str(full_instance)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"atw serve exited ({proc.returncode}): {proc.communicate()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("atw serve did not listen within 60 s")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return resp.status, resp.headers.get_content_type(), resp.read()


@pytest.mark.slow
def test_the_wheel_holds_every_module_and_data_file(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    on_disk = {
        p.relative_to(ROOT).as_posix()
        for top in ("atw", "pipelines")
        for p in (ROOT / top).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    assert on_disk - names == set(), "files of the source tree missing from the wheel"
    for must in (
        "atw/templates/home.html",
        "atw/static/vendor/leaflet/leaflet.js",
        "atw/static/vendor/leaflet/LICENSE",
        "atw/core/data/vocabulary.json",
        "atw/web/views/pages.py",
        "pipelines/labelers/yolo.py",
    ):
        assert must in names
    assert not [n for n in names if n.endswith(".pyc") or n.startswith(("tests/", "bench/"))]
    meta = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "atw = atw.cli.main:main" in zipfile.ZipFile(wheel).read(meta).decode()


@pytest.mark.slow
def test_the_web_install_has_no_labelling_stack(slim: Path):
    code = (
        "import importlib.util, json, atw\n"
        f"mods = {list(LABELLING_STACK)!r}\n"
        "print(json.dumps({'found': [m for m in mods if importlib.util.find_spec(m)],\n"
        "                  'atw': atw.__file__}))\n"
    )
    got = json.loads(run([slim / "python", "-c", code], env=clean_env(), cwd=slim).stdout)
    assert got["found"] == []
    assert Path(got["atw"]).is_relative_to(slim.parent), got  # the installed copy, not ROOT


@pytest.mark.slow
def test_atw_offers_the_same_commands_as_flask_app_atw(slim: Path, tmp_path: Path):
    env = clean_env(ATW_INSTANCE_PATH=str(tmp_path / "instance"))

    def commands(cmd: list[str | Path]) -> set[str]:
        text = run(cmd, env=env, cwd=tmp_path).stdout
        block = text.split("Commands:", 1)[1]
        return {m.group(1) for m in re.finditer(r"^  (\S+)", block, re.M)}

    ours = commands([slim / "atw", "--help"])
    assert {c.name for c in cli.COMMANDS} <= ours
    assert {"index", "serve", "attention", "quarantine", "report", "export"} <= ours
    assert {"export-folders", "prune-uploads"} <= ours
    assert ours == commands([slim / "flask", "--app", "atw", "--help"])
    assert run([slim / "atw", "--version"], env=env).stdout.strip() == "atw, version 0.1.0"


@pytest.mark.slow
def test_the_web_install_serves_an_index_made_by_the_full_install(server: str, full_instance: Path):
    status, ctype, body = get(f"{server}/api/photos")
    assert (status, ctype) == (200, "application/json")
    served = json.loads(body)
    assert sorted(p["file_name"] for p in served["photos"]) == sorted(PHOTOS)
    by_name = {p["file_name"]: p for p in served["photos"]}
    for p in served["photos"]:
        assert any(lb["source"] == "imagenet" for lb in p["labels"]), p["file_name"]
    assert "person" in {d["label"] for d in by_name["boy1.jpg"]["detections"]}
    assert "person" in {d["label"] for d in by_name["newyear_london.jpg"]["detections"]}
    # The same records the full install's own app gives for this index.
    with fresh_app(full_instance).test_client() as client:
        assert client.get("/api/photos").get_json() == served

    status, ctype, html = get(f"{server}/")
    assert (status, ctype) == (200, "text/html")
    for p in served["photos"]:
        assert f"/thumbs/{p['id']}.jpg".encode() in html

    heic = by_name["IMG_5195.HEIC"]
    status, ctype, thumb = get(f"{server}/thumbs/{heic['id']}.jpg")
    assert (status, ctype) == (200, "image/jpeg")
    assert thumb in {f.read_bytes() for f in (full_instance / "thumbs").rglob("*.jpg")}
    status, ctype, display = get(f"{server}/photos/{heic['id']}/display.jpg")
    assert (status, ctype) == (200, "image/jpeg")  # the HEIC original decoded by pillow-heif
    assert Image.open(BytesIO(display)).size[0] > Image.open(BytesIO(thumb)).size[0]

    status, ctype, page = get(f"{server}/charts")
    assert (status, ctype) == (200, "text/html") and b"/vendor/plotly.min.js" in page
    status, _, data = get(f"{server}/charts.json")
    assert "person" in json.dumps(json.loads(data))
    for path in ("/vendor/plotly.min.js", "/static/vendor/leaflet/leaflet.js", "/static/atw.css"):
        status, _, asset = get(f"{server}{path}")
        assert status == 200 and len(asset) > 1000, path

    # Labelling on demand needs the index extra: a 503 that says so, not a crash.
    ask = urllib.request.Request(
        f"{server}/api/classify",
        data=(EXIF_DIR / "bird.jpg").read_bytes(),
        headers={"Content-Type": "image/jpeg"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(ask, timeout=30)
    assert refused.value.code == 503
    assert "pip install 'atw[index]'" in json.loads(refused.value.read())["message"]


@pytest.mark.slow
def test_the_web_install_indexes_metadata_and_names_the_index_extra(slim: Path, tmp_path: Path):
    photos = [EXIF_DIR / "bird.jpg", EXIF_DIR / "ship.jpg"]
    need_shared(*photos)
    env = clean_env(ATW_INSTANCE_PATH=str(tmp_path / "instance"))
    cmd: list[str | Path] = [slim / "atw", "index", "--quiet", "--workers", "1", *photos]
    refused = run(cmd, env=env, cwd=tmp_path, check=False)
    assert refused.returncode == 1
    assert "pip install 'atw[index]'" in refused.stderr and "torch" in refused.stderr
    assert "--no-labels" in refused.stderr
    done = run([*cmd, "--no-labels"], env=env, cwd=tmp_path)
    assert "2 files: 2 indexed" in done.stdout, done.stdout
    app = fresh_app(tmp_path / "instance")
    recs = app.test_client().get("/api/photos").get_json()["photos"]
    assert sorted(p["file_name"] for p in recs) == ["bird.jpg", "ship.jpg"]
    assert all(p["labels"] == [] and p["detections"] == [] and p["lat"] for p in recs)


@pytest.mark.slow
def test_an_installed_atw_keeps_its_instance_in_the_current_folder(slim: Path, tmp_path: Path):
    run([slim / "atw", "quarantine"], env=clean_env(), cwd=tmp_path)
    assert (tmp_path / "instance" / "secret_key").is_file()
    assert not (slim.parent / "var").exists()  # not Flask's <venv>/var/atw-instance
    env = clean_env(ATW_INSTANCE_PATH=str(tmp_path / "elsewhere"))
    run([slim / "atw", "quarantine"], env=env, cwd=tmp_path)
    assert (tmp_path / "elsewhere" / "secret_key").is_file()
