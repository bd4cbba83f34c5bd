"""Times from the clock (issue 10): file times are read in an explicit, documented zone
(FILE_TIME_ZONE) and bookkeeping instants are UTC, whatever the indexing machine's TZ."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import index
from tests.photos import pattern, write_jpeg
from tests.test_trust_data import photos_by_name

ROOT = Path(__file__).resolve().parents[1]

SUMMER = 1626352496  # 2021-07-15 12:34:56 UTC
WINTER = 1610712000  # 2021-01-15 12:00:00 UTC


def time_photos(root: Path) -> None:
    write_jpeg(root / "exif.jpg", pattern(seed=1), taken="2019:05:04 10:11:12")
    for name, when, seed in (("summer.jpg", SUMMER, 2), ("winter.jpg", WINTER, 3)):
        path = write_jpeg(root / name, pattern(seed=seed))
        os.utime(path, ns=(when * 10**9, when * 10**9))
    gone = write_jpeg(root / "gone.jpg", pattern(seed=4))
    os.utime(gone, ns=(WINTER * 10**9, WINTER * 10**9))
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")


def test_file_times_in_an_explicit_zone(make_app, tmp_path):
    """The fallback's wall time and offset under a named zone, against values known here (not
    recomputed from the code's own expression): Lisbon is UTC+1 in July, UTC+0 in January."""
    time_photos(tmp_path / "p")
    app = make_app(FILE_TIME_ZONE="Europe/Lisbon")
    index(app, tmp_path / "p")
    got = photos_by_name(app)
    want = {
        "summer.jpg": (datetime(2021, 7, 15, 13, 34, 56), "+01:00", True),
        "winter.jpg": (datetime(2021, 1, 15, 12, 0, 0), "+00:00", True),
        "exif.jpg": (datetime(2019, 5, 4, 10, 11, 12), None, False),
    }
    for name, expected in want.items():
        p = got[name]
        assert (p.taken_at, p.utc_offset, p.time_estimated) == expected, name
    assert json.loads(got["summer.jpg"].exif_json)["time_zone_assumed"] == "Europe/Lisbon"


def test_an_unknown_zone_is_a_clear_error(make_app, tmp_path):
    write_jpeg(tmp_path / "p" / "a.jpg")
    app = make_app(FILE_TIME_ZONE="Mars/Olympus_Mons")
    res = app.test_cli_runner().invoke(args=["index", "--quiet", str(tmp_path / "p")])
    assert (
        res.exit_code != 0 and "FILE_TIME_ZONE" in res.output and "Mars/Olympus_Mons" in res.output
    )


def run_in_zone(tz: str, instance: Path, root: Path, file_zone: str | None) -> dict[str, Any]:
    """Index root twice (gone.jpg removed in between) and write a report, in processes whose
    TZ is tz; returns the rows and the UTC window the processes ran in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATW_")}
    env.update(TZ=tz, ATW_INSTANCE_PATH=str(instance), ATW_LABELERS="", ATW_INDEX_WORKERS="1")
    if file_zone:
        env["ATW_FILE_TIME_ZONE"] = file_zone
    flask = [sys.executable, "-m", "flask", "--app", "atw"]
    before = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    for step in ("first", "second"):
        if step == "second":
            (root / "gone.jpg").unlink()
        done = subprocess.run(
            [*flask, "index", "--quiet", str(root)], env=env, cwd=ROOT, capture_output=True
        )
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    report = instance / "report.html"
    done = subprocess.run(
        [*flask, "report", "--out", str(report)], env=env, cwd=ROOT, capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    after = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=1)
    con = sqlite3.connect(instance / "atw.sqlite")

    def rows(sql: str) -> list[tuple[Any, ...]]:
        return con.execute(sql).fetchall()

    photos = {
        Path(os.fsdecode(path)).name: (taken, off, est, json.loads(extra or "{}"))
        for path, taken, off, est, extra in rows(
            "SELECT CAST(pp.path AS BLOB), p.taken_at, p.utc_offset, p.time_estimated,"
            " p.exif_json FROM photo p JOIN photo_path pp ON pp.photo_id = p.id"
        )
    }
    stamps = {
        "index_run.started_at": [r[0] for r in rows("SELECT started_at FROM index_run")],
        "index_run.finished_at": [r[0] for r in rows("SELECT finished_at FROM index_run")],
        "photo.indexed_at": [r[0] for r in rows("SELECT indexed_at FROM photo")],
        "photo_path.first_seen": [r[0] for r in rows("SELECT first_seen FROM photo_path")],
        "photo_path.missing_since": [
            r[0] for r in rows("SELECT missing_since FROM photo_path WHERE missing_since NOT NULL")
        ],
        "quarantine.seen_at": [r[0] for r in rows("SELECT seen_at FROM quarantine")],
    }
    con.close()
    generated = report.read_text().split("Generated ", 1)[1][:20]
    return {
        "photos": photos,
        "stamps": stamps,
        "generated": generated,
        "window": (before, after),
    }


@pytest.mark.slow
@pytest.mark.parametrize("file_zone", ["Europe/Lisbon", None], ids=["explicit", "local"])
def test_times_do_not_depend_on_the_machines_zone(tmp_path, file_zone):
    results = {}
    for tz in ("America/New_York", "Asia/Kolkata"):
        root = tmp_path / tz.replace("/", "-") / "photos"
        time_photos(root)
        results[tz] = run_in_zone(tz, root.parent / "instance", root, file_zone)

    for tz, res in results.items():
        # Every bookkeeping instant is UTC: inside the window the processes ran in, in UTC.
        lo, hi = res["window"]
        for column, values in res["stamps"].items():
            assert values, column
            for value in values:
                stamp = datetime.fromisoformat(value)
                assert lo <= stamp <= hi, (tz, column, value, lo, hi)
        assert res["generated"].endswith(" UTC"), res["generated"]
        stamp = datetime.strptime(res["generated"][:16], "%Y-%m-%d %H:%M")
        assert lo - timedelta(minutes=1) <= stamp <= hi, (tz, res["generated"])
        # A photo with an EXIF date keeps it as recorded.
        assert res["photos"]["exif.jpg"][:3] == ("2019-05-04 10:11:12.000000", None, 0)

    ny, kolkata = results["America/New_York"]["photos"], results["Asia/Kolkata"]["photos"]
    if file_zone:  # a named zone: the same rows whatever the machine's zone
        assert ny == kolkata
        assert ny["summer.jpg"][:3] == ("2021-07-15 13:34:56.000000", "+01:00", 1)
        assert ny["winter.jpg"][:3] == ("2021-01-15 12:00:00.000000", "+00:00", 1)
        assert ny["summer.jpg"][3]["time_zone_assumed"] == "Europe/Lisbon"
    else:  # "local": each machine's wall time, with its offset: the same instant
        assert ny["summer.jpg"][:3] == ("2021-07-15 08:34:56.000000", "-04:00", 1)
        assert ny["winter.jpg"][:3] == ("2021-01-15 07:00:00.000000", "-05:00", 1)
        assert kolkata["summer.jpg"][:3] == ("2021-07-15 18:04:56.000000", "+05:30", 1)
        assert kolkata["winter.jpg"][:3] == ("2021-01-15 17:30:00.000000", "+05:30", 1)
        assert ny["summer.jpg"][3]["time_zone_assumed"] == "America/New_York"
        assert kolkata["summer.jpg"][3]["time_zone_assumed"] == "Asia/Kolkata"
        for name in ("summer.jpg", "winter.jpg"):
            instants = {utc_of(rows[name]) for rows in (ny, kolkata)}
            assert len(instants) == 1, (name, instants)


def utc_of(row: tuple[Any, ...]) -> datetime:
    taken, offset = datetime.fromisoformat(row[0]), row[1]
    sign = 1 if offset[0] == "+" else -1
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    return taken - sign * timedelta(hours=hours, minutes=minutes)
