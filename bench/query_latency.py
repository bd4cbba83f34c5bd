"""Prints p50/p95 latency of the dashboard's queries over a synthetic 1M-photo index (cached)."""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from atw.core.engine import make_engine
from atw.core.schema import ClassCount, Detection, Label, Photo, PhotoClass
from atw.query import catalog, class_memory, place_counts, search, trip_store
from bench import synthetic_pg
from bench.query_cases import Case, cases
from bench.synthetic_index import DATA_VERSION, build

OUT = Path(__file__).resolve().parent / "out"


# --- measuring ---------------------------------------------------------------------------


def run_case(session: Session, case: Case, flt: Any) -> int:
    if case.kind == "classes":
        return len(search.class_counts(session, flt))
    if case.kind == "catalog":
        return len(catalog.listing(session, flt))
    if case.kind == "complete":
        return len(catalog.complete(session, *flt))
    if case.kind == "places":
        found = place_counts.place_counts(session, flt, limit=1000)
        return sum(c["photos"] for c in found["countries"]) + found["no_country"]
    return search.search(session, flt, 1, 100).total


DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def drop_os_cache() -> bool:
    """Empty the OS page cache (root on Linux; False where it is not allowed)."""
    try:
        os.sync()
        DROP_CACHES.write_text("1\n")
    except OSError:
        return False
    return True


def prewarm(path: Path) -> float:
    """Read the index file once so that the OS page cache holds it (a server that has been
    running a while): the warm runs then measure queries, not the disk. Seconds taken."""
    t = time.perf_counter()
    with path.open("rb", buffering=0) as f:
        while f.read(16 << 20):
            pass
    return time.perf_counter() - t


def p95_of(times: list[float]) -> float:
    times = sorted(times)
    return times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)]


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def trip_ids(engine: Engine) -> list[str]:
    """The ids of the index's trips, computed once (the cache is kept in the index itself)."""
    with Session(engine) as session:
        t = time.perf_counter()
        found = trip_store.current(session)
        took = time.perf_counter() - t
    home = found.home.label if found.home else "-"
    print(f"trips: {len(found.trips)} (home {home}; computed or read in {took:.1f} s)")
    return [t.id for t in found.trips]


def measure(
    engine: Engine, runs: int, seed: int, only: str | None, cold_runs: int
) -> list[tuple[str, ...]]:
    """Per case: warm p50/p95/max over `runs` queries (pooled connections, as the app runs) and
    the p95 of this process's CPU time (all of SQLite's work, none of PostgreSQL's server: on a
    busy machine the wall time also holds the waits for a core), then cold p50/p95 over
    `cold_runs` (a new connection after emptying the OS page cache)."""
    with Session(engine) as session:
        top = session.execute(
            select(ClassCount.source, ClassCount.label, func.sum(ClassCount.photos).label("n"))
            .group_by(ClassCount.source, ClassCount.label)
            .order_by(func.sum(ClassCount.photos).desc())
        ).all()
        total = session.scalar(select(func.count()).select_from(Photo)) or 1
        inet = [r.label for r in top if r.source == "imagenet"]
        coco = [r.label for r in top if r.source == "coco" and r.label != "person"]
        frequent = inet[:10]
        mid = [r.label for r in top if r.source == "imagenet" and 0.01 < r.n / total < 0.05]
        coco_mid = coco[:20]
        print(
            f"classes: {len(top)}; frequent imagenet {frequent[0]!r} in "
            f"{top[0].n / total:.0%} of photos; {len(mid)} mid-frequency (1–5 %) classes"
        )
    trips = trip_ids(engine) if only is None or "trip" in only else []
    # (Asked without emptying it: the warm runs below read the index from the page cache.)
    if cold_runs and not os.access(DROP_CACHES, os.W_OK):
        print("cold: the OS page cache cannot be emptied here: cold = a new connection only")
    chosen = [c for c in cases(frequent, mid[:40], coco_mid, trips) if not only or only in c.name]
    if chosen:  # as a web process after its first minute (any case may read them: a search's
        # total, the autocomplete; loaded in the middle of a measurement they would slow it)
        t = time.perf_counter()
        held = class_memory.hold(engine)
        took = time.perf_counter() - t
        size = f"{len(held.code):,} rows, {held.nbytes / 2**20:.0f} MiB" if held else "none"
        print(
            f"class rows in memory (atw.query.class_memory): {size}, loaded in {took:.1f} s; "
            "the cold runs below keep them (a running server's)"
        )
    drawn = {}
    rows = []
    for case in chosen:  # warm, every case first: the cold runs below empty the caches
        rng = np.random.default_rng(seed)
        drawn[case.name] = filters = [case.filters(rng) for _ in range(runs)]
        times, cpu, sizes = [], [], []
        at = load()
        for flt in filters[:3]:  # warm-up
            with Session(engine) as session:
                run_case(session, case, flt)
        for flt in filters:  # a fresh session per query, as per request
            with Session(engine) as session:
                t, c = time.perf_counter(), time.process_time()
                sizes.append(run_case(session, case, flt))
                times.append((time.perf_counter() - t) * 1000)
                cpu.append((time.process_time() - c) * 1000)
        p95 = p95_of(times)
        rows.append(
            [
                case.name,
                f"{statistics.median(times):.1f}",
                f"{p95:.1f}",
                f"{max(times):.1f}",
                f"{p95_of(cpu):.1f}",
                "-",
                "-",
                f"{statistics.median(sizes):,.0f}",
                f"{at}/{load()}",
                "ok" if p95 <= 50 else "SLOW",
            ]
        )
        print(" | ".join(rows[-1]), flush=True)
    for case, row in zip(chosen, rows, strict=True):
        cold = []
        for flt in drawn[case.name][:cold_runs]:
            engine.dispose()  # a new connection: SQLite's own page cache is empty too
            drop_os_cache()
            with Session(engine) as session:
                t = time.perf_counter()
                run_case(session, case, flt)
                cold.append((time.perf_counter() - t) * 1000)
        if cold:
            row[5:7] = [f"{statistics.median(cold):.0f}", f"{p95_of(cold):.0f}"]
            print(f"cold: {case.name} | {row[5]} | {row[6]}", flush=True)
    return [tuple(r) for r in rows]


def table(rows: list[tuple[str, ...]]) -> Iterator[str]:
    head = (
        "query (count + first page of 100 ids)",
        "p50 ms",
        "p95 ms",
        "max ms",
        "CPU p95",
        "cold p50",
        "cold p95",
        "size",
        "load",
        "",
    )
    yield "| " + " | ".join(head) + " |"
    yield "|" + "|".join("---" for _ in head) + "|"
    for r in rows:
        yield "| " + " | ".join(r) + " |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=1_000_000, help="photos in the synthetic index")
    ap.add_argument("--runs", type=int, default=40, help="runs per query (varied parameters)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--cold-runs",
        type=int,
        default=10,
        help="cold runs per query (the OS page cache emptied and a new connection before each)",
    )
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached index")
    ap.add_argument("--only", help="run only the queries whose name contains this")
    ap.add_argument(
        "--no-prewarm",
        action="store_true",
        help="do not read the SQLite file into the OS page cache before the warm runs",
    )
    ap.add_argument(
        "--database-url",
        help="measure on this PostgreSQL database (postgresql+psycopg://…) instead: the cached "
        "SQLite index is copied there once (bench/synthetic_pg.py), so both hold the same rows",
    )
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"query-{args.n}-s{args.seed}-v{DATA_VERSION}.sqlite"
    took = path.with_suffix(".build-seconds")
    if args.rebuild or not path.exists():
        print(f"building {path.name} ({args.n:,} photos) …")
        secs = build(path, args.n, args.seed)
        took.write_text(f"{secs:.1f}\n")
    else:
        print(f"using cached {path} (--rebuild to rebuild)")
        secs = float(took.read_text()) if took.exists() else float("nan")
    size = path.stat().st_size / 1e9
    print(f"build: {secs:.0f} s ({args.n / secs:,.0f} photos/s), {size:.1f} GB")
    url = f"sqlite:///{path}"
    if args.database_url:
        url = args.database_url
        if args.rebuild or not synthetic_pg.holds(url, path):
            print(f"copying {path.name} into PostgreSQL …")
            secs = synthetic_pg.build(url, path)
            print(f"copy: {secs:.0f} s, {synthetic_pg.size_gb(url):.1f} GB")
        else:
            print(f"using the copy of {path.name} already in that database")
    # Measured through the app's own engine (its pool: warm runs reuse connections and their
    # page cache, as the app does; cold runs start from an empty OS page cache).
    engine = make_engine(url)
    if not args.database_url and not args.no_prewarm:
        print(f"prewarm: {path.name} read into the OS page cache in {prewarm(path):.1f} s")
    with engine.connect() as conn:
        n = conn.scalar(select(func.count()).select_from(Photo.__table__))
        nl = conn.scalar(select(func.count()).select_from(Label.__table__))
        nd = conn.scalar(select(func.count()).select_from(Detection.__table__))
        ns = conn.scalar(select(func.count()).select_from(PhotoClass.__table__))
    print(f"{n:,} photos, {nl:,} labels, {nd:,} detections, {ns:,} summary rows")
    print(f"load average (1 min) at start: {load()} on {os.cpu_count()} cores")
    rows = measure(engine, args.runs, args.seed, args.only, args.cold_runs)
    print()
    for line in table(rows):
        print(line)


if __name__ == "__main__":
    main()
