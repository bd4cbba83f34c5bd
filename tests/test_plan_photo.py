"""A class or group with estimated=exclude and dates (a trip): the photo found through
ix_photo_sort_time (atw.query.plan_photo) gives the same photos, order and totals as the photo
found by id, on SQLite and PostgreSQL, with estimated photos and a photo without a time."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import case, create_engine, update

from atw.core.group_rows import NO_TIME
from atw.core.group_schema import PhotoGroup
from atw.core.schema import Photo, PhotoClass
from atw.query import plan, plan_photo, search
from atw.query.filters import PhotoFilter
from tests.conftest import fresh_app
from tests.test_query import LISBON, SYDNEY, P, build_world, reference, session_of, world

pytestmark = pytest.mark.databases

START, END = date(2014, 1, 1), date(2017, 12, 31)


@pytest.fixture(scope="module")
def timed(tmp_path_factory: pytest.TempPathFactory, module_database: Any) -> Any:
    """test_query's world, its estimated photos given the filters' classes, and one photo more
    whose time is then removed from the index (NULL taken_at and sort_time, as a photo without
    any time is stored: NO_TIME in photo_group's key); each photo with a position a country by
    its hemisphere."""
    base = tmp_path_factory.mktemp("plan_photo")
    app = fresh_app(base / "instance", DATABASE_URL=module_database(base / "instance"))
    photos = world()
    photos.append(P("no_time", "trip", None, mtime=datetime(2015, 5, 5, 12, 0, 0)))
    for p in photos:
        if p.taken is None:  # est_jun, est_aug, no_time
            p.imagenet, p.coco = (
                [("seashore", 0.6)],
                [("dog", 0.7), ("person", 0.8), ("person", 0.6)],
            )
    build_world(app, base / "photos", photos)
    no_time = photos[-1].id
    engine = create_engine(app.config["DATABASE_URL"])
    with engine.begin() as conn:
        gone = {"taken_at": None, "sort_time": None}
        conn.execute(update(Photo).where(Photo.id == no_time).values(taken_at_utc=None, **gone))
        conn.execute(update(PhotoClass).where(PhotoClass.photo_id == no_time).values(**gone))
        code = case((Photo.lat > 0, "PT"), (Photo.lat <= 0, "AU"), else_=None)
        conn.execute(update(Photo).values(country_code=code))  # as the places stage stores
        conn.execute(
            update(PhotoGroup)
            .where(PhotoGroup.photo_id == no_time)
            .values(taken_at=NO_TIME, sort_time=None)
        )
    engine.dispose()
    return app, base / "photos", photos


TRIP = PhotoFilter(start=START, end=END, estimated=False)
FILTERS = [
    replace(TRIP, classes=("seashore",)),  # one class ("single")
    replace(TRIP, classes=("dog",)),  # a group (photo_group)
    replace(TRIP, classes=("person", "seashore"), sort="oldest"),  # "union"
    replace(TRIP, classes=("person", "dog"), match="all"),  # "probe"
    replace(TRIP, classes=("person",), min_score=0.5, start=None),  # dates: the end only
    replace(TRIP, classes=("person",), min_count=2, min_score=0.2),
]


def found(app: Any, flt: PhotoFilter) -> tuple[list[int], int, list[int], int]:
    """Every id and the total (one page), and two pages of 1 with the total of the count."""
    with session_of(app) as s:
        whole = search.search(s, flt, 1, 1000)
        first, second = (search.search(s, flt, n, 1) for n in (1, 2))
        return whole.ids, whole.total, first.ids + second.ids, first.total


def test_the_sort_index_join_finds_what_the_join_by_id_finds(timed, monkeypatch):
    app, root, photos = timed
    with session_of(app) as s:
        sqlite = s.get_bind().dialect.name == "sqlite"
        kinds = {plan.Query(s, flt).kind for flt in FILTERS}
        sql = str(plan.Query(s, FILTERS[0]).ordered().compile(s.get_bind()))
    assert {"single", "union", "probe"} <= kinds
    assert ("photo.id + " in sql) is sqlite  # SQLite reads the photo from ix_photo_sort_time
    via_index = [found(app, flt) for flt in FILTERS]
    monkeypatch.setattr(plan_photo, "by_sort_index", lambda *a: False)
    by_id = [found(app, flt) for flt in FILTERS]
    est = {p.id for p in photos if p.taken is None}
    for flt, a, b in zip(FILTERS, via_index, by_id, strict=True):
        assert a == b, flt
        ids, total, paged, counted = a
        assert ids == reference(photos, flt, root) and total == len(ids), flt
        assert paged == ids[:2] and counted == total, flt
        assert total >= 2 and not est & set(ids), flt  # the count query ran; no estimated photo
        with_est = found(app, replace(flt, estimated=True))[0]
        assert est & set(with_est), flt  # …that the filter would find without the exclusion


def test_without_dates_or_with_a_place_the_photo_is_read_by_id(timed):
    app, _, _ = timed
    with session_of(app) as s:
        dialect = s.get_bind().dialect.name
    sql_ok = dialect == "sqlite"
    assert plan_photo.by_sort_index(FILTERS[0], dialect, None) is sql_ok
    assert not plan_photo.by_sort_index(replace(FILTERS[0], start=None, end=None), dialect, None)
    assert not plan_photo.by_sort_index(replace(FILTERS[0], estimated=True), dialect, None)
    assert not plan_photo.by_sort_index(replace(FILTERS[0], has_gps=True), dialect, None)
    assert not plan_photo.by_sort_index(replace(FILTERS[0], country=("PT",)), dialect, None)
    assert not plan_photo.by_sort_index(FILTERS[0], dialect, (1.0, 0.0, 0.0))


def test_a_photo_without_a_time_is_found_without_dates_only(timed):
    app, _, photos = timed
    no_time = photos[-1].id
    flt = PhotoFilter(classes=("seashore",))
    ids = found(app, flt)[0]
    assert no_time in ids  # no dates: every photo, the one without a time last
    assert no_time not in found(app, replace(flt, start=START, end=END))[0]


PLACED = [
    PhotoFilter(
        classes=("person",), start=START, end=END, lat=LISBON[0], lon=LISBON[1], radius_km=25
    ),
    PhotoFilter(classes=("dog",), start=START, end=END, lat=SYDNEY[0], lon=SYDNEY[1], radius_km=50),
    PhotoFilter(classes=("seashore", "dog"), start=START, end=END, country=("PT",), sort="oldest"),
    replace(TRIP, classes=("person", "dog"), match="all", country=("AU", "PT")),
    PhotoFilter(
        classes=("person", "dog", "car", "umbrella", "chair"),
        end=END,
        country=("AU",),
        lat=SYDNEY[0],
        lon=SYDNEY[1],
        radius_km=100,
        sort="nearest",
    ),
]


def placed_reference(photos: list[P], flt: PhotoFilter, root: Any) -> list[int]:
    """test_query's reference, with the fixture's countries (by hemisphere); nearest: sorted."""
    country = {p.id: None if p.gps is None else "PT" if p.gps[0] > 0 else "AU" for p in photos}
    ids = reference(photos, replace(flt, country=()), root)
    ids = [i for i in ids if not flt.country or country[i] in flt.country]
    return ids if flt.sort != "nearest" else sorted(ids)


def test_a_place_driving_the_classes_without_the_dates_window_finds_the_same(timed, monkeypatch):
    """Driven by the place (Query._place_first), SQLite leaves the window on sort_time out of
    the statement (plan_photo.window): the same photos, order and totals as with it."""
    app, root, photos = timed
    monkeypatch.setattr(plan.Query, "_place_first", lambda self: True)
    with session_of(app) as s:
        sqlite = s.get_bind().dialect.name == "sqlite"
        assert {plan.Query(s, flt).kind for flt in PLACED} == {"photo"}
        sql = str(plan.Query(s, PLACED[0]).ordered().compile(s.get_bind()))
    assert ("photo.sort_time >=" not in sql) is sqlite and "photo.taken_at >=" in sql
    without = [found(app, flt) for flt in PLACED]
    monkeypatch.setattr(plan_photo, "window", lambda *a: Photo.sort_time)
    with_window = [found(app, flt) for flt in PLACED]
    for flt, a, b in zip(PLACED, without, with_window, strict=True):
        assert a == b, flt
        ids, total, paged, counted = a
        ref = placed_reference(photos, flt, root)
        assert (ids if flt.sort != "nearest" else sorted(ids)) == ref, flt
        assert total == len(ids) >= 2 and paged == ids[:2] and counted == total, flt


def test_a_page_counting_its_matches_in_one_pass_gives_the_same_totals(timed, monkeypatch):
    """plan_photo.page: the page carries count(*) over () on SQLite when its branch joins
    `photo` and the classes are small; the totals and pages equal those of the count query."""
    app, _, _ = timed
    with session_of(app) as s:
        sqlite = s.get_bind().dialect.name == "sqlite"
        q = plan.Query(s, FILTERS[0])
        assert plan_photo.one_pass(q) is sqlite
        assert not plan_photo.one_pass(plan.Query(s, PhotoFilter(classes=("seashore",))))
        assert ("total" in s.execute(plan_photo.page(q, 0, 1)).one()._fields) is sqlite
    filters = [*FILTERS, *PLACED]
    for place_first in (False, True):
        monkeypatch.setattr(plan.Query, "_place_first", lambda self, f=place_first: f)
        monkeypatch.setattr(plan_photo, "ONE_PASS_ROWS", 10**9)
        one = [found(app, flt) for flt in filters]
        monkeypatch.setattr(plan_photo, "ONE_PASS_ROWS", -1)
        two = [found(app, flt) for flt in filters]
        for flt, a, b in zip(filters, one, two, strict=True):
            assert a == b, flt
            ids, total, paged, counted = a
            assert total == len(ids) >= 2 and paged == ids[:2] and counted == total, flt


def test_a_place_driving_bounds_the_one_pass_page_by_its_photos(timed, monkeypatch):
    """With the planner's own choice of the place (Query._place_first counts its photos), the
    page counts in one pass when the place holds at most ONE_PASS_ROWS photos, however many the
    classes hold; the totals equal the count query's."""
    app, _, _ = timed
    monkeypatch.setattr(plan, "PLACE_FIRST_ABOVE", 0)
    flt = PhotoFilter(classes=("person", "dog", "car"), lat=SYDNEY[0], lon=SYDNEY[1], radius_km=50)
    with session_of(app) as s:
        sqlite = s.get_bind().dialect.name == "sqlite"
        q = plan.Query(s, flt)
        assert q.kind == "photo" and 2 <= q.place_photos < sum(t.photos for t in q.terms)
        monkeypatch.setattr(plan_photo, "ONE_PASS_ROWS", q.place_photos)
        assert plan_photo.one_pass(q) is sqlite
        one = found(app, flt)
        monkeypatch.setattr(plan_photo, "ONE_PASS_ROWS", q.place_photos - 1)
        assert not plan_photo.one_pass(q)
    assert one == found(app, flt) and one[1] == len(one[0]) >= 2 and one[3] == one[1]


@pytest.mark.parametrize("sort", ["newest", "oldest"])
def test_a_places_page_on_postgresql_is_sorted_not_walked(timed, monkeypatch, sort):
    """On PostgreSQL a place's page orders by sort_time + 0 seconds (plan_photo.order_key: no
    index walk in sort_time order); the photos and their order are the plain key's, and the
    reference's. SQLite keeps the plain key."""
    app, root, photos = timed
    flt = PhotoFilter(country=("PT",), sort=sort)
    with session_of(app) as s:
        dialect = s.get_bind().dialect.name
        q = plan.Query(s, flt)
        sql = str(q.ordered(0, 100).compile(s.get_bind()))
    assert ("ORDER BY photo.sort_time + " in sql) is (dialect == "postgresql")
    got = found(app, flt)
    monkeypatch.setattr(plan_photo, "order_key", lambda _q, key: key)
    assert got == found(app, flt)
    assert got[0] == placed_reference(photos, flt, root) and got[0]


BY_ID = [
    PhotoFilter(classes=("seashore",), country=("PT",)),
    PhotoFilter(classes=("seashore",), min_score=0.5, lat=LISBON[0], lon=LISBON[1], radius_km=25),
    PhotoFilter(classes=("seashore",), country=("AU", "PT"), estimated=False, sort="oldest"),
    PhotoFilter(classes=("seashore", "valley"), match="any", country=("PT",)),  # not by id
]


@pytest.mark.parametrize("one_pass", [True, False])
def test_a_class_read_in_photo_id_order_finds_what_the_date_index_finds(
    timed, monkeypatch, one_pass
):
    """plan_photo.by_id: without dates, a class joined to its photos (a place) is read from
    photo_class's primary key, in photo id order, for a count and a one-pass page (n > 0 in
    its SQL, SQLite only): the same photos, order and totals as the date index, and the
    reference's."""
    app, root, photos = timed
    monkeypatch.setattr(plan_photo, "ONE_PASS_ROWS", 10**9 if one_pass else -1)
    with session_of(app) as s:
        sqlite = s.get_bind().dialect.name == "sqlite"
        queries = [plan.Query(s, flt) for flt in BY_ID]
        used = [plan_photo.by_id(q, count=True) for q in queries]
        sql = [str(q.count().compile(s.get_bind())) for q in queries]
    assert used == [sqlite, sqlite, sqlite, False]
    assert ["pc.n >" in text for text in sql] == used
    by_id = [found(app, flt) for flt in BY_ID]
    monkeypatch.setattr(plan_photo, "by_id", lambda *a, **k: False)
    by_date = [found(app, flt) for flt in BY_ID]
    for flt, a, b in zip(BY_ID, by_id, by_date, strict=True):
        assert a == b, flt
        ids, total, paged, counted = a
        assert ids == placed_reference(photos, flt, root), flt
        assert total == len(ids) >= 2 and paged == ids[:2] and counted == total, flt
