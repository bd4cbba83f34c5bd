"""Crash safety: SIGKILL the labelling indexer at many random moments; the index stays whole."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import MODEL_CONFIG, index, need_shared
from tests.photos import pattern, write_jpeg
from tests.snapshot import full_snapshot, photo_count, run_statuses, sqlite_url

pytestmark = pytest.mark.databases  # on SQLite and on PostgreSQL (tests/conftest.py)

ROOT = Path(__file__).resolve().parents[1]
KILLS = int(os.environ.get("ATW_CRASH_KILLS", "20"))
PHOTOS = 300
SEED = 7


def make_archive(root: Path, n: int, size: tuple[int, int] = (640, 480)) -> None:
    """n distinct photos in 6 folders, one broken file, one duplicate content."""
    for i in range(n):
        write_jpeg(
            root / f"d{i % 6}" / f"p{i:03d}.jpg",
            pattern(size, seed=i),
            taken=f"2018:{1 + i % 12:02d}:{1 + i % 28:02d} 10:{i % 60:02d}:00",
            gps=(38.7 + i / 1000, -9.1) if i % 3 == 0 else None,
        )
    (root / "d0" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    write_jpeg(root / "d5" / "copy.jpg", pattern(size, seed=1), taken="2018:02:02 10:01:00")


def thumbs(instance: Path) -> set[str]:
    return {p.name for p in (instance / "thumbs").rglob("*.jpg")}


def thumbs_without_photo(instance: Path, shas: set[str]) -> set[str]:
    return {n.removesuffix(".jpg") for n in thumbs(instance)} - shas


@pytest.mark.slow
def test_sigkill_at_random_moments_with_labels_equals_uninterrupted_run(
    make_app, tmp_path, database
):
    need_shared()
    archive = tmp_path / "photos"
    make_archive(archive, PHOTOS)
    settings = {**MODEL_CONFIG, "INDEX_BATCH_SIZE": 16, "INDEX_WORKERS": 2}

    t0 = time.monotonic()
    reference = make_app(INSTANCE_PATH=str(tmp_path / "ref"), **settings)
    index(reference, archive)
    full_seconds = time.monotonic() - t0
    want = full_snapshot(reference.config["DATABASE_URL"])
    assert len(want["photos"]) == PHOTOS and want["labels"] and want["detections"]

    inst = tmp_path / "killed"
    url = database(inst) or sqlite_url(inst)
    env = {**os.environ, "ATW_INSTANCE_PATH": str(inst), "ATW_DATABASE_URL": url}
    env.update({f"ATW_{k}": str(v) for k, v in settings.items()})
    cmd = [sys.executable, "-m", "flask", "--app", "atw", "index", "--quiet", str(archive)]
    rng = random.Random(SEED)
    kills, moments = 0, []
    # PostgreSQL: half as many (its transactions are the server's; this checks the runs' locks
    # and batches survive a kill there too, at half the suite time)
    kills_wanted = KILLS if url.startswith("sqlite") else max(5, KILLS // 2)
    for i in range(kills_wanted):
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Alternate: a kill after some photos are committed (between batches, or inside the
        # next one), and a kill after a random delay (start-up, scan, a batch's transaction).
        started = time.monotonic()
        deadline = started + 120
        if i % 2 == 0:
            have = photo_count(url)
            target = have + rng.randint(1, max(1, (PHOTOS - have) // 2))
            extra = rng.uniform(0, 0.5)
            while photo_count(url) < target and proc.poll() is None:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            time.sleep(extra)
            moments.append(f"{target}+{extra:.2f}s")
        else:
            delay = rng.uniform(0.2, 6.0)
            while time.monotonic() - started < delay and proc.poll() is None:
                time.sleep(0.01)
            moments.append(f"{delay:.2f}s")
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the indexer and its workers
            kills += 1
        proc.wait()
        if photo_count(url):
            full_snapshot(url)  # integrity, no duplicates, no orphans
        if photo_count(url) >= PHOTOS:
            break  # finished: nothing left to interrupt
    print(f"\n{kills} kills at {moments}; an uninterrupted run takes {full_seconds:.1f} s")
    assert kills >= min(kills_wanted, 5), f"only {kills} kills landed before the index was done"

    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    got = full_snapshot(url)
    assert got == want
    assert thumbs(inst) == thumbs(tmp_path / "ref")
    assert thumbs_without_photo(inst, got["shas"]) == set()
    # A kill mid-write leaves a temporary thumbnail file; the next run removes it.
    assert list((inst / "thumbs").rglob(".tmp-*")) == []
    statuses = [r[0] for r in run_statuses(url)]
    # A kill before the run row is written leaves none; every other kill shows as interrupted.
    assert statuses[-1] == "completed" and "running" not in statuses
    assert 0 < statuses.count("interrupted") <= kills
