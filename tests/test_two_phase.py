"""Two-phase index runs: every photo listed (dates, places, thumbnails) before labelling ends; the
dashboard counts the photos not labelled yet; a run killed between or inside the phases resumes
to the index of an uninterrupted one-pass run."""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from atw.core.clock import utcnow
from atw.core.engine import make_engine
from atw.core.schema import Photo, StageDone
from atw.query import unlabelled
from pipelines.run import run_index
from tests.conftest import EXIF_DIR, MODEL_CONFIG, fresh_app, index, need_shared
from tests.photos import pattern, write_jpeg
from tests.snapshot import full_snapshot, photo_count, run_statuses, sqlite_url

ROOT = Path(__file__).resolve().parents[1]
QUARANTINED = {"broken image.JPG", "corrupted_city.JPG", "empty.jpg"}


def pick_photos(dest: Path) -> None:
    """A copy of part of the shared EXIF folder: every sixth file, the first six geotagged ones
    and the three that are quarantined (unreadable, not an image, empty)."""
    need_shared(EXIF_DIR)
    with open(EXIF_DIR / "INDEX.csv", newline="") as fh:
        geotagged = [r["file"] for r in csv.DictReader(fh) if r["gps_lat"]][:6]
    names = sorted(p.name for p in EXIF_DIR.iterdir() if p.name != "INDEX.csv")
    chosen = set(names[::6]) | set(geotagged) | QUARANTINED
    dest.mkdir(parents=True)
    for name in sorted(chosen):
        shutil.copy2(EXIF_DIR / name, dest / name)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The photos, a models cache shared by the module's runs, and the index a one-pass run
    makes of them (the reference every two-phase run must end at)."""
    tmp = tmp_path_factory.mktemp("two-phase")
    pick_photos(tmp / "photos")
    models = {**MODEL_CONFIG, "MODELS_DIR": str(tmp / "models")}
    app = fresh_app(tmp / "ref", **models, INDEX_TWO_PHASE="never")
    summary = index(app, tmp / "photos")
    assert summary.phases == 1
    url = app.config["DATABASE_URL"]
    want = full_snapshot(url)
    with Session(make_engine(url)) as s:
        placed = s.scalar(text("SELECT count(*) FROM photo WHERE country_code IS NOT NULL"))
    assert want["labels"] and want["detections"] and placed >= 3
    assert [Path(q[0]).name for q in want["quarantine"]] == sorted(QUARANTINED)
    return {"tmp": tmp, "photos": tmp / "photos", "models": models, "want": want, "placed": placed}


def without_labels(snap: dict[str, Any]) -> dict[str, Any]:
    """A snapshot as it stands after the listing phase: no labels, no class rows, places only."""
    return {
        **snap,
        "labels": [],
        "detections": [],
        "photo_class": [],
        "class_count": [],
        "stage_done": [r for r in snap["stage_done"] if r[1] == "places"],
    }


@pytest.mark.slow
def test_after_the_first_phase_every_photo_is_listed_and_class_filters_say_how_many_wait(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    want, n = world["want"], len(world["want"]["photos"])
    app = fresh_app(world["tmp"] / "paused", **world["models"], INDEX_TWO_PHASE="always")
    url = app.config["DATABASE_URL"]
    listed, resume, box = threading.Event(), threading.Event(), {}

    def pause() -> None:
        listed.set()
        assert resume.wait(900)

    def run() -> None:
        try:
            box["summary"] = run_index(
                [str(world["photos"])], app.config, progress=True, on_listed=pause
            )
        except BaseException as exc:  # shown by the main thread
            box["error"] = exc
            listed.set()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert listed.wait(900) and "error" not in box, box
        # Between the phases: every photo is listed with its date and place, nothing labelled.
        assert full_snapshot(url) == without_labels(want)
        client = app.test_client()
        body = client.get("/api/photos?per_page=500").get_json()
        assert body["total"] == n and body["unlabelled"] == n
        assert all(p["taken_at"] for p in body["photos"])
        located = [p for p in body["photos"] if (p.get("place") or {}).get("country_code")]
        assert len(located) == world["placed"]
        assert client.get("/api/classes").get_json() == []
        words = f"{n:,} photos are not labelled yet"
        home = client.get("/").get_data(as_text=True)
        assert f'id="unlabelled">{words}</span>' in home
        assert f'id="unlabelled-classes">{words} — class filters cannot see them' in home
        picked = client.get("/?classes=person").get_data(as_text=True)
        assert f'id="unlabelled">{words} — class filters cannot see them</span>' in picked
        assert client.get("/api/photos?classes=person").get_json()["unlabelled"] == n
    finally:
        resume.set()
        thread.join(900)
    assert "error" not in box, box
    # The progress bar shows both phases, each with its photos/s and the time left.
    bars = capsys.readouterr().err.replace("\r", "\n")
    files = len(list(world["photos"].iterdir()))
    for phase, total in (("1/2 listing", files), ("2/2 labelling", n)):
        rate = r"(?:[0-9.]+ photos/s|[0-9.]+s/ photos)"  # (tqdm turns it under 1 photo/s)
        done = rf"{phase}: 100%\|[^|\n]*\| {total}/{total} \[[0-9:]+<00:00, +{rate}\]"
        assert re.search(done, bars), (phase, bars[-2000:])
    summary = box["summary"]
    assert (summary.phases, summary.listed, summary.labelled, summary.indexed) == (2, n, n, n)
    assert summary.relabelled == 0 and "two phases: " in summary.line()
    assert full_snapshot(url) == want
    client = app.test_client()
    assert client.get("/api/photos").get_json()["unlabelled"] == 0
    assert "not labelled yet" not in client.get("/?classes=person").get_data(as_text=True)
    assert client.get("/api/classes").get_json() != []


DRIVER = """
import sys, time
from pathlib import Path
from atw import create_app
from pipelines.run import run_index

def main():
    marker = Path(sys.argv[2])
    def pause():
        marker.write_text("listed")
        time.sleep(3600)
    run_index([sys.argv[1]], create_app().config, progress=False, on_listed=pause)

if __name__ == "__main__":
    main()
"""


def stage_count(url: str, stage: str) -> int:
    if photo_count(url) == 0:
        return 0
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            return len(s.scalars(select(StageDone.photo_id).where(StageDone.stage == stage)).all())
    finally:
        engine.dispose()


def start(cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill_when(proc: subprocess.Popen[bytes], ready: Any, timeout: float = 600) -> bool:
    """SIGKILL the process group once ready() holds; False when the process ended first."""
    deadline = time.monotonic() + timeout
    while not ready() and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    if proc.poll() is not None:
        return False
    os.killpg(proc.pid, signal.SIGKILL)  # the indexer and its workers
    proc.wait()
    return True


@pytest.mark.slow
def test_a_run_killed_inside_and_between_the_phases_resumes_to_the_one_pass_index(
    world: dict[str, Any],
) -> None:
    want, n = world["want"], len(world["want"]["photos"])
    inst = world["tmp"] / "killed"
    url = sqlite_url(inst)
    settings = {**world["models"], "INDEX_TWO_PHASE": "always", "INDEX_BATCH_SIZE": 2}
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATW_")}
    env.update({f"ATW_{k}": str(v) for k, v in settings.items()})
    env.update(ATW_INSTANCE_PATH=str(inst), ATW_INDEX_WORKERS="1", PYTHONPATH=str(ROOT))
    driver = world["tmp"] / "driver.py"
    driver.write_text(DRIVER)
    marker = world["tmp"] / "listed"
    listing = [sys.executable, str(driver), str(world["photos"]), str(marker)]

    # 1. Killed inside the listing phase, once some photos are committed.
    proc = start(listing, env)
    assert kill_when(proc, lambda: photo_count(url) > 0)
    assert 0 < photo_count(url) < n and not marker.exists()
    full_snapshot(url)  # whole: integrity, no duplicates, no orphans

    # 2. The next run lists the rest, and is killed between the phases.
    proc = start(listing, env)
    assert kill_when(proc, marker.exists)
    assert full_snapshot(url) == without_labels(want)

    # 3. The next run (the command line) has no file to list: it labels, and is killed inside
    # the labelling once some photos are labelled.
    cmd = [sys.executable, "-m", "flask", "--app", "atw", "index", "--quiet", str(world["photos"])]
    proc = start(cmd, env)
    assert kill_when(proc, lambda: stage_count(url, "imagenet") > 0)
    assert 0 < stage_count(url, "imagenet") < n
    full_snapshot(url)

    # 4. The last run completes: the index of an uninterrupted one-pass run.
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert full_snapshot(url) == want
    thumbs = {p.name for p in (inst / "thumbs").rglob("*.jpg")}
    assert thumbs == {f"{sha}.jpg" for sha in want["shas"]}
    assert not list((inst / "thumbs").rglob(".tmp-*"))
    statuses = [r[0] for r in run_statuses(url)]
    assert statuses == ["interrupted", "interrupted", "interrupted", "completed"]


@pytest.mark.databases
def test_the_unlabelled_count_equals_the_listed_photos_without_each_stage(
    make_app: Any, tmp_path: Path
) -> None:
    """count_now's three counts against the plain anti-join, with stage rows of unlisted photos
    (an old version of an edited file keeps its rows) and stages missing apart; count's memo
    holds until an index run."""
    for i in range(8):
        write_jpeg(tmp_path / "photos" / f"p{i}.jpg", pattern((64, 48), seed=i))
    app = make_app(LABELERS="")
    index(app, tmp_path / "photos")
    engine = make_engine(app.config["DATABASE_URL"])

    def truth(s: Session, stage: str) -> int:
        done = select(StageDone.photo_id).where(StageDone.stage == stage)
        return len(s.scalars(select(Photo.id).where(Photo.listed, Photo.id.not_in(done))).all())

    def done(pid: int, stage: str) -> StageDone:
        return StageDone(photo_id=pid, stage=stage, model="m", weights_id="w", done_at=utcnow())

    both = ["imagenet", "coco"]
    with Session(engine) as s:
        ids = sorted(s.scalars(select(Photo.id)))
        assert unlabelled.count_now(s, both) == unlabelled.count(s, both) == 8
        assert unlabelled.count_now(s, []) == 0
        s.rollback()
        with s.begin():
            s.add_all([done(pid, "imagenet") for pid in ids[:5]])
            s.add_all([done(pid, "coco") for pid in ids[2:4]])
            s.execute(update(Photo).where(Photo.id.in_([ids[0], ids[7]])).values(listed=False))
        assert (truth(s, "imagenet"), truth(s, "coco")) == (2, 4)
        assert unlabelled.count_now(s, ["imagenet"]) == 2
        assert unlabelled.count_now(s, ["coco"]) == 4
        assert unlabelled.count_now(s, both) == unlabelled.count(s, both) == 4
        s.rollback()
        with s.begin():
            s.execute(delete(StageDone).where(StageDone.photo_id == ids[2]))
        assert unlabelled.count_now(s, both) == 5
        assert unlabelled.count(s, both) == 4  # memoised: no index run since
        s.rollback()
    index(app, tmp_path / "photos")  # a run (even one that changes nothing) renews it
    with Session(engine) as s:
        assert unlabelled.count(s, both) == 5
    client = app.test_client()
    assert client.get("/api/photos").get_json()["unlabelled"] == 0  # LABELERS="": no stage
    engine.dispose()


def test_auto_runs_in_two_phases_above_the_threshold_of_new_files() -> None:
    """INDEX_TWO_PHASE: `auto` above INDEX_TWO_PHASE_MIN new files (re-labels of known photos do
    not count), `always`, `never`; never without labelling stages or new files."""
    from pipelines.planning import Plan
    from pipelines.run import two_phase
    from pipelines.worker import Task

    def plan(new: int, known: int = 0) -> Plan:
        found = Plan()
        found.tasks.extend(Task(f"/p/{i}.jpg", "/p", 1, 1) for i in range(new))
        found.tasks.extend(Task(f"/p/k{i}.jpg", "/p", 1, 1, i + 1, ("coco",)) for i in range(known))
        return found

    specs: Any = ["a labelling stage"]
    auto = {"INDEX_TWO_PHASE": "auto", "INDEX_TWO_PHASE_MIN": 3}
    assert not two_phase(auto, plan(3, known=10), specs)
    assert two_phase(auto, plan(4), specs)
    assert not two_phase(auto, plan(4), [])
    assert two_phase({**auto, "INDEX_TWO_PHASE": "always"}, plan(1), specs)
    assert not two_phase({**auto, "INDEX_TWO_PHASE": "always"}, plan(0, known=5), specs)
    assert not two_phase({**auto, "INDEX_TWO_PHASE": "never"}, plan(100), specs)
