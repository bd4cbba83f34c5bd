"""How long the notebook API takes to build its DataFrames from a synthetic index of N photos.

    .venv/bin/python -m bench.notebook_frames -n 100000

Builds (once, cached in bench/out) the synthetic index of bench/synthetic_index.py, copies it
and stamps the copy at the schema's head (the synthetic index has today's tables but no Alembic
stamp; atw.notebook refuses an unstamped index), then times each call of atw.notebook.Archive
(best of --runs, each in a fresh Archive: no warm session) and prints rows, wall and CPU seconds
and rows per second. Also prints the load average: the figures grow with other load."""

from __future__ import annotations

import argparse
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from atw.core import migrations
from atw.notebook import Archive
from bench.synthetic_index import CITIES, DATA_VERSION, build

OUT = Path(__file__).resolve().parent / "out"


def stamped_copy(source: Path) -> Path:
    """A copy of the synthetic index stamped at the head revision (kept next to it)."""
    target = source.with_name(source.stem + f"-head-{migrations.head()}.sqlite")
    if not target.exists():
        tmp = target.with_suffix(".copying")
        shutil.copyfile(source, tmp)
        engine = create_engine(f"sqlite:///{tmp}")
        with engine.begin() as conn:
            MigrationContext.configure(conn).stamp(migrations.script(), "head")
        engine.dispose()
        tmp.rename(target)
    return target


def timed(path: Path, call: Callable[[Archive], Any], runs: int) -> tuple[int, float, float]:
    """(rows, best wall seconds, best CPU seconds of this process) of call on a fresh Archive,
    over runs (CPU time says less about other load on the machine than wall time)."""
    wall = cpu = float("inf")
    rows = 0
    for _ in range(runs):
        with Archive(path) as archive:
            t, c = time.perf_counter(), time.process_time()
            df = call(archive)
            wall = min(wall, time.perf_counter() - t)
            cpu = min(cpu, time.process_time() - c)
            rows = len(df)
    return rows, wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=100_000, help="photos in the synthetic index")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--chunk", type=int, default=2000, help="Archive's chunk of ids")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    source = OUT / f"query-{args.n}-s{args.seed}-v{DATA_VERSION}.sqlite"
    if not source.exists():
        print(f"building the synthetic index of {args.n:,} photos at {source}")
        build(source, args.n, args.seed)
    path = stamped_copy(source)
    _, lat, lon = CITIES[0]
    calls: list[tuple[str, Callable[[Archive], Any]]] = [
        ("photos()", lambda a: a.photos()),
        ("labels()", lambda a: a.labels()),
        ("detections()", lambda a: a.detections()),
        ("classes()", lambda a: a.classes()),
        ("photos(classes=person)", lambda a: a.photos(classes=["person"])),
        (
            f"photos(lat, lon, radius_km=50) [{CITIES[0][0]}]",
            lambda a: a.photos(lat=lat, lon=lon, radius_km=50),
        ),
        ("per_period('month')", lambda a: a.per_period("month")),
    ]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{args.n:,} photos, chunk {args.chunk}, best of {args.runs}; load average {load}")
    print(f"{'call':44} {'rows':>10} {'wall s':>8} {'CPU s':>7} {'rows/s (wall)':>14}")
    for name, call in calls:

        def chunked(a: Archive, call: Callable[[Archive], Any] = call) -> Any:
            a.chunk = args.chunk
            return call(a)

        rows, wall, cpu = timed(path, chunked, args.runs)
        print(f"{name:44} {rows:>10,} {wall:>8.2f} {cpu:>7.2f} {rows / wall:>14,.0f}", flush=True)


if __name__ == "__main__":
    main()
