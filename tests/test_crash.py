"""Crash safety: SIGKILL the labelling indexer at many random moments; the index stays whole."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import MODEL_CONFIG, index, need_shared
from tests.photos import pattern, write_jpeg

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


def full_snapshot(db_path: Path) -> dict[str, object]:
    """Everything an index holds, keyed by content (ids differ between runs)."""
    con = sqlite3.connect(db_path, timeout=30)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []

        def rows(sql: str) -> list[tuple[object, ...]]:
            return con.execute(sql).fetchall()

        snap: dict[str, object] = {
            "photos": rows(
                "SELECT sha256, bytes, format, width, height, orientation, taken_at, utc_offset, "
                "time_estimated, lat, lon, camera_make, camera_model, exif_json, listed, source "
                "FROM photo ORDER BY sha256"
            ),
            "paths": rows(
                "SELECT pp.path, pp.root, p.sha256, pp.size, pp.mtime_ns, "
                "pp.missing_since IS NULL FROM photo_path pp "
                "JOIN photo p ON p.id = pp.photo_id ORDER BY pp.path"
            ),
            "labels": rows(
                "SELECT p.sha256, l.source, l.label, l.score, l.model, l.weights_id, l.taken_at "
                "FROM label l JOIN photo p ON p.id = l.photo_id ORDER BY 1, 2, 3, 4"
            ),
            "detections": rows(
                "SELECT p.sha256, d.label, d.score, d.x0, d.y0, d.x1, d.y1, d.model, d.weights_id "
                "FROM detection d JOIN photo p ON p.id = d.photo_id ORDER BY 1, 2, 3, 4, 5"
            ),
            "stage_done": rows(
                "SELECT p.sha256, s.stage, s.model, s.weights_id FROM stage_done s "
                "JOIN photo p ON p.id = s.photo_id ORDER BY 1, 2"
            ),
            "photo_class": rows(
                "SELECT c.label, c.source, p.sha256, c.taken_at, c.score, c.s2, c.s3, c.s4, "
                "c.s5, c.n FROM photo_class c JOIN photo p ON p.id = c.photo_id ORDER BY 1, 2, 3"
            ),
            "class_count": rows(
                "SELECT source, label, bucket, photos FROM class_count WHERE photos != 0 "
                "ORDER BY 1, 2, 3"
            ),
            "quarantine": rows("SELECT path, reason FROM quarantine ORDER BY path"),
        }
        # No duplicates, no orphans.
        for sql in (
            "SELECT sha256 FROM photo GROUP BY sha256 HAVING count(*) > 1",
            "SELECT path FROM photo_path GROUP BY path HAVING count(*) > 1",
            "SELECT id FROM photo WHERE id NOT IN (SELECT photo_id FROM photo_path)",
            "SELECT id FROM label WHERE photo_id NOT IN (SELECT id FROM photo)",
            "SELECT id FROM detection WHERE photo_id NOT IN (SELECT id FROM photo)",
            "SELECT id FROM photo_path WHERE photo_id NOT IN (SELECT id FROM photo)",
            "SELECT photo_id FROM photo_class WHERE photo_id NOT IN (SELECT id FROM photo)",
            "SELECT photo_id FROM stage_done WHERE photo_id NOT IN (SELECT id FROM photo)",
            "SELECT photo_id, source, label FROM label "
            "GROUP BY photo_id, source, label, score HAVING count(*) > 1",
        ):
            assert rows(sql) == [], sql
        snap["shas"] = {r[0] for r in rows("SELECT sha256 FROM photo")}
        return snap
    finally:
        con.close()


def thumbs(instance: Path) -> set[str]:
    return {p.name for p in (instance / "thumbs").rglob("*.jpg")}


def photo_count(db_path: Path) -> int:
    """Photos committed so far (0 while the database does not exist yet)."""
    if not db_path.exists():
        return 0
    con = sqlite3.connect(db_path, timeout=30)
    try:
        return con.execute("SELECT count(*) FROM photo").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def thumbs_without_photo(instance: Path, shas: set[str]) -> set[str]:
    return {n.removesuffix(".jpg") for n in thumbs(instance)} - shas


@pytest.mark.slow
def test_sigkill_at_random_moments_with_labels_equals_uninterrupted_run(make_app, tmp_path):
    need_shared()
    archive = tmp_path / "photos"
    make_archive(archive, PHOTOS)
    settings = {**MODEL_CONFIG, "INDEX_BATCH_SIZE": 16, "INDEX_WORKERS": 2}

    t0 = time.monotonic()
    reference = make_app(INSTANCE_PATH=str(tmp_path / "ref"), **settings)
    index(reference, archive)
    full_seconds = time.monotonic() - t0
    want = full_snapshot(tmp_path / "ref" / "atw.sqlite")
    assert len(want["photos"]) == PHOTOS and want["labels"] and want["detections"]

    inst = tmp_path / "killed"
    env = {**os.environ, "ATW_INSTANCE_PATH": str(inst)}
    env.update({f"ATW_{k}": str(v) for k, v in settings.items()})
    cmd = [sys.executable, "-m", "flask", "--app", "atw", "index", "--quiet", str(archive)]
    rng = random.Random(SEED)
    kills, moments = 0, []
    for i in range(KILLS):
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
            have = photo_count(inst / "atw.sqlite")
            target = have + rng.randint(1, max(1, (PHOTOS - have) // 2))
            extra = rng.uniform(0, 0.5)
            while photo_count(inst / "atw.sqlite") < target and proc.poll() is None:
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
        if (inst / "atw.sqlite").exists():
            full_snapshot(inst / "atw.sqlite")  # integrity, no duplicates, no orphans
        if photo_count(inst / "atw.sqlite") >= PHOTOS:
            break  # finished: nothing left to interrupt
    print(f"\n{kills} kills at {moments}; an uninterrupted run takes {full_seconds:.1f} s")
    assert kills >= min(KILLS, 5), f"only {kills} kills landed before the index was complete"

    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    got = full_snapshot(inst / "atw.sqlite")
    assert got == want
    assert thumbs(inst) == thumbs(tmp_path / "ref")
    assert thumbs_without_photo(inst, got["shas"]) == set()
    # A kill mid-write leaves a temporary thumbnail file; the next run removes it.
    assert list((inst / "thumbs").rglob(".tmp-*")) == []
    con = sqlite3.connect(inst / "atw.sqlite")
    statuses = [r[0] for r in con.execute("SELECT status FROM index_run ORDER BY id")]
    con.close()
    # A kill before the run row is written leaves none; every other kill shows as interrupted.
    assert statuses[-1] == "completed" and "running" not in statuses
    assert 0 < statuses.count("interrupted") <= kills
