"""ClassCount held with the class rows (atw.query.class_totals): with no filter, the picker's
counts, the browser's one-class entries and the autocomplete's candidates from them equal SQL's
sums and the photo list's counts at every threshold (on the grid, past the highest score, below
0) and source, on SQLite and PostgreSQL, and are really answered there; a relabelling is never
answered from totals read before it (tests/test_class_memory.py)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from atw.core.engine import make_engine
from atw.query import catalog, class_memory, class_totals, entry_counts, search
from atw.query.filters import PhotoFilter, describe
from tests.test_catalog_counts import class_entries, plain_class_counts
from tests.test_groups import gworld  # noqa: F401 (the fixture)

pytestmark = pytest.mark.databases  # on SQLite and on PostgreSQL (tests/conftest.py)

UNFILTERED = [
    PhotoFilter(min_score=t, source=source)
    for t in (None, 0.0, 0.01, 0.3, 0.5, 0.99, 1.0)
    for source in ("any", "imagenet", "coco")
]
TYPED = ("t", "do", "ca", "be", "s", "tel", "zzz")


def spied(name: str, looked: list[str]) -> Any:
    """Totals' method name, recording each call in looked."""
    real = getattr(class_totals.Totals, name)
    return lambda *a: looked.append(name) or real(*a)


def test_unfiltered_counts_from_the_held_totals_equal_sql(gworld, monkeypatch):  # noqa: F811
    app, _root, photos = gworld
    engine = make_engine(app.config["DATABASE_URL"])
    rows = class_memory.hold(engine)
    assert rows is not None and rows.totals is not None and rows.totals.nbytes
    looked: list[str] = []
    for name in ("photos", "of"):
        monkeypatch.setattr(class_totals.Totals, name, spied(name, looked))
    entries = class_entries(photos)
    held: dict[str, Any] = {}
    with Session(engine) as s:
        for flt in UNFILTERED:
            got = search.class_counts(s, flt)
            assert got == plain_class_counts(s, flt), describe(flt)
            held[repr(flt)] = (got, entry_counts.counts(s, flt, entries))
        for typed in TYPED:
            held[typed] = catalog.complete(s, PhotoFilter(), typed)
    assert looked.count("photos") == len(UNFILTERED)
    assert looked.count("of") >= len(UNFILTERED) + len(TYPED) - 1  # ("zzz": no candidate)
    assert any(held[t] for t in TYPED) and not held["zzz"]
    before = len(looked)
    monkeypatch.setattr(class_memory, "current", lambda session: None)  # SQL's sums
    with Session(engine) as s:
        for flt in UNFILTERED:
            want = (search.class_counts(s, flt), entry_counts.counts(s, flt, entries))
            assert held[repr(flt)] == want, describe(flt)
        for typed in TYPED:
            assert held[typed] == catalog.complete(s, PhotoFilter(), typed), typed
    assert len(looked) == before  # not held: no look at the totals
    engine.dispose()


def test_a_bucket_past_the_highest_reads_zeros_and_one_below_0_every_row(gworld):  # noqa: F811
    app, _root, _photos = gworld
    engine = make_engine(app.config["DATABASE_URL"])
    rows = class_memory.hold(engine)
    assert rows is not None and rows.totals is not None
    totals = rows.totals
    top = totals.above.shape[1] - 1  # the column of zeros
    assert not totals.above[:, top].any() and totals.above[:, 0].all()
    assert totals.photos({"imagenet", "coco"}, top + 5) == {}
    assert totals.photos({"imagenet", "coco"}, -3) == totals.photos({"imagenet", "coco"}, 0)
    key = totals.keys[0]
    assert totals.of([key, ("coco", "no such class")], 0) == {
        key: int(totals.above[0, 0]),
        ("coco", "no such class"): 0,
    }
    engine.dispose()
