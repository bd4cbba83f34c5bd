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
from tests.pg import Cluster, ClusterError
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


# --- the databases: SQLite, and PostgreSQL for the modules marked `databases` ---------------
# A module with `pytestmark = pytest.mark.databases` runs each test that builds an app (through
# make_app, or a module fixture through module_database) once on SQLite and once on PostgreSQL
# (test ids [sqlite] / [postgresql]): the same test, not a copy. On PostgreSQL every instance
# folder of a test gets its own database in the session's throwaway cluster (tests/pg.py).
# Without PostgreSQL the [postgresql] tests fail under CI=true and skip elsewhere (a skip
# fails a CI run anyway: tests/skips.py).

BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`databases` parametrises db_backend; `@pytest.mark.databases("sqlite")` on a test of
    such a module keeps it to the backends named (what only one database has, e.g. an index
    file written before atw used Alembic: PostgreSQL support came later)."""
    marker = metafunc.definition.get_closest_marker("databases")
    if marker is not None and "db_backend" in metafunc.fixturenames:
        names = marker.args or BACKENDS
        metafunc.parametrize("db_backend", names, indirect=True, scope="module")


@pytest.fixture(scope="session")
def pg_cluster() -> Any:
    """The session's PostgreSQL cluster (started on first use, removed at the end)."""
    try:
        cluster = Cluster()
    except (ClusterError, OSError) as exc:
        if skips.ci():
            pytest.fail(f"PostgreSQL is needed and could not be started: {exc}")
        pytest.skip(f"PostgreSQL could not be started: {exc}")
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def db_backend(request: pytest.FixtureRequest) -> str:
    """ "sqlite" unless the module is marked `databases` (then each of BACKENDS in turn)."""
    return str(getattr(request, "param", "sqlite"))


def _databases(request: pytest.FixtureRequest, backend: str) -> Any:
    """A factory: instance folder -> DATABASE_URL (None on SQLite: the instance's own file)."""
    made: dict[str, str] = {}

    def url(instance: str | Path, *, empty: bool = False) -> str | None:
        if backend == "sqlite":
            return None
        key = str(instance)
        if key not in made:
            made[key] = request.getfixturevalue("pg_cluster").new_database(empty=empty)
        return made[key]

    def drop() -> None:
        if made:
            cluster = request.getfixturevalue("pg_cluster")
            for u in made.values():
                cluster.drop(u)

    return url, drop


@pytest.fixture
def database(request: pytest.FixtureRequest, db_backend: str) -> Any:
    """This test's databases: database(instance) is the DATABASE_URL for that instance folder
    (None on SQLite: the default file in it); database(instance, empty=True) has no tables."""
    url, drop = _databases(request, db_backend)
    yield url
    drop()


@pytest.fixture(scope="module")
def module_database(request: pytest.FixtureRequest, db_backend: str) -> Any:
    """database for module-scoped fixtures: fresh_app(inst, DATABASE_URL=module_database(inst))."""
    url, drop = _databases(request, db_backend)
    yield url
    drop()


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
        if config.get("DATABASE_URL", "") is None:
            del config["DATABASE_URL"]  # SQLite: the instance's own file
        return create_app(app_config(instance, **config))


@pytest.fixture
def make_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: Any) -> Callable[..., Any]:
    """Build an app over a fresh instance folder; keyword args override config keys. In a
    module marked `databases`, on PostgreSQL too (one database per instance folder)."""
    for name in list(os.environ):
        if name.startswith("ATW_"):
            monkeypatch.delenv(name)

    def make(**config: Any) -> Any:
        config.setdefault("INSTANCE_PATH", str(tmp_path / "instance"))
        instance = Path(config.pop("INSTANCE_PATH"))
        if "DATABASE_URL" not in config and (url := database(instance)) is not None:
            config["DATABASE_URL"] = url
        return create_app(app_config(instance, **config))

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
