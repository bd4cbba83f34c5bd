"""The catalogue's counts through their fast paths (atw.query.entry_counts.counts: one statement for
the one-class entries, |A| + |B| - |A and B| for a class in both sources; search.class_counts of
a filter that is only dates: the label index's ranges) against the plain paths they replaced and
against test_groups' reference in Python, over test_groups' real index (an undated photo, a
class in both sources: "tv" / "television"), on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from atw.core import group_rows, vocabulary
from atw.core.engine import make_engine
from atw.core.schema import PhotoClass
from atw.query import catalog, class_memory, entry_counts, group_memory, search
from atw.query.filters import PhotoFilter, describe
from atw.query.plan import Query
from atw.query.terms import allowed_sources, score_conds
from tests.test_groups import gworld, ref  # noqa: F401 (gworld: the fixture)
from tests.test_query import LISBON, P, session_of

V = vocabulary.load()
pytestmark = pytest.mark.databases  # on SQLite and on PostgreSQL (tests/conftest.py)

FILTERS = [
    PhotoFilter(),
    PhotoFilter(min_score=0.5),
    PhotoFilter(min_score=0.355),  # off the ClassCount grid
    PhotoFilter(source="coco"),
    PhotoFilter(source="imagenet", min_score=0.3),
    PhotoFilter(start=date(2014, 6, 1), end=date(2014, 6, 30)),
    PhotoFilter(start=date(2015, 1, 1)),  # from a day on: the undated photo is out
    PhotoFilter(end=date(2015, 12, 31), min_score=0.3),  # up to a day
    PhotoFilter(start=date(2014, 1, 1), end=date(2016, 12, 31), source="coco", min_score=0.6),
    PhotoFilter(lat=LISBON[0], lon=LISBON[1], radius_km=50),
    PhotoFilter(classes=("dog",)),
    PhotoFilter(classes=("person",), min_count=2, min_score=0.3),
]


def class_entries(photos: list[P]) -> list[vocabulary.Entry]:
    """The entries of every class some photo of the world has, two-source ones included."""
    found = {
        e.key: e
        for p in photos
        for source, labels in (("imagenet", p.imagenet), ("coco", p.coco))
        for lb, _ in labels
        if (e := V.class_entry(source, lb)) is not None
    }
    return sorted(found.values(), key=lambda e: e.key)


def test_entry_counts_are_what_the_entry_alone_selects(gworld):  # noqa: F811
    app, root, photos = gworld
    entries = class_entries(photos)
    both = [e for e in entries if e.members["imagenet"] and e.members["coco"]]
    assert "television.n.02" in [e.key for e in both]  # the world's "tv" photo has both
    stored = group_rows.stored_groups().ids
    with session_of(app) as s:
        for flt in FILTERS:
            got = catalog.counts(s, flt, entries)
            inside = set(ref(photos, flt, root))
            for e in entries:
                alone = ref(photos, replace(flt, classes=(e.key,), match="any"), root)
                want = [i for i in alone if i in inside] if flt.classes else alone
                assert got[e.key] == len(want), (describe(flt), e.key)
                if e.key not in stored:  # a class: its one-entry statement (before), the same
                    assert got[e.key] == entry_counts._class_count(s, flt, e), (
                        describe(flt),
                        e.key,
                    )
    assert any(got[e.key] for e in both)


def plain_class_counts(s: Session, flt: PhotoFilter) -> list[dict[str, Any]]:
    """search.class_counts as it was for every filtered case: class rows of the filter's
    photo list, grouped."""
    pc = aliased(PhotoClass, name="cc")
    ids = Query(s, flt).ids().subquery()
    conds = [pc.source.in_(allowed_sources(flt)), *score_conds(pc, flt.min_score, flt.min_count)]
    q = (
        select(pc.source, pc.label, func.count().label("photos"))
        .where(*conds, pc.photo_id.in_(select(ids.c.id)))
        .group_by(pc.source, pc.label)
    )
    out = [{"label": r.label, "source": r.source, "photos": int(r.photos)} for r in s.execute(q)]
    return sorted(out, key=lambda r: (-r["photos"], r["label"], r["source"]))


def test_class_counts_of_dates_equal_the_photo_list_path(gworld):  # noqa: F811
    app, _root, _photos = gworld
    with session_of(app) as s:
        for flt in FILTERS:
            got = search.class_counts(s, flt)
            assert got == plain_class_counts(s, flt), describe(flt)

        # The undated photo's beagle counts without dates and within none.
        def beagles(flt: PhotoFilter) -> int:
            rows = search.class_counts(s, flt)
            return next(r["photos"] for r in rows if r["label"] == "beagle")

        assert beagles(PhotoFilter(min_score=0.05)) == 3  # breed, split_dogs, undated_dog
        assert beagles(PhotoFilter(min_score=0.05, start=date(2000, 1, 1))) == 2
        assert beagles(PhotoFilter(min_score=0.05, end=date(2030, 1, 1))) == 2


def test_the_autocomplete_counts_what_a_click_returns(gworld):  # noqa: F811
    """Each row of the autocomplete (the batched counts) is the count of the filter with the
    row's word as its class word."""
    app, _root, _photos = gworld
    c = app.test_client()
    for q in ("", "&start=2014-06-01&end=2016-12-31", "&min_score=0.5", "&source=coco"):
        for typed in ("t", "do", "ca", "be", "s"):
            rows = c.get(f"/api/classes?q={typed}{q}").get_json()
            for r in rows:
                body = c.get(f"/api/photos?classes={quote(r['label'])}{q}").get_json()
                assert body["total"] == r["photos"], (typed, q, r)
    assert c.get("/api/classes?q=tel").get_json()[0]["key"] == "television.n.02"


HELD_FILTERS = [  # a filter on the photos and min_count 1: groups counted from the held rows
    PhotoFilter(lat=LISBON[0], lon=LISBON[1], radius_km=50),
    PhotoFilter(lat=LISBON[0], lon=LISBON[1], radius_km=3000, min_score=0.0),
    PhotoFilter(has_gps=True, min_score=0.355),  # off the grid
    PhotoFilter(has_gps=True, source="imagenet", min_score=0.05),  # members' sums
    PhotoFilter(has_gps=True, source="imagenet"),
    PhotoFilter(has_gps=True, source="coco", min_score=0.6),
    PhotoFilter(has_gps=True, source="coco"),
    PhotoFilter(has_gps=True, min_score=1.0),
    PhotoFilter(classes=("dog",)),
    PhotoFilter(classes=("dog", "person"), match="all", min_score=0.3),
    PhotoFilter(has_gps=True, start=date(2014, 6, 1), end=date(2016, 12, 31), min_score=0.5),
    PhotoFilter(start=date(2014, 6, 1), end=date(2016, 12, 31), min_score=0.3),  # dates only
    PhotoFilter(start=date(2015, 1, 1), source="imagenet"),  # the undated photo is out
]


def test_group_counts_from_the_held_rows_equal_the_group_rows(gworld, monkeypatch):  # noqa: F811
    """Within a filter on the photos (dates alone too), classes, groups and categories are
    counted from the class rows held in memory (atw.query.group_memory; with no threshold the
    groups that nest from one pass, atw.query.group_tree): the same counts as
    SQL's photo list and photo_group's rows, and as the reference in Python, for every stored
    group, and really answered there."""
    app, root, photos = gworld
    engine = make_engine(app.config["DATABASE_URL"])
    rows = class_memory.hold(engine)
    assert rows is not None  # each photo's rows in the groups' walk order (group_tree)
    assert group_memory._walk(rows, group_rows.stored_groups().version) is not None
    answered: list[int] = []
    real = group_memory.counts
    monkeypatch.setattr(group_memory, "counts", lambda *a: answered.append(1) or real(*a))
    classes_held: list[bool] = []  # search.class_counts answered from memory
    held = class_memory.counts
    monkeypatch.setattr(
        class_memory,
        "counts",
        lambda *a: (out := held(*a), classes_held.append(out is not None))[0],
    )
    stored = group_rows.stored_groups()
    entries = [e for e in V.entries.values() if e.key in stored.ids]
    every = sorted(set(stored.ids.values()))
    seen = both_seen = 0
    classes = class_entries(photos)
    pairs: list[int] = []  # Rows.both: a class in both sources counted in memory
    real_both = class_memory.Rows.both
    monkeypatch.setattr(
        class_memory.Rows, "both", lambda *a: (n := real_both(*a), pairs.append(n))[0]
    )
    with Session(engine) as s:
        for flt in HELD_FILTERS:
            assert search.class_counts(s, flt) == plain_class_counts(s, flt), describe(flt)
            got = entry_counts.counts(s, flt, entries)
            rows = entry_counts._group_counts(s, flt, every)
            assert {e.key: rows.get(stored.ids[e.key], 0) for e in entries} == got, describe(flt)
            inside = set(ref(photos, flt, root))
            some = [e for e in entries if got[e.key]][:25] + [e for e in entries][:5]
            for e in some:
                alone = ref(photos, replace(flt, classes=(e.key,), match="any"), root)
                want = [i for i in alone if i in inside] if flt.classes else alone
                assert got[e.key] == len(want), (describe(flt), e.key)
            seen += sum(map(bool, got.values()))
            few = [e for e in entries if got[e.key]][:20] + entries[:3]  # their columns only
            assert entry_counts.counts(s, flt, few) == {e.key: got[e.key] for e in few}
            one = entry_counts.counts(s, flt, classes)  # classes, two-source ones included
            for e in classes:
                alone = ref(photos, replace(flt, classes=(e.key,), match="any"), root)
                want = [i for i in alone if i in inside] if flt.classes else alone
                assert one[e.key] == len(want), (describe(flt), e.key)
            both_seen += sum(
                one[e.key]
                for e in classes
                if len(e.members["coco"]) == 1 == len(e.members["imagenet"])
            )
    dates = sum(map(entry_counts._only_dates, HELD_FILTERS))  # few entries: SQL's date windows
    assert dates == 2 and len(answered) >= 2 * len(HELD_FILTERS) - dates
    assert classes_held == [True] * len(HELD_FILTERS)
    assert both_seen and pairs and any(pairs)  # "tv" / "television"
    assert seen > 100
    engine.dispose()
