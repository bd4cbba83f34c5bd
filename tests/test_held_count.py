"""A search's total from the rows held in memory (atw.query.held_count): class words alone (any
or all, a class in both sources, groups, every threshold), a radius alone and class words within
a radius and dates count as SQL and the Python reference do, on SQLite and PostgreSQL; anything
else is left to SQL, and rows held before a write are not used after it."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from atw.core.engine import make_engine
from atw.core.schema import PhotoClass
from atw.query import class_memory, held_count, plan, plan_photo, search
from atw.query.filters import PhotoFilter, describe
from atw.query.plan import Query
from tests.test_photo_memory import place_filters, radius_filters
from tests.test_query import COCO_CLASSES, IMAGENET, LISBON, module_world, reference, world

pytestmark = pytest.mark.databases


@pytest.fixture(scope="module")
def hworld(tmp_path_factory: pytest.TempPathFactory, module_database: Any) -> Any:
    return module_world(tmp_path_factory.mktemp("held"), module_database, world())


@pytest.fixture
def answered(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """Records what the held rows answered, per search that asked them."""
    seen: list[int | None] = []

    def spy(session: Session, q: Any) -> int | None:
        out = held_count.total(session, q)
        seen.append(out)
        return out

    monkeypatch.setattr(plan, "held_total", spy)
    return seen


def class_filters(n: int) -> list[PhotoFilter]:
    rnd = random.Random(8)
    out = []
    for _ in range(n):
        words = rnd.sample(sorted(set(IMAGENET + COCO_CLASSES)), rnd.randint(1, 3))
        out.append(
            PhotoFilter(
                classes=tuple(words),
                match=rnd.choice(["any", "all"]),
                source=rnd.choice(["any", "any", "imagenet", "coco"]),
                min_score=rnd.choice([None, 0.3, 0.5, 0.5001, 0.555, 0.8]),
                sort=rnd.choice(["newest", "oldest"]),
            )
        )
    return out


def sql_count(s: Session, flt: PhotoFilter) -> int:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plan, "held_total", lambda _s, _q: None)
        return int(s.scalar(Query(s, flt).count()) or 0)


def test_class_words_count_from_the_held_rows_as_sql_and_the_reference(hworld, answered):
    app, root, photos = hworld
    engine = make_engine(app.config["DATABASE_URL"])
    assert class_memory.hold(engine)
    sizes, groups = [], 0
    with Session(engine) as s:
        for flt in class_filters(120):
            want = reference(photos, flt, root)
            q = Query(s, flt)
            groups += any(t.grp is not None for t in q.terms)
            got = q.fast_count(s)
            if q.kind == "none":  # a word in none of the sources: nothing (SQL reads none)
                got = 0 if got is None else got
            assert got == len(want) == sql_count(s, flt), describe(flt)
            page = search.search(s, flt, 1, 2)  # a page shorter than the total: counted
            assert (page.total, page.ids) == (len(want), want[:2]), describe(flt)
            sizes.append(len(want))
    from_memory = [n for n in answered if n is not None]
    assert len(from_memory) > 80 and min(sizes) == 0 and len(set(sizes)) > 8 and groups > 30
    engine.dispose()


def test_a_radius_alone_counts_from_the_held_positions(hworld, answered):
    app, root, photos = hworld
    engine = make_engine(app.config["DATABASE_URL"])
    assert class_memory.hold(engine)
    with Session(engine) as s:
        for flt in radius_filters(60):
            want = reference(photos, flt, root)
            assert Query(s, flt).fast_count(s) == len(want) == sql_count(s, flt), describe(flt)
    assert len(answered) == 60 and None not in answered
    engine.dispose()


def test_class_words_within_a_radius_and_dates_count_from_the_held_rows(hworld, answered):
    """Class words with a radius (and dates): the words' marks within the held positions' photos;
    and the planner's size of the place (plan_photo.place_photos) from the positions too."""
    app, root, photos = hworld
    engine = make_engine(app.config["DATABASE_URL"])
    assert class_memory.hold(engine)
    places = [p for p in place_filters(400) if reference(photos, p, root)][:80]
    rnd = random.Random(9)
    filters = []
    for place in places:  # words of the place's photos, mostly
        inside = set(reference(photos, place, root))
        seen = sorted({lb for p in photos if p.id in inside for lb, _ in p.imagenet + p.coco})
        words = rnd.sample(seen, min(len(seen), rnd.randint(1, 2)))
        if rnd.random() < 0.2:
            words.append(rnd.choice(sorted(set(IMAGENET + COCO_CLASSES))))
        filters.append(
            replace(
                place,
                classes=tuple(words),
                match=rnd.choice(["any", "all"]),
                source=rnd.choice(["any", "any", "imagenet", "coco"]),
                min_score=rnd.choice([None, 0.3, 0.5, 0.555]),
            )
        )
    sizes = []
    with Session(engine) as s:
        for flt in filters:
            want = reference(photos, flt, root)
            q = Query(s, flt)
            got = q.fast_count(s)
            if q.kind == "none":
                got = 0 if got is None else got
            assert got == len(want) == sql_count(s, flt), describe(flt)
            page = search.search(s, flt, 1, 2)
            assert (page.total, page.ids) == (len(want), want[:2]), describe(flt)
            sizes.append(len(want))
        for place in places:
            q = Query(s, replace(place, classes=("person",)))
            held = held_count.place_photos(s, q.flt)
            with pytest.MonkeyPatch.context() as mp:  # SQL's count of the place
                mp.setattr(held_count, "place_photos", lambda _s, _f: None)
                assert held == plan_photo.place_photos(q, 10**6), describe(place)
    assert len(places) == 80 and sum(n is not None for n in answered) > 60
    assert len(set(sizes)) > 4 and sum(n > 0 for n in sizes) > 40
    engine.dispose()


@pytest.mark.parametrize(
    "flt",
    [
        PhotoFilter(classes=("seashore",), folder="/photos"),
        PhotoFilter(classes=("seashore",), lat=LISBON[0], lon=LISBON[1], radius_km=20, folder="/x"),
        PhotoFilter(classes=("person",), min_count=2),
        PhotoFilter(classes=("person",), min_count=2, lat=LISBON[0], lon=LISBON[1], radius_km=20),
        PhotoFilter(classes=("dog", "seashore"), start=date(2014, 1, 1)),
        PhotoFilter(classes=("seashore",), estimated=False),
        PhotoFilter(lat=LISBON[0], lon=LISBON[1], radius_km=20, camera_make="Canon"),
        PhotoFilter(),
    ],
    ids=describe,
)
def test_anything_else_is_left_to_sql(hworld, flt):
    app, _root, _photos = hworld
    engine = make_engine(app.config["DATABASE_URL"])
    assert class_memory.hold(engine)
    with Session(engine) as s:
        assert held_count.total(s, Query(s, flt)) is None
    engine.dispose()


def test_rows_held_before_a_write_are_not_counted_after_it(hworld, answered):
    app, root, photos = hworld
    engine = make_engine(app.config["DATABASE_URL"])
    flt = PhotoFilter(classes=("seashore", "person"), match="all", min_score=0.3)
    assert class_memory.hold(engine)
    with Session(engine) as s:
        before = Query(s, flt).fast_count(s)
    assert before == len(reference(photos, flt, root)) > 0 and answered == [before]
    p = next(p for p in photos if p.id in reference(photos, flt, root))
    where = (PhotoClass.photo_id == p.id, PhotoClass.label == "seashore")
    with engine.connect() as conn:
        old = conn.scalar(select(PhotoClass.score).where(*where))
    with engine.begin() as conn:
        conn.execute(update(PhotoClass).where(*where).values(score=0.01))
    try:
        with Session(engine) as s:
            q = Query(s, flt)
            assert held_count.total(s, q) is None
            assert search.search(s, flt, 1, 1).total == before - 1
    finally:
        with engine.begin() as conn:
            conn.execute(update(PhotoClass).where(*where).values(score=old))
        engine.dispose()
