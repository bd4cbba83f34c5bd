"""PostgreSQL: two real index processes over different roots of one database at the same time.

Both complete, their work overlaps in time, and the index equals the one two sequential runs
make; a third run over a folder containing one of their roots fails at once, naming the run
that holds it (atw.core.locks). SQLite cannot do this (one writer: the instance's file lock).
Two runs starting at once on an index whose class-group rows are stale rebuild them once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete

from atw.core import dialect
from atw.core.engine import derive_groups, make_engine
from atw.core.group_rows import META_KEY
from atw.core.locks import IndexerBusy, run_lock
from atw.core.schema import Meta
from tests.conftest import fresh_app, index
from tests.photos import pattern, write_jpeg
from tests.snapshot import full_snapshot, run_statuses

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = 100  # per root: several seconds of work each on one worker


def make_root(root: Path, first_seed: int) -> None:
    for i in range(PHOTOS):
        write_jpeg(
            root / f"d{i % 3}" / f"p{i:03d}.jpg",
            pattern((800, 600), seed=first_seed + i),
            taken=f"2019:{1 + i % 12:02d}:{1 + i % 28:02d} 10:{i % 60:02d}:00",
            gps=(48.85 + i / 1000, 2.35) if i % 2 == 0 else None,
        )
    # the same content in both roots: one photo with two paths, whichever run writes first
    write_jpeg(root / "shared.jpg", pattern((800, 600), seed=999), taken="2019:05:05 12:00:00")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")


def start(env: dict[str, str], root: Path) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "flask", "--app", "atw", "index", "--quiet", str(root)]
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def environment(instance: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATW_")}
    env.update(
        ATW_INSTANCE_PATH=str(instance),
        ATW_DATABASE_URL=url,
        ATW_LABELERS="",
        ATW_INDEX_WORKERS="1",
        ATW_INDEX_BATCH_SIZE="8",
    )
    return env


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, err = proc.communicate(timeout=600)
    return proc.returncode, out + err


def test_two_runs_on_different_roots_at_once_equal_two_sequential_runs(
    tmp_path: Path, pg_cluster: Any
) -> None:
    photos = tmp_path / "photos"
    a, b = photos / "a", photos / "b"
    make_root(a, 0)
    make_root(b, 1000)
    url = pg_cluster.new_database()
    env = environment(tmp_path / "instance", url)  # one instance folder: one machine

    runs = [start(env, a), start(env, b)]
    deadline = time.monotonic() + 300
    while sum(r[0] == "running" for r in run_statuses(url)) < 2:
        assert time.monotonic() < deadline and all(p.poll() is None for p in runs), [
            finish(p) for p in runs if p.poll() is not None
        ]
        time.sleep(0.05)
    # Both run. A third run over a folder containing a's root is refused at once, naming the
    # holders; so are a's root itself and a folder inside it (the lock alone, in this process).
    code, out = finish(start(env, photos))
    assert code != 0, out
    assert "atw index pid" in out and "holds" in out and f"over {a}" in out, out
    for overlapping in (a, a / "d1", b):
        with pytest.raises(IndexerBusy, match="holds a folder overlapping"):
            run_lock(str(tmp_path / "elsewhere"), url, [str(overlapping)]).close()
    run_lock(str(tmp_path / "elsewhere"), url, [str(photos / "c")]).close()  # a sibling: fine
    assert all(p.poll() is None for p in runs), "the runs ended before the refusals were tested"
    results = [finish(p) for p in runs]
    assert [code for code, _ in results] == [0, 0], results

    rows = run_statuses(url)
    assert [r[0] for r in rows] == ["completed", "completed"], rows
    starts = [_t(r[1]) for r in rows]
    ends = [_t(r[2]) for r in rows]
    assert max(starts) < min(ends), "the two runs did not overlap in time"

    ref = pg_cluster.new_database()
    app = fresh_app(tmp_path / "ref-instance", DATABASE_URL=ref, INDEX_WORKERS=1)
    for root in (a, b):
        index(app, root)
    got, want = full_snapshot(url), full_snapshot(ref)
    assert len(got["photos"]) == 2 * PHOTOS + 1 and len(got["paths"]) == 2 * PHOTOS + 2
    assert len(got["quarantine"]) == 2
    assert got == want
    pg_cluster.drop(url)
    pg_cluster.drop(ref)


def test_two_runs_starting_at_once_rebuild_stale_group_rows_once(pg_cluster: Any) -> None:
    """Both runs hold their roots' locks, not the whole index, so both may find the group rows
    stale (a new vocabulary) at once: each checks and rebuilds under the writers' lock, so one
    rebuilds and the other then finds them current (before, both inserted the vocabulary's
    meta row and one failed with a unique violation)."""
    url = pg_cluster.new_database()
    engine = make_engine(url)
    with engine.begin() as conn:  # the rows follow no vocabulary: as after a new atw
        conn.execute(delete(Meta).where(Meta.key == META_KEY))
    rebuilt: list[bool] = []
    runs = [threading.Thread(target=lambda: rebuilt.append(derive_groups(engine))) for _ in "ab"]
    with engine.connect() as writer, writer.begin():
        dialect.write_lock(writer)  # a third writer's transaction holds the lock meanwhile
        for t in runs:
            t.start()
        time.sleep(1.0)
        assert all(t.is_alive() for t in runs) and rebuilt == [], "did not wait for the lock"
    for t in runs:
        t.join(60)
    assert sorted(rebuilt) == [False, True]
    assert derive_groups(engine) is False
    engine.dispose()
    pg_cluster.drop(url)


def _t(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
