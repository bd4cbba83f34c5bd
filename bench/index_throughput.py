"""Prints metadata + thumbnail throughput (photos/s) of a full index run on phone-size JPEGs."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from atw import create_app
from bench.phone_photos import ensure_phone_photos
from pipelines.run import run_index


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=200, help="number of photos")
    ap.add_argument("--workers", type=int, default=0, help="worker processes (0 = one per core)")
    args = ap.parse_args()
    files = ensure_phone_photos(args.n)
    folder = files[0].parent
    mb = sum(f.stat().st_size for f in files) / len(files) / 1e6
    inst = Path(tempfile.mkdtemp(prefix="atw-bench-"))
    try:
        app = create_app(
            {"INSTANCE_PATH": str(inst), "LABELERS": "", "INDEX_WORKERS": args.workers}
        )
        # Drop the page cache's advantage a little: read all files once, like a warm disk.
        for f in files:
            f.read_bytes()
        s = run_index([str(folder)], app.config, progress=True)
        workers = args.workers or os.cpu_count()
        print(f"\n{s.processed} phone-size JPEGs ({mb:.1f} MB avg, 9–12 MP), {workers} workers")
        print(
            f"metadata + thumbnail: {s.processed / s.work_seconds:.1f} photos/s once the workers"
            f" are up; {s.processed / s.seconds:.1f} photos/s over the whole run "
            f"({s.seconds:.1f} s, including worker start-up)"
        )
        per = {k: 1000 * v / s.processed for k, v in s.stage_seconds.items()}
        print("per photo per core, ms: " + ", ".join(f"{k} {v:.1f}" for k, v in per.items()))
        again = run_index([str(folder)], app.config, progress=False)
        print(f"second run (unchanged tree): {again.seconds:.2f} s, {again.processed} decoded")
    finally:
        shutil.rmtree(inst, ignore_errors=True)


if __name__ == "__main__":
    main()
