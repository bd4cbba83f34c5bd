"""The Ray engine (INDEX_ENGINE=ray, pipelines/raypool.py) on a local Ray instance of 2 CPUs: the
same index as the local pool (photos, labels, detections, quarantine with reasons), a file that
crashes its worker and one that hangs it quarantined, the run going on; the command line's
--engine and --address; a killed run resumes to the local pool's index; an actor without the
device LABEL_DEVICE names stops the run with the reason."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.pool import CRASH_ON, WorkerStartupError
from tests import fuzzfiles as ff
from tests.conftest import COCO_DIR, EXIF_DIR, MODEL_CONFIG, fresh_app, index, need_shared
from tests.snapshot import full_snapshot, photo_count, run_statuses, sqlite_url

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
POISON = "poison.jpg"  # crashes the worker that reads it (ATW_TEST_CRASH_ON)
# Keeps its worker busy past FILE_TIMEOUT: 8,000,000 empty chunks read at open, 23 s at the
# 2.9 µs a chunk measured on one machine (3,000,000 were under 8 s on Ray there, once).
SLOW = "slow.png"
SLOW_CHUNKS = 8_000_000
TIMEOUT = 8
CRASHED = "the decoder crashed on this file (worker exit code -11)"
HUNG = f"took longer than FILE_TIMEOUT ({TIMEOUT} s)"


def pick_photos(dest: Path) -> None:
    """14 files: 4 geotagged EXIF photos, 4 COCO photos (people, objects), two shared files that
    are not images (broken, empty), the poisoned copy of a good photo and the slow PNG."""
    need_shared(EXIF_DIR, COCO_DIR)
    with open(EXIF_DIR / "INDEX.csv", newline="") as fh:
        geotagged = [r["file"] for r in csv.DictReader(fh) if r["gps_lat"]][:4]
    dest.mkdir(parents=True)
    for name in [*geotagged, "broken image.JPG", "empty.jpg"]:
        shutil.copy2(EXIF_DIR / name, dest / name)
    coco = sorted(COCO_DIR.rglob("*.jpg"))[:4]
    for f in coco:
        shutil.copy2(f, dest / f.name)
    shutil.copy2(coco[0], dest / POISON)  # a photo the others hold too: only its crash differs
    (dest / SLOW).write_bytes(ff.slow_png(SLOW_CHUNKS))


@pytest.fixture(scope="module")
def ray_instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One local Ray for the module: 2 CPUs, no dashboard, its files in the test's folder;
    stopped at the end. (Ray refuses 127.0.0.1 as a node's address and listens on every
    interface; a local instance of Ray 2.60 asks for its token.) Its workers (and the local
    pool's) crash on POISON."""
    import ray  # the `cluster` extra (in the tested set: requirements.txt)

    os.environ[CRASH_ON] = POISON
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        _temp_dir=str(tmp_path_factory.mktemp("ray")),
        runtime_env={"env_vars": {CRASH_ON: POISON}},
    )
    try:
        yield ray
    finally:
        ray.shutdown()
        os.environ.pop(CRASH_ON, None)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, ray_instance: Any) -> dict[str, Any]:
    """The photos and the index the local pool makes of them (the reference)."""
    tmp = tmp_path_factory.mktemp("ray-engine")
    pick_photos(tmp / "photos")
    config = {
        **MODEL_CONFIG,
        "MODELS_DIR": str(tmp / "models"),
        "FILE_TIMEOUT": TIMEOUT,
        "INDEX_WORKERS": 2,
    }
    app = fresh_app(tmp / "local", **config, INDEX_TWO_PHASE="never")
    summary = index(app, tmp / "photos")
    want = full_snapshot(app.config["DATABASE_URL"])
    quarantine = {Path(p).name: r for p, r in want["quarantine"]}
    assert quarantine[POISON] == CRASHED and quarantine[SLOW] == HUNG, quarantine
    assert set(quarantine) == {POISON, SLOW, "broken image.JPG", "empty.jpg"}
    assert summary.indexed == len(want["photos"]) == 8
    assert want["labels"] and want["detections"]
    return {"tmp": tmp, "photos": tmp / "photos", "config": config, "want": want}


@pytest.mark.parametrize("two_phase", ["never", "always"])
def test_the_ray_engine_makes_the_local_pools_index(
    world: dict[str, Any], ray_instance: Any, two_phase: str
) -> None:
    """On Ray, in one pass and in two phases (a pool of actors per phase): the same photos,
    paths, labels, detections, classes and quarantine (a crashed and a hung worker included)."""
    app = fresh_app(
        world["tmp"] / f"ray-{two_phase}",
        **world["config"],
        INDEX_ENGINE="ray",
        INDEX_TWO_PHASE=two_phase,
    )
    summary = index(app, world["photos"])
    assert full_snapshot(app.config["DATABASE_URL"]) == world["want"]
    assert summary.phases == (2 if two_phase == "always" else 1)
    assert summary.indexed == 8 and summary.quarantined == 4
    # The thumbnails came back inside the results and the run wrote them.
    thumbs = {p.stem for p in (world["tmp"] / f"ray-{two_phase}" / "thumbs").rglob("*.jpg")}
    assert thumbs == {row[0] for row in world["want"]["photos"]}
    assert not list((world["tmp"] / f"ray-{two_phase}" / "thumbs").rglob(".tmp-*"))
    # Nothing left to do: a second run reads no file.
    again = index(app, world["photos"])
    assert again.processed == 0 and again.still_quarantined == 4


def test_a_killed_ray_run_resumes_to_the_local_pools_index(
    world: dict[str, Any], ray_instance: Any
) -> None:
    """`atw index --engine ray --address HOST:PORT PATH` joins that cluster (here the module's
    local Ray); killed once photos are committed, the next run ends at the index the local pool
    makes in one run. --address without the Ray engine is refused."""
    photos = world["tmp"] / "more"
    photos.mkdir()
    for f in sorted(COCO_DIR.rglob("*.jpg"))[4:24]:
        shutil.copy2(f, photos / f.name)
    reference = fresh_app(world["tmp"] / "more-local", **world["config"], INDEX_TWO_PHASE="never")
    index(reference, photos)
    want = full_snapshot(reference.config["DATABASE_URL"])
    n = len(want["photos"])
    assert n == 20 and want["labels"] and want["detections"]

    inst = world["tmp"] / "cli"
    url = sqlite_url(inst)
    address = ray_instance.get_runtime_context().gcs_address
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATW_")}
    env.update({f"ATW_{k}": str(v) for k, v in world["config"].items()})
    env.update(
        ATW_INSTANCE_PATH=str(inst),
        ATW_INDEX_BATCH_SIZE="2",
        ATW_INDEX_TWO_PHASE="never",
        PYTHONPATH=str(ROOT),
        RAY_USAGE_STATS_ENABLED="0",
    )
    base = [sys.executable, "-m", "flask", "--app", "atw", "index", "--quiet"]
    refused = subprocess.run(
        [*base, "--address", address, str(photos)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2 and "use it with --engine ray" in refused.stderr

    cmd = [*base, "--engine", "ray", "--address", address, str(photos)]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600
    while photo_count(url) == 0 and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the run (its actors are the cluster's)
    proc.wait()
    assert 0 < photo_count(url) < n
    full_snapshot(url)  # whole: integrity, no duplicates, no orphans

    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert " photos/s" in done.stdout, done.stdout
    assert full_snapshot(url) == want
    assert [r[0] for r in run_statuses(url)] == ["interrupted", "completed"]


def test_an_actor_without_the_device_it_needs_stops_the_run_with_the_reason(
    tmp_path: Path, ray_instance: Any
) -> None:
    """LABEL_DEVICE=cuda on actors that have no GPU (RAY_GPUS 0: Ray gives them none, and this
    machine has none): the run stops before labelling anything, with the reason the actor's
    worker gave (pipelines.raypool reads it out of Ray's ActorDiedError)."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for f in sorted(COCO_DIR.rglob("*.jpg"))[:2]:
        shutil.copy2(f, photos / f.name)
    config = {**MODEL_CONFIG, "MODELS_DIR": str(tmp_path / "models"), "INDEX_WORKERS": 1}
    app = fresh_app(
        tmp_path / "inst",
        **config,
        INDEX_ENGINE="ray",
        INDEX_TWO_PHASE="never",
        LABEL_DEVICE="cuda",
    )
    with pytest.raises(WorkerStartupError, match="LABEL_DEVICE=cuda: PyTorch sees no CUDA"):
        index(app, photos)
    assert photo_count(sqlite_url(tmp_path / "inst")) == 0
