"""The instance's index lock held by a real second process, and uploads received again while a
prune deletes them (real threads, real SQLite, paused at the window between read and write)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from atw.core.engine import make_engine
from atw.core.locks import IndexerBusy, index_lock
from atw.core.schema import PhotoPath, Upload
from atw.services import retention, upload_store
from tests.conftest import index
from tests.photos import pattern

ROOT = Path(__file__).resolve().parents[1]
HOLD = (
    "import sys\n"
    "from atw.core.locks import index_lock\n"
    "lock = index_lock(sys.argv[1])\n"
    "print('held', flush=True)\n"
    "sys.stdin.read()\n"  # hold until the test closes our stdin
)


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """Another process (as `flask index` would be) holding the lock of an instance folder."""
    inst = tmp_path / "instance"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(inst)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        yield proc, inst
    finally:
        if proc.stdin:
            proc.stdin.close()
        proc.wait(timeout=30)


def test_a_waiting_process_leaves_the_holders_pid_in_the_lock_file(holder, make_app):
    proc, inst = holder
    lock_file = inst / "index.lock"
    assert lock_file.read_text() == str(proc.pid)
    # Direct attempts, the retention's retrying wait, and a whole index run (what the upload
    # worker tries every UPLOAD_RETRY_SECONDS): each refused, none touching the holder's PID.
    for _ in range(3):
        with pytest.raises(IndexerBusy) as busy:
            index_lock(str(inst))
        assert lock_file.read_text() == str(proc.pid)
        assert f"pid {proc.pid}" in str(busy.value)
    with pytest.raises(IndexerBusy):
        retention._lock(str(inst), wait=1.2)
    assert lock_file.read_text() == str(proc.pid)
    app = make_app(INSTANCE_PATH=str(inst))
    photos = inst.parent / "photos"
    photos.mkdir()
    with pytest.raises(IndexerBusy):
        index(app, photos)
    assert lock_file.read_text() == str(proc.pid)
    # Once the holder exits, the lock is free and the new holder's PID replaces the old one
    # (a shorter PID leaves no digits of the longer one behind).
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=30)
    lock_file.write_text("9" * 12)
    fh = index_lock(str(inst))
    try:
        assert lock_file.read_text() == str(os.getpid())
    finally:
        fh.close()


# --- prune vs. the same photo uploaded again ------------------------------------------------


def jpeg(tmp_path: Path) -> bytes:
    path = tmp_path / "p.jpg"
    pattern((320, 240), seed=5).save(path, "JPEG", quality=90)
    return path.read_bytes()


def receive(app: Any, data: bytes) -> upload_store.Received:
    engine = make_engine(app.config["DATABASE_URL"])
    try:
        with Session(engine) as s:
            return upload_store.receive(
                s,
                app.config["INSTANCE_PATH"],
                data,
                "again.jpg",
                max_bytes=10_000_000,
                max_pixels=int(app.config["MAX_IMAGE_PIXELS"]),
            )
    finally:
        engine.dispose()


def expire(app: Any) -> None:
    """Make every upload 30 days old (the prune below keeps 7 days)."""
    engine = make_engine(app.config["DATABASE_URL"])
    with Session(engine) as s:
        old = upload_store.utcnow() - timedelta(days=30)
        s.execute(update(Upload).values(uploaded_at=old))
        s.commit()
    engine.dispose()


def uploads(app: Any) -> list[Upload]:
    engine = make_engine(app.config["DATABASE_URL"])
    with Session(engine) as s:
        rows = list(s.scalars(select(Upload)))
        s.expunge_all()
    engine.dispose()
    return rows


def pause_after(
    monkeypatch: pytest.MonkeyPatch, module: Any, name: str
) -> tuple[threading.Event, threading.Event]:
    """Make module.name (a real function, still called) stop after its first call until
    `go` is set; `there` is set when it has stopped."""
    there, go = threading.Event(), threading.Event()
    real: Callable[..., Any] = getattr(module, name)
    calls = [0]

    def paused(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        calls[0] += 1
        if calls[0] == 1:
            there.set()
            assert go.wait(30), "the test never let the paused call go on"
        return out

    monkeypatch.setattr(module, name, paused)
    return there, go


class Run(threading.Thread):
    """A thread that keeps its function's result or exception."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.fn, self.result, self.error = fn, None, None

    def run(self) -> None:
        try:
            self.result = self.fn()
        except BaseException as exc:
            self.error = exc

    def outcome(self) -> Any:
        self.join(60)
        assert not self.is_alive(), "the thread is stuck"
        if self.error is not None:
            raise self.error
        return self.result


def prune(app: Any) -> retention.PruneResult:
    return retention.prune(app.config, days=7)


def assert_kept(app: Any, data: bytes) -> None:
    """The photo received last is there: its copy on disk and a fresh row pointing at it."""
    (row,) = uploads(app)
    assert Path(row.path).read_bytes() == data, "the upload's copy was deleted"
    assert row.uploaded_at >= upload_store.utcnow() - timedelta(minutes=5)


def test_a_prune_inside_the_receive_window_does_not_lose_the_photo(make_app, tmp_path, monkeypatch):
    """The upload arrives again, finds its old copy on disk (nothing to write) and, before its
    row is refreshed, a prune deletes the expired row and the copy."""
    app = make_app()
    data = jpeg(tmp_path)
    receive(app, data)
    expire(app)
    there, go = pause_after(monkeypatch, upload_store, "_store")
    again = Run(lambda: receive(app, data))
    again.start()
    assert there.wait(30)
    done = prune(app)  # runs to the end while the receive is paused
    assert done.uploads == 1
    go.set()
    rec = again.outcome()
    assert rec.status == "queued"
    assert_kept(app, data)


def test_a_receive_while_the_prune_deletes_waits_and_restores_the_photo(
    make_app, tmp_path, monkeypatch
):
    """The prune has deleted the indexed upload's rows (its write transaction is open, the
    file still there) when the same photo arrives again."""
    app = make_app()
    data = jpeg(tmp_path)
    receive(app, data)
    index(app, upload_store.uploads_dir(app.config["INSTANCE_PATH"]), source="upload")
    expire(app)
    there, go = pause_after(monkeypatch, retention, "delete_photo")
    pruning = Run(lambda: prune(app))
    pruning.start()
    assert there.wait(30)
    reached, passing = pause_after(monkeypatch, upload_store, "_store")  # only to see it get there
    passing.set()
    again = Run(lambda: receive(app, data))
    again.start()
    assert reached.wait(30)
    time.sleep(0.5)  # the receive is now at its first database write, held by the prune
    go.set()
    assert pruning.outcome().photos_deleted == 1
    rec = again.outcome()
    assert rec.status == "queued" and not rec.duplicate  # indexed again by the worker
    assert_kept(app, data)
    engine = make_engine(app.config["DATABASE_URL"])
    with Session(engine) as s:
        assert s.scalars(select(PhotoPath)).all() == []  # indexed again when the worker runs
    engine.dispose()


def test_an_upload_refreshed_after_the_prunes_read_is_kept(make_app, tmp_path, monkeypatch):
    """The prune has read the expired rows; the photo arrives again before it deletes."""
    app = make_app()
    data = jpeg(tmp_path)
    receive(app, data)
    expire(app)
    there, go = pause_after(monkeypatch, retention, "own_copy")
    pruning = Run(lambda: prune(app))
    pruning.start()
    assert there.wait(30)
    rec = receive(app, data)
    go.set()
    assert pruning.outcome().uploads == 0
    assert rec.duplicate
    assert_kept(app, data)
