"""Killing the indexer with SIGKILL mid-run and running it again gives the uninterrupted index."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import index
from tests.photos import pattern, write_jpeg

ROOT = Path(__file__).resolve().parents[1]


def make_archive(root: Path, n: int) -> None:
    for i in range(n):
        write_jpeg(
            root / f"d{i % 4}" / f"p{i:03d}.jpg",
            pattern((1600, 1200), seed=i),
            taken=f"2016:{1 + i % 12:02d}:{1 + i % 28:02d} 10:{i % 60:02d}:00",
        )
    (root / "d0" / "broken.jpg").write_bytes(b"not a jpeg")
    write_jpeg(
        root / "d1" / "copy.jpg", pattern((1600, 1200), seed=0), taken="2016:01:01 10:00:00"
    )  # same content as d0/p000.jpg


def snapshot(db_path: Path) -> dict[str, object]:
    con = sqlite3.connect(db_path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        photos = con.execute(
            "SELECT sha256, bytes, width, height, taken_at, utc_offset, time_estimated, lat, lon "
            "FROM photo ORDER BY sha256"
        ).fetchall()
        paths = con.execute(
            "SELECT pp.path, p.sha256, pp.missing_since IS NULL FROM photo_path pp "
            "JOIN photo p ON p.id = pp.photo_id ORDER BY pp.path"
        ).fetchall()
        quarantine = con.execute("SELECT path, reason FROM quarantine ORDER BY path").fetchall()
        dup = con.execute(
            "SELECT count(*) FROM (SELECT sha256 FROM photo GROUP BY sha256 HAVING count(*) > 1)"
        ).fetchone()[0]
        orphans = con.execute(
            "SELECT count(*) FROM photo WHERE id NOT IN (SELECT photo_id FROM photo_path)"
        ).fetchone()[0]
        return {
            "photos": photos,
            "paths": paths,
            "quarantine": quarantine,
            "dup": dup,
            "orphans": orphans,
        }
    finally:
        con.close()


def thumbs(instance: Path) -> set[str]:
    return {p.name for p in (instance / "thumbs").rglob("*.jpg")}


def photo_count(db_path: Path) -> int:
    if not db_path.exists():
        return 0
    con = sqlite3.connect(db_path, timeout=30)
    try:
        return con.execute("SELECT count(*) FROM photo").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_equals_uninterrupted_run(make_app, tmp_path):
    archive = tmp_path / "photos"
    make_archive(archive, 60)

    reference = make_app(INSTANCE_PATH=str(tmp_path / "ref"))
    index(reference, archive)
    want = snapshot(tmp_path / "ref" / "atw.sqlite")
    assert len(want["photos"]) == 60 and want["dup"] == 0

    inst = tmp_path / "killed"
    env = {
        **os.environ,
        "ATW_INSTANCE_PATH": str(inst),
        "ATW_LABELERS": "",
        "ATW_INDEX_BATCH_SIZE": "5",
        "ATW_INDEX_WORKERS": "2",
    }
    cmd = [sys.executable, "-m", "flask", "--app", "atw", "index", "--quiet", str(archive)]
    kills = 0
    for moment in (10, 25, 40):  # kill after roughly this many photos are committed
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while photo_count(inst / "atw.sqlite") < moment and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the indexer and its workers
            kills += 1
        proc.wait()
        snapshot(inst / "atw.sqlite")  # integrity_check after every kill
    assert kills >= 2, "the run finished before it could be killed: make the archive bigger"

    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    got = snapshot(inst / "atw.sqlite")
    assert got == want
    assert thumbs(inst) == thumbs(tmp_path / "ref")
    con = sqlite3.connect(inst / "atw.sqlite")
    statuses = [r[0] for r in con.execute("SELECT status FROM index_run ORDER BY id")]
    con.close()
    assert statuses[-1] == "completed" and statuses.count("interrupted") == kills
