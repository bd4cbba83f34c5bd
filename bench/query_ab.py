"""Prints old vs new plans of the third to seventh rounds of query work: ratios from one run.

Each case is a search (count + first page of 100), the class picker's counts, the class
browser's list (classes, groups, categories) or /api/places' lists, on the cached 1M-photo
synthetic index of bench/query_latency.py, run alternately with the rounds' plans and with them
switched off (the plans before them, on the same index: revision 0009's wider ix_photo_sort_time
stays; the picker and the browser counted in SQL instead of from the class rows held in memory,
atw.query.class_memory, loaded once before; for a "(photo_memory)" case only the radius's
photos (and /api/places' places) from SQL instead of from the held positions; for
"(held_count)" only the total from SQL instead of the held rows; for "(group_tree)" only the
nesting groups by the product instead of the tree's one pass; for "(marks)" only the groups
outside the tree by the product instead of each photo's marks; for "(pick)" each count selecting
the rows afresh; for "(class_totals)" the unfiltered counts summed in SQL instead of held; for
"(dates)" a radius with dates counted, and sized for the planner, in SQL), each
in a fresh session, so that load hits both sides alike. The two sides must find the same answer.
The browser's old side takes over a minute a run: SLOW cases run --slow-rounds pairs, without
warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atw.core.engine import make_engine
from atw.core.schema import Photo
from atw.query import (
    catalog,
    class_memory,
    group_memory,
    held_count,
    photo_memory,
    place_counts,
    plan,
    plan_multi,
    plan_photo,
    recent,
    search,
)
from atw.query.filters import PhotoFilter
from bench.synthetic_index import DATA_VERSION

OUT = Path(__file__).resolve().parent / "out"
PICKER = "the picker's counts "
BROWSER = "the class browser "
PLACES = "/api/places "
LISBON = (38.72, -9.14)


def every_word(terms: list[Any], flt: PhotoFilter) -> list[list[Any]]:
    """terms.word_terms before this round: no word left out."""
    return [[t for t in terms if t.word == i] for i in range(len(flt.classes))]


def whole_place(query: Any, cap: int) -> int:
    """plan_photo.place_photos before this round: the place counted whole."""
    sub = query._photo_branch().with_only_columns(Photo.id).subquery()
    return int(query.session.scalar(select(func.count()).select_from(sub)) or 0)


@contextmanager
def old_plans() -> Iterator[None]:
    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(recent, "page", lambda *a: (None, None)))
        stack.enter_context(mock.patch.object(plan_photo, "by_id", lambda *a, **k: False))
        stack.enter_context(mock.patch.object(plan_photo, "place_photos", whole_place))
        stack.enter_context(mock.patch.object(plan, "word_terms", every_word))
        stack.enter_context(mock.patch.object(plan_multi, "_several", lambda *a: None))
        stack.enter_context(mock.patch.object(class_memory, "held", lambda *a: None))
        stack.enter_context(mock.patch.object(plan, "held_total", lambda *a: None))
        stack.enter_context(mock.patch.object(group_memory, "_walk", lambda *a: None))
        yield


@contextmanager
def sql_positions() -> Iterator[None]:
    """The fifth round off: a radius's photos from SQL (the class rows still from memory)."""
    with mock.patch.object(photo_memory, "answers", lambda _flt: False):
        yield


@contextmanager
def sql_count() -> Iterator[None]:
    """The sixth round's count off: the total from SQL (atw.query.held_count unused)."""
    with mock.patch.object(plan, "held_total", lambda *a: None):
        yield


@contextmanager
def product() -> Iterator[None]:
    """The sixth round's tree off: every group by the sparse product (atw.query.group_tree)."""
    with mock.patch.object(group_memory, "_walk", lambda *a: None):
        yield


@contextmanager
def no_marks() -> Iterator[None]:
    """The seventh round's marks off: the groups outside the tree by the sparse product."""
    none = SimpleNamespace(counts=lambda slots: {}, grps=frozenset())
    with mock.patch.object(group_memory, "_marks", lambda *a: none):
        yield


@contextmanager
def no_pick() -> Iterator[None]:
    """The seventh round's selection kept per request off: each count selects the rows."""
    real = class_memory.Rows.pick

    def afresh(rows: Any, ids: Any) -> Any:
        rows.memo.pop("select", None)
        rows.memo.pop("within", None)
        return real(rows, ids)

    with mock.patch.object(class_memory.Rows, "pick", afresh):
        yield


@contextmanager
def sql_totals() -> Iterator[None]:
    """The seventh round's totals off: ClassCount summed in SQL (no class rows held)."""
    with mock.patch.object(class_memory, "current", lambda _session: None):
        yield


@contextmanager
def sql_dates() -> Iterator[None]:
    """The seventh round's dates off: a radius with dates, its total and its size from SQL."""
    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(plan, "held_total", lambda *a: None))
        stack.enter_context(mock.patch.object(held_count, "place_photos", lambda *a: None))
        yield


OFF = {
    "(photo_memory)": sql_positions,
    "(held_count)": sql_count,
    "(group_tree)": product,
    "(marks)": no_marks,
    "(pick)": no_pick,
    "(class_totals)": sql_totals,
    "(dates)": sql_dates,
}
CASES = {
    "radius 50 km of home, newest first (recent)": PhotoFilter(
        lat=LISBON[0], lon=LISBON[1], radius_km=50.0
    ),
    "a 1–5 % class within 50 km of home (by_id, place_photos)": PhotoFilter(
        classes=("lacewing",), min_score=0.2, lat=LISBON[0], lon=LISBON[1], radius_km=50.0
    ),
    "a country + a 1–5 % class (by_id)": PhotoFilter(
        country=("PT",), classes=("lacewing",), min_score=0.2
    ),
    "cocker spaniel and dog, all (word_terms)": PhotoFilter(
        classes=("cocker spaniel", "dog"), match="all", min_score=0.3
    ),
    "monarch and stop sign, all (_several)": PhotoFilter(
        classes=("monarch", "stop sign"), match="all", min_score=0.3
    ),
    PICKER + "within 20 km of home (class_memory)": PhotoFilter(
        lat=LISBON[0], lon=LISBON[1], radius_km=20.0
    ),
    PICKER + "within 20 km of Paris, ≥ 0.5 (class_memory)": PhotoFilter(
        lat=48.86, lon=2.35, radius_km=20.0, min_score=0.5
    ),
    PICKER + "within 20 km of home (photo_memory)": PhotoFilter(
        lat=LISBON[0], lon=LISBON[1], radius_km=20.0
    ),
    BROWSER + "within 20 km of home (photo_memory)": PhotoFilter(
        lat=LISBON[0], lon=LISBON[1], radius_km=20.0
    ),
    BROWSER + "within 20 km of home (group_memory)": PhotoFilter(
        lat=LISBON[0], lon=LISBON[1], radius_km=20.0
    ),
    PICKER + "within one year (dates, class_memory)": PhotoFilter(
        start=date(2016, 1, 1), end=date(2016, 12, 31)
    ),
    BROWSER + "within one month (dates, group_memory)": PhotoFilter(
        start=date(2016, 3, 1), end=date(2016, 3, 31)
    ),
    "boxer and truck, all: the total (held_count)": PhotoFilter(
        classes=("boxer", "truck"), match="all", min_score=0.3
    ),
    "radius 50 km of home: the total (held_count)": PhotoFilter(
        lat=LISBON[0], lon=LISBON[1], radius_km=50.0
    ),
    BROWSER + "within 20 km of home (group_tree)": PhotoFilter(
        lat=LISBON[0], lon=LISBON[1], radius_km=20.0
    ),
    BROWSER + "within 20 km of home (marks)": PhotoFilter(
        lat=LISBON[0], lon=LISBON[1], radius_km=20.0
    ),
    BROWSER + "within 20 km of home (pick)": PhotoFilter(
        lat=LISBON[0], lon=LISBON[1], radius_km=20.0
    ),
    BROWSER + "with no filter, ≥ 0.5 (class_totals)": PhotoFilter(min_score=0.5),
    PICKER + "with no filter (class_totals)": PhotoFilter(),
    PLACES + "within 20 km of home (photo_memory)": PhotoFilter(
        lat=LISBON[0], lon=LISBON[1], radius_km=20.0
    ),
    "dog within a year and 50 km of home (dates)": PhotoFilter(
        classes=("dog",),
        min_score=0.2,
        start=date(2014, 5, 3),
        end=date(2015, 5, 3),
        lat=LISBON[0],
        lon=LISBON[1],
        radius_km=50.0,
    ),
    "dog within a year and 50 km of Paris (dates)": PhotoFilter(
        classes=("dog",),
        min_score=0.2,
        start=date(2019, 8, 20),
        end=date(2020, 8, 20),
        lat=48.85,
        lon=2.35,
        radius_km=50.0,
    ),
}
SLOW = {BROWSER + "within 20 km of home (group_memory)"}


def run(engine: Any, name: str, flt: PhotoFilter) -> tuple[float, Any]:
    """Milliseconds, and the answer: the total, or the picker's whole list (as a tuple)."""
    with Session(engine) as session:
        t = time.perf_counter()
        if name.startswith(PICKER):
            rows = search.class_counts(session, flt)
            ms = (time.perf_counter() - t) * 1000
            return ms, tuple((r["source"], r["label"], r["photos"]) for r in rows)
        if name.startswith(BROWSER):
            rows = catalog.listing(session, flt)
            ms = (time.perf_counter() - t) * 1000
            return ms, tuple((r["kind"], r["key"], r["name"], r["photos"]) for r in rows)
        if name.startswith(PLACES):
            found = place_counts.place_counts(session, flt, limit=1000)
            ms = (time.perf_counter() - t) * 1000
            lists = [
                (k, *sorted(e.items()))
                for k in ("countries", "regions", "places")
                for e in found[k]
            ]
            return ms, (*lists, ("no_country", found["no_country"]))
        total = search.search(session, flt, 1, 100).total
        return (time.perf_counter() - t) * 1000, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=1_000_000, help="photos in the cached index")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=11, help="old/new pairs per case")
    ap.add_argument("--slow-rounds", type=int, default=2, help="pairs of a SLOW case")
    ap.add_argument("--only", help="only the cases whose name contains this")
    args = ap.parse_args()
    path = OUT / f"query-{args.n}-s{args.seed}-v{DATA_VERSION}.sqlite"
    if not path.exists():
        sys.exit(f"no cached index {path}: build it with bench/query_latency.py -n {args.n}")
    engine = make_engine(f"sqlite:///{path}")
    t = time.perf_counter()
    held = class_memory.hold(engine)  # as a web process, once its first minute is over
    took = time.perf_counter() - t
    if held is not None:
        print(
            f"class rows in memory: {len(held.code):,} "
            f"({held.nbytes / 2**20:.0f} MiB, {took:.1f} s to load)"
        )
    print("| case | old median ms | new median ms | old / new | total |")
    print("|---|---|---|---|---|")
    for name, flt in CASES.items():
        if args.only and args.only not in name:
            continue
        times: dict[str, list[float]] = {"old": [], "new": []}
        totals = set()
        warm = 0 if name in SLOW else 2
        off = next((v for k, v in OFF.items() if k in name), old_plans)
        for i in range((args.slow_rounds if name in SLOW else args.rounds) + warm):
            for side in ("old", "new") if i % 2 else ("new", "old"):
                if side == "old":
                    with off():
                        ms, total = run(engine, name, flt)
                else:
                    ms, total = run(engine, name, flt)
                totals.add(total)
                if i >= warm:
                    times[side].append(ms)
        assert len(totals) == 1, (name, totals)  # the same answer both ways
        old, new = (statistics.median(times[s]) for s in ("old", "new"))
        answer = totals.pop()
        kind = {BROWSER: "entries", PLACES: "rows"}
        what = next((v for k, v in kind.items() if name.startswith(k)), "classes")
        size = f"{len(answer):,} {what}" if isinstance(answer, tuple) else f"{answer:,}"
        print(f"| {name} | {old:.1f} | {new:.1f} | {old / new:.2f}× | {size} |")


if __name__ == "__main__":
    main()
