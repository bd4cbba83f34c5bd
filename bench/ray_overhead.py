"""Prints what the Ray engine costs on one machine: the local pool vs Ray actors on the same photos.

The same photos (the shared COCO128 ones, real models) are indexed into two fresh instances in
one run of this script (after an untimed run over one photo that fills the models' cache):
with the local pool (INDEX_ENGINE=local) and with the Ray engine on a
local Ray instance of as many CPUs as workers (started here and timed apart: a cluster is
started once, not per run). Printed: each run's wall time (models loaded in every worker or
actor, scan, work, writes) and photos/s, and the overhead ratio Ray / local. On one machine
Ray can only add cost (actors, a dataset, results pickled through its object store); it pays
on several machines.

    python bench/ray_overhead.py [-n 128] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.label_throughput import app_config, base_config
from pipelines.run import RunSummary, run_index
from tests.shared_data import SHARED


def one_run(folder: Path, engine: str, workers: int, tmp: Path, models: Path) -> RunSummary:
    config = app_config(
        base_config(tmp / engine, models)
        | {"INDEX_ENGINE": engine, "INDEX_WORKERS": workers, "INDEX_TWO_PHASE": "never"}
    )
    return run_index([str(folder)], config, progress=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-n", type=int, default=128, help="photos (the shared COCO128 set has 128)")
    ap.add_argument("--workers", type=int, default=2, help="local workers and Ray CPUs/actors")
    args = ap.parse_args()
    files = sorted((SHARED / "photos" / "coco128").rglob("*.jpg"))[: args.n]
    if not files:
        raise SystemExit(f"no photos under {SHARED / 'photos' / 'coco128'}")
    folder = Path(tempfile.mkdtemp(prefix="atw-ray-photos-"))
    tmp = Path(tempfile.mkdtemp(prefix="atw-ray-"))
    models = Path(__file__).resolve().parent / "out" / "models"
    try:
        for f in files:  # read once: a warm page cache for both runs
            (folder / f.name).symlink_to(f)
            f.read_bytes()
        # Untimed: a first run fills the models' cache (the classifier's ONNX copy) for both.
        warm = Path(tempfile.mkdtemp(prefix="atw-ray-warm-", dir=tmp))
        (warm / files[0].name).symlink_to(files[0])
        one_run(warm, "local", 1, tmp / "warm", models)
        local = one_run(folder, "local", args.workers, tmp, models)

        import ray

        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        t = time.monotonic()
        ray.init(
            num_cpus=args.workers,
            include_dashboard=False,
            log_to_driver=False,
        )
        ray_start = time.monotonic() - t
        try:
            on_ray = one_run(folder, "ray", args.workers, tmp, models)
        finally:
            ray.shutdown()
        n = len(files)
        assert local.indexed == on_ray.indexed, (local.line(), on_ray.line())
        print(f"\n{n} COCO128 photos, real models, {args.workers} workers / actors")
        for name, s in (("local pool", local), ("Ray", on_ray)):
            print(
                f"{name:<11} {s.seconds:6.1f} s run ({n / s.seconds:5.2f} photos/s), "
                f"{s.work_seconds:6.1f} s of it after the pool opened (the local workers are "
                "ready by then, Ray's actors start inside)"
            )
        print(f"Ray start (once per cluster, not counted above): {ray_start:.1f} s")
        print(
            f"overhead ratio Ray / local: {on_ray.seconds / local.seconds:.2f}x the run's wall "
            f"time, {on_ray.work_seconds / local.work_seconds:.2f}x the pool's"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
