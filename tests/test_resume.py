"""SIGKILL mid-run, metadata only (fast, no models): a re-run gives the uninterrupted index.

tests/test_crash.py does the same 20 times with the real labelling models."""

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
from tests.snapshot import full_snapshot, photo_count, sqlite_url
from tests.test_crash import make_archive, thumbs

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_equals_uninterrupted_run(make_app, tmp_path):
    archive = tmp_path / "photos"
    make_archive(archive, 60, size=(1600, 1200))  # big enough to be killed mid-run

    reference = make_app(INSTANCE_PATH=str(tmp_path / "ref"))
    index(reference, archive)
    want = full_snapshot(sqlite_url(tmp_path / "ref"))  # also checks: no duplicates
    assert len(want["photos"]) == 60

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
        while photo_count(sqlite_url(inst)) < moment and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the indexer and its workers
            kills += 1
        proc.wait()
        full_snapshot(sqlite_url(inst))  # integrity and orphan checks after every kill
    assert kills >= 2, "the run finished before it could be killed: make the archive bigger"

    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    got = full_snapshot(sqlite_url(inst))
    assert got == want
    assert thumbs(inst) == thumbs(tmp_path / "ref")
    con = sqlite3.connect(inst / "atw.sqlite")
    statuses = [r[0] for r in con.execute("SELECT status FROM index_run ORDER BY id")]
    con.close()
    assert statuses[-1] == "completed" and statuses.count("interrupted") == kills
