"""Prints the places stage's photos/s over an index of synthetic photos with positions (DB only)."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from atw.core import group_upkeep, vocabulary
from atw.core.derived import geo_columns, photo_class_rows
from atw.core.engine import create_schema, make_engine
from atw.core.schema import Photo, PhotoClass, PhotoPath, StageDone
from bench.synthetic_index import gen_positions
from pipelines import places

OUT = Path(__file__).resolve().parent / "out"
T0 = datetime(2013, 1, 1)


def synthetic_rows(
    rng: np.random.Generator, first: int, n: int, labels: list[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """n photos as the writer leaves them before the places stage: 75 % with a position
    (clustered around cities, as bench/synthetic_index.py), a local time, for some an EXIF
    offset (20 %) or a GPS clock (30 %, a few impossible ones), 3 % estimated times; five
    summary rows each (the stage copies sort_time into them), of `labels` (else made-up names,
    in no class group)."""
    lat, lon = gen_positions(rng, n)
    secs = rng.integers(0, 12 * 365 * 86400, n)
    offsets = rng.choice([-5, -3, 0, 1, 2, 8, 9, 10], n)
    has_exif = rng.random(n) < 0.2
    has_gps = rng.random(n) < 0.3
    estimated = rng.random(n) < 0.03
    out: dict[str, list[dict[str, Any]]] = {"photo": [], "path": [], "summary": []}
    for i in range(n):
        pid = first + i
        taken = T0 + timedelta(seconds=int(secs[i]))
        la = None if np.isnan(lat[i]) else float(lat[i])
        lo = None if np.isnan(lon[i]) else float(lon[i])
        off = int(offsets[i])
        gps_at = taken - timedelta(hours=off, seconds=int(rng.integers(-90, 90)))
        if i % 97 == 0:
            gps_at = gps_at.replace(year=1975)  # before the GPS epoch: falls to the zone
        exif_offset = f"{'-' if off < 0 else '+'}{abs(off):02d}:00" if has_exif[i] else None
        out["photo"].append(
            {
                "id": pid,
                "sha256": f"{pid:064x}",
                "bytes": 1,
                "taken_at": taken,
                "utc_offset": "+00:00" if estimated[i] else None,
                "time_estimated": bool(estimated[i]),
                "offset_source": "none",
                "sort_time": taken,
                "exif_offset": exif_offset,
                "gps_at": gps_at if has_gps[i] else None,
                "lat": la,
                "lon": lo,
                "indexed_at": T0,
                "listed": True,
                **geo_columns(la, lo),
            }
        )
        out["path"].append(
            {
                "photo_id": pid,
                "path": f"/archive/{taken.year}/IMG_{pid:07d}.jpg",
                "root": "/archive",
                "size": 1,
                "mtime_ns": 0,
                "first_seen": T0,
            }
        )
        picked = rng.choice(len(labels) if labels else 1000, 5, replace=False)
        items = [(labels[int(c)] if labels else f"class {int(c)}", 0.5) for c in picked]
        out["summary"] += photo_class_rows(pid, taken, "imagenet", items, taken)
    return out


def build(path: Path, n: int, seed: int, groups: bool = False) -> int:
    """The index before its places stage; with groups, real ImageNet names and their class-group
    rows (the stage then copies a changed sort_time into those too). Returns the group rows."""
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    rng = np.random.default_rng(seed)
    labels = sorted(vocabulary.load().labels["imagenet"]) if groups else None
    with engine.begin() as conn:
        for first in range(1, n + 1, 20_000):
            rows = synthetic_rows(rng, first, min(20_000, n + 1 - first), labels)
            conn.execute(insert(Photo.__table__), rows["photo"])
            conn.execute(insert(PhotoPath.__table__), rows["path"])
            conn.execute(insert(PhotoClass.__table__), rows["summary"])
    written = 0
    if groups:
        with Session(engine) as session:
            written = group_upkeep.rebuild(session)
            session.commit()
    engine.dispose()
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=100_000, help="photos in the index (default 100000)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    ap.add_argument(
        "--groups",
        action="store_true",
        help="real ImageNet names on the photos and their class-group rows (the stage re-times "
        "those too)",
    )
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"places-{args.n}-s{args.seed}{'-groups' if args.groups else ''}.sqlite"
    t = time.perf_counter()
    written = build(path, args.n, args.seed, args.groups)
    print(f"built {path.name}: {args.n:,} photos in {time.perf_counter() - t:.1f} s", end="")
    print(f", {written:,} class-group rows" if args.groups else "")
    print(places.version())

    def bar(total: int) -> Any:
        from tqdm import tqdm

        return tqdm(total=total, desc="places", unit=" photos", dynamic_ncols=True)

    engine = make_engine(f"sqlite:///{path}")
    with Session(engine) as session:
        done = places.run_places(session, bar=None if args.quiet else bar)
        work = done.seconds - done.load_seconds
        print(
            f"places stage: {done.photos:,} photos ({done.with_position:,} with a position) in "
            f"{done.seconds:.1f} s = {done.photos / done.seconds:,.0f} photos/s; "
            f"gazetteer load {done.load_seconds:.1f} s, without it "
            f"{done.photos / work:,.0f} photos/s; CPU {done.cpu_seconds:.1f} s "
            f"({done.photos / done.cpu_seconds:,.0f} photos per CPU second, load included)"
        )
        again = places.run_places(session)
        print(f"second run: {again.photos} photos ({again.seconds * 1000:.0f} ms)")
        redo = places.run_places(session, redo=True)
        print(
            f"--relabel places (gazetteer loaded, its position cache warm): {redo.photos:,} "
            f"photos in {redo.seconds:.1f} s = {redo.photos / redo.seconds:,.0f} photos/s"
        )
        by = session.execute(
            select(Photo.offset_source, func.count()).group_by(Photo.offset_source)
        ).all()
        print("offset_source:", ", ".join(f"{s} {c:,}" for s, c in sorted(by)))
        stamped = session.scalar(select(func.count()).select_from(StageDone))
        print(f"stage_done rows: {stamped:,}")
    engine.dispose()


if __name__ == "__main__":
    main()
