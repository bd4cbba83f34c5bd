"""Shared fixtures: a fresh instance folder per test, the app, its client, and an indexer call."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from atw import create_app
from pipelines.run import RunSummary, run_index
from tests import skips
from tests.shared_data import SHARED

EXIF_DIR = SHARED / "photos" / "exif"
COCO_DIR = SHARED / "photos" / "coco128"
IMAGENET_DIR = SHARED / "photos" / "imagenet-samples"
MODELS = SHARED / "models"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

# The real models on this machine (see ../shared/DATA.md).
MODEL_CONFIG = {
    "LABELERS": "imagenet,coco",
    "IMAGENET_MODEL": "mobilenet_v2",
    "IMAGENET_WEIGHTS": str(MODELS / "mobilenet_v2_imagenet_from_tflite.pth"),
    "YOLO_MODEL": str(MODELS / "yolov8n_int8.onnx"),
}


def need_shared(*paths: Path) -> None:
    """Fail (never skip) when the test data folder (ATW_TEST_DATA, default ../shared), or any
    of these paths in it, is missing, naming what was looked for. Every test that reads it calls
    this first."""
    if not SHARED.is_dir():
        pytest.fail(
            f"the shared test data is missing: expected it at {SHARED} (set ATW_TEST_DATA, "
            "or run `make test-data`: README, Test data)"
        )
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        pytest.fail(
            "shared test data missing: expected " + ", ".join(missing) + " (`make test-data`)"
        )


# --- the skip policy (tests/skips.py): under CI=true a skip fails the run unless allowed ----

_skips: list[skips.Skip] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    skip = skips.from_report(report)
    if skip is not None:
        _skips.append(skip)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    skip = skips.from_report(report)
    if skip is not None:
        _skips.append(skip)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = skips.summary_lines(_skips)
    if not lines:
        return
    if skips.ci():
        title = f"{len(lines)} skips not allowed under CI=true (allow-list: tests/skips.py)"
    else:
        title = f"{len(lines)} skips that would fail the run under CI=true (tests/skips.py)"
    terminalreporter.write_sep("=", title, red=skips.ci(), yellow=not skips.ci())
    for line in lines:
        terminalreporter.write_line(line)
    if skips.ci():
        terminalreporter.write_line(
            "The run fails: make the test run (or fail with the path it needs), or list it in "
            "tests/skips.py with the reason it gives and why that skip is fine."
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    ok = (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
    if skips.ci() and skips.refused(_skips) and exitstatus in ok:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def app_config(instance: Path, **config: Any) -> dict[str, Any]:
    """The tests' app config: no labelling unless asked, two workers, this instance folder."""
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(instance),
        "LABELERS": "",
        "INDEX_WORKERS": 2,
        **config,
    }


def fresh_app(instance: Path, **config: Any) -> Any:
    """An app built with no ATW_* variables from the environment, for module-scoped fixtures
    (which cannot use the function-scoped make_app)."""
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("ATW_"):
                mp.delenv(name)
        return create_app(app_config(instance, **config))


@pytest.fixture
def make_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Build an app over a fresh instance folder; keyword args override config keys."""
    for name in list(os.environ):
        if name.startswith("ATW_"):
            monkeypatch.delenv(name)

    def make(**config: Any) -> Any:
        config.setdefault("INSTANCE_PATH", str(tmp_path / "instance"))
        return create_app(app_config(Path(config.pop("INSTANCE_PATH")), **config))

    return make


@pytest.fixture
def app(make_app: Callable[..., Any]) -> Any:
    return make_app()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


def index(app: Any, *roots: str | Path, **kw: Any) -> RunSummary:
    """Run the indexer in-process (workers are real processes) over roots for this app."""
    return run_index([str(r) for r in roots], app.config, progress=False, **kw)
