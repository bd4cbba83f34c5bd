"""Configuration (instance/config.py, ATW_* environment) and what the web process imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from atw import create_app

ROOT = Path(__file__).resolve().parents[1]


def test_env_overrides_instance_config_and_is_typed(tmp_path, monkeypatch):
    inst = tmp_path / "inst"
    inst.mkdir()
    (inst / "config.py").write_text("THUMB_SIZE = 300\nPER_PAGE = 50\n")
    monkeypatch.setenv("ATW_INSTANCE_PATH", str(inst))
    monkeypatch.setenv("ATW_PER_PAGE", "20")
    monkeypatch.setenv("ATW_DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere.sqlite'}")
    app = create_app()
    assert app.instance_path == str(inst)
    assert app.config["THUMB_SIZE"] == 300  # from instance/config.py
    assert app.config["PER_PAGE"] == 20  # the environment wins, as an int
    assert app.config["DATABASE_URL"].endswith("elsewhere.sqlite")
    assert (tmp_path / "elsewhere.sqlite").exists()


def test_default_database_and_secret_live_in_the_instance(tmp_path, monkeypatch):
    monkeypatch.delenv("ATW_DATABASE_URL", raising=False)
    monkeypatch.delenv("ATW_SECRET_KEY", raising=False)
    monkeypatch.setenv("ATW_INSTANCE_PATH", str(tmp_path / "i"))
    app = create_app()
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'i' / 'atw.sqlite'}"
    key = (tmp_path / "i" / "secret_key").read_text()
    assert len(key) >= 64 and app.config["SECRET_KEY"] == key
    assert create_app().config["SECRET_KEY"] == key  # stable across starts
    assert (tmp_path / "i" / "secret_key").stat().st_mode & 0o077 == 0


def test_web_process_does_not_import_torch_or_onnxruntime(tmp_path):
    code = (
        "import sys, json\n"
        "from atw import create_app\n"
        "app = create_app()\n"
        "c = app.test_client()\n"
        "codes = [c.get(u).status_code for u in ('/', '/api/photos', '/api/quarantine')]\n"
        "print(json.dumps({'codes': codes, 'torch': 'torch' in sys.modules,\n"
        "  'ort': 'onnxruntime' in sys.modules, 'tv': 'torchvision' in sys.modules}))\n"
    )
    env = {"ATW_INSTANCE_PATH": str(tmp_path / "i"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    got = json.loads(out.strip().splitlines()[-1])
    assert got == {"codes": [200, 200, 200], "torch": False, "ort": False, "tv": False}
