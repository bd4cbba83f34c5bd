"""Prints what a two-phase index run costs and gives: one pass vs two phases over phone-size JPEGs.

The same photos are indexed twice into fresh instances with the real models: in one pass
(INDEX_TWO_PHASE=never: each photo decoded once, labelled as it is read) and in two phases
(always: listed first, thumbnails at the thumbnail's JPEG draft, then decoded again at the
models' draft and labelled). Printed: when every photo is listed (the dashboard shows all of
them), when the run ends, and the workers' seconds per photo per stage in each run: the second
phase's extra read + hash + decode is the price of listing early.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.label_throughput import app_config, base_config
from bench.phone_photos import ensure_phone_photos
from pipelines.run import RunSummary, run_index

STAGES = ("read", "exif", "decode", "thumbnail", "imagenet", "coco")


def one_run(folder: Path, mode: str, workers: int, tmp: Path) -> tuple[RunSummary, float]:
    """(summary, seconds from the start until every photo was listed)."""
    models = Path(__file__).resolve().parent / "out" / "models"
    inst = tmp / mode
    config = app_config(
        base_config(inst, models) | {"INDEX_TWO_PHASE": mode, "INDEX_WORKERS": workers}
    )
    t0 = time.monotonic()
    listed: list[float] = []
    s = run_index(
        [str(folder)], config, progress=False, on_listed=lambda: listed.append(time.monotonic())
    )
    return s, (listed[0] if listed else time.monotonic()) - t0


def per_photo(s: RunSummary, n: int) -> dict[str, float]:
    return {k: 1000 * s.stage_seconds.get(k, 0.0) / n for k in STAGES}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=120, help="phone-size photos")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    files = ensure_phone_photos(args.n)
    folder = Path(tempfile.mkdtemp(prefix="atw-2p-photos-"))
    tmp = Path(tempfile.mkdtemp(prefix="atw-2p-"))
    try:
        for f in files[: args.n]:  # exactly n photos, read once (a warm page cache for both)
            (folder / f.name).symlink_to(f)
            f.read_bytes()
        runs: dict[str, Any] = {}
        for mode in ("never", "always"):
            runs[mode] = one_run(folder, mode, args.workers, tmp)
        n = args.n
        one, _ = runs["never"]
        two, two_listed = runs["always"]
        print(f"\n{n} phone-size JPEGs (9-12 MP), {args.workers} workers, real models")
        print(
            f"one pass:   every photo listed at the end, {one.seconds:.1f} s "
            f"({n / one.seconds:.2f} photos/s)"
        )
        print(
            f"two phases: every photo listed (with places) after {two_listed:.1f} s "
            f"({n / two_listed:.2f} photos/s; {two_listed / one.seconds:.0%} of the one-pass "
            f"run), labelled after {two.seconds:.1f} s ({two.seconds / one.seconds:.2f}x the "
            "one-pass run)"
        )
        print(
            f"            listing {two.listing_seconds:.1f} s, labelling "
            f"{two.labelling_seconds:.1f} s ({n / two.labelling_seconds:.2f} photos/s)"
        )
        a, b = per_photo(one, n), per_photo(two, n)
        print("worker ms per photo (summed over the phases):")
        for k in STAGES:
            print(
                f"  {k:<10} one pass {a[k]:7.1f}   two phases {b[k]:7.1f}   "
                f"extra {b[k] - a[k]:+7.1f}"
            )
        ta, tb = sum(a.values()), sum(b.values())
        print(f"  {'all':<10} one pass {ta:7.1f}   two phases {tb:7.1f}   extra {tb - ta:+7.1f}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
