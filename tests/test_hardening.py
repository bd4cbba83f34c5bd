"""Regression tests for pipeline bugs found while hardening (issue 7), one per fix."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from atw.core.engine import create_schema, make_engine
from atw.core.schema import IndexRun, Photo, PhotoPath, Quarantine
from pipelines import run as run_mod
from pipelines import scan
from pipelines.worker import PhotoFacts, Result, Task, Worker, WorkerConfig
from pipelines.writer import Writer
from tests.conftest import index
from tests.photos import pattern, write_jpeg


def test_a_failure_inside_a_transaction_is_recorded_not_masked(make_app, tmp_path, monkeypatch):
    """A run that fails while a read transaction is open used to die in its own `finally` with
    "A transaction is already begun", hiding the real error and leaving the run "running"."""
    write_jpeg(tmp_path / "photos" / "a.jpg")
    app = make_app()

    def boom(session, roots, seen):  # type: ignore[no-untyped-def]
        session.execute(select(PhotoPath.id)).all()  # autobegins, as the real code does
        raise RuntimeError("boom")

    monkeypatch.setattr(run_mod, "_mark_missing", boom)
    with pytest.raises(RuntimeError, match="boom"):
        index(app, tmp_path / "photos")
    with Session(make_engine(app.config["DATABASE_URL"])) as s:
        run = s.scalars(select(IndexRun)).one()
    assert run.status == "failed" and run.error == "RuntimeError: boom"


def _result(path: str, sha: str, make: str | None) -> Result:
    facts = PhotoFacts(
        format="JPEG",
        width=10,
        height=10,
        orientation=None,
        taken_at=None,
        utc_offset=None,
        time_estimated=True,
        lat=None,
        lon=None,
        altitude=None,
        camera_make=make,
        camera_model=None,
        extras={},
    )
    return Result(Task(path, "/r", 1, 1), "photo", sha256=sha, size=1, mtime_ns=1, facts=facts)


def test_an_unwritable_result_is_quarantined_and_the_rest_of_its_batch_written(tmp_path):
    """One value the database refuses (here a lone surrogate in a camera name) used to abort the
    whole run; now only that file is quarantined with the reason."""
    engine = make_engine(f"sqlite:///{tmp_path / 'w.sqlite'}")
    create_schema(engine)
    with Session(engine) as session:
        writer = Writer(session, run_id=None)  # type: ignore[arg-type]
        batch = [
            _result("/r/a.jpg", "a" * 64, "Canon"),
            _result("/r/b.jpg", "b" * 64, "Bad\udce9"),
            _result("/r/c.jpg", "c" * 64, None),
        ]
        writer.write_batch(batch)
        assert sorted(session.scalars(select(PhotoPath.path))) == ["/r/a.jpg", "/r/c.jpg"]
        assert session.scalars(select(Photo.sha256)).all().__len__() == 2
        q = session.scalars(select(Quarantine)).one()
        assert q.path == "/r/b.jpg" and q.reason.startswith("could not be recorded: ")
        assert writer.counts["indexed"] == 2 and writer.counts["quarantined"] == 1
        session.rollback()


def test_a_fifo_named_like_a_photo_never_blocks_the_scan_or_a_worker(tmp_path):
    """A named pipe called x.jpg used to be opened for reading, which blocks until a writer
    appears: every such file cost a worker FILE_TIMEOUT (120 s by default)."""
    root = tmp_path / "photos"
    root.mkdir()
    os.mkfifo(root / "pipe.jpg")
    found = list(scan.walk(str(root)))
    assert [type(f).__name__ for f in found] == ["ScanProblem"]
    assert found[0].reason == "not a regular file (a pipe, socket or device)"
    # A pipe put in place after the scan: the worker refuses it at once.
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    create_schema(make_engine(url))
    worker = Worker(WorkerConfig(url, str(tmp_path / "t"), 64, 70, 10**8, 10**9))
    old = signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError()))
    signal.alarm(10)
    try:
        res = worker(Task(str(root / "pipe.jpg"), str(root), 0, 0))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert res.kind == "error" and res.reason == "not a regular file (a pipe, socket or device)"


def test_non_utf8_names_survive_rerun_moves_and_quarantine(make_app, tmp_path):
    """Names that are not UTF-8 used to crash the run at its first database lookup."""
    root = tmp_path / "photos"
    root.mkdir()
    bad = os.fsdecode(os.path.join(os.fsencode(root), b"\xe9t\xe9.jpg"))
    write_jpeg(Path(bad), pattern(seed=1))
    app = make_app()
    assert index(app, root).indexed == 1
    moved = os.fsdecode(os.path.join(os.fsencode(root), b"moved-\xff.jpg"))
    os.rename(bad, moved)
    second = index(app, root)
    assert second.new_paths == 1 and second.missing == 1
    with Session(make_engine(app.config["DATABASE_URL"])) as s:
        paths = {p.path: p.missing_since is None for p in s.scalars(select(PhotoPath))}
    assert paths == {bad: False, moved: True}


def test_a_killed_runs_partial_thumbnails_are_removed_by_the_next_run(make_app, tmp_path):
    """A run killed while writing a thumbnail leaves <thumbs>/ab/.tmp-…; they used to pile up."""
    write_jpeg(tmp_path / "photos" / "a.jpg")
    app = make_app()
    partial = Path(app.config["THUMBS_DIR"]) / "ab" / ".tmp-killed"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"half a jpeg")
    index(app, tmp_path / "photos")
    assert not partial.exists()
    assert len(list(Path(app.config["THUMBS_DIR"]).rglob("*.jpg"))) == 1
