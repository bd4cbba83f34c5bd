"""The listed photos' positions held with the class rows (atw.query.photo_memory): a radius's
photos from them are SQL's, to the photo, on SQLite and PostgreSQL (across the antimeridian,
at a pole, the whole sphere, estimated times left out, with dates on their edges); the class
picker and the class browser within a radius take them from there, and /api/places within a
radius counts their stored places as SQL does; and every change of a position, of listed, of
taken_at, of time_estimated or of a stored place moves summary_version (revisions 0006 and
0011), so positions read before it are never used after it."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from atw.core.derived import geo_columns
from atw.core.engine import make_engine
from atw.core.schema import Photo
from atw.query import catalog, class_memory, photo_memory, place_counts, search
from atw.query.filters import PhotoFilter, describe
from atw.query.plan import Query
from tests.test_class_memory import each_moves_the_version
from tests.test_query import LISBON, SYDNEY, module_world, ref_counts, world

pytestmark = pytest.mark.databases

PLACE_COLUMNS = ("country_code", "region", "place")
PLACES = [  # stored places, a missing part as None (the places stage's rows)
    ("PT", "Lisbon", "Lisbon"),
    ("PT", "Lisbon", "Intendente"),
    ("PT", "Lisbon", None),
    ("PT", None, None),
    ("AU", "New South Wales", "Sydney"),
    ("FJ", "Northern", "Labasa"),
    (None, None, None),
]
CENTRES = [LISBON, SYDNEY, (-17.0, 179.95), (-17.0, -179.99), (89.95, -30.0), (-89.9, 10.0)]


@pytest.fixture(scope="module")
def pworld(tmp_path_factory: pytest.TempPathFactory, module_database: Any) -> Any:
    """test_query's world, with every third photo's time marked estimated (estimated=False
    leaves them out)."""
    app, root, photos = module_world(tmp_path_factory.mktemp("positions"), module_database, world())
    engine = make_engine(app.config["DATABASE_URL"])
    with engine.begin() as conn:
        ids = [p.id for p in photos[::3]]
        conn.execute(update(Photo).where(Photo.id.in_(ids)).values(time_estimated=True))
    engine.dispose()
    return app, root, photos


@pytest.fixture
def within(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Records how many photos each answer from the held positions had."""
    seen: list[int] = []
    real = photo_memory.Positions.within

    def spy(self: photo_memory.Positions, flt: PhotoFilter) -> Any:
        out = real(self, flt)
        seen.append(len(out))
        return out

    monkeypatch.setattr(photo_memory.Positions, "within", spy)
    return seen


def radius_filters(n: int) -> list[PhotoFilter]:
    rnd = random.Random(11)
    out = []
    for _ in range(n):
        lat, lon = rnd.choice(CENTRES)
        lat, lon = lat + rnd.uniform(-0.05, 0.05), lon + rnd.uniform(-0.05, 0.05)
        lat, lon = max(-90.0, min(90.0, lat)), (lon + 180.0) % 360.0 - 180.0
        r = rnd.choice([0.5, 5, 20, 50, 300, 3000, 20037.5])
        out.append(PhotoFilter(lat=lat, lon=lon, radius_km=r, estimated=rnd.random() < 0.7))
    return out


DATES = [  # the world's photos sit on these days' edges (tests/test_query.py)
    (None, None),
    (date(2014, 6, 1), date(2014, 7, 31)),
    (date(2014, 6, 1), None),
    (None, date(2014, 5, 31)),
    (date(2015, 3, 1), date(2015, 3, 1)),
    (date(2016, 1, 1), date(2017, 12, 31)),
]


def place_filters(n: int) -> list[PhotoFilter]:
    """radius_filters with dates (or none) drawn from DATES."""
    rnd = random.Random(12)
    return [replace(f, start=a, end=b) for f in radius_filters(n) for a, b in [rnd.choice(DATES)]]


def sql_ids(s: Session, flt: PhotoFilter) -> set[int]:
    sub = Query(s, flt).ids().subquery()
    return set(s.scalars(select(sub.c.id)))


def test_a_radius_from_the_held_positions_is_sqls(pworld):
    app, _root, _photos = pworld
    engine = make_engine(app.config["DATABASE_URL"])
    held = class_memory.hold(engine)
    assert held is not None and held.positions is not None
    sizes = []
    assert held.positions.estimated.any() and not held.positions.estimated.all()
    with Session(engine) as s:
        for flt in radius_filters(150):
            assert photo_memory.answers(flt), describe(flt)
            got = held.positions.within(flt)
            assert len(got) == len(set(got.tolist())), describe(flt)  # each photo once
            assert set(got.tolist()) == sql_ids(s, flt), describe(flt)
            sizes.append(len(got))
    assert min(sizes) == 0 and max(sizes) == len(held.positions.ids) and len(set(sizes)) > 5
    engine.dispose()


def test_a_radius_and_dates_from_the_held_positions_are_sqls(pworld):
    app, _root, _photos = pworld
    engine = make_engine(app.config["DATABASE_URL"])
    held = class_memory.hold(engine)
    assert held is not None and held.positions is not None and held.positions.taken is not None
    sizes = []
    with Session(engine) as s:
        for flt in place_filters(150):
            assert held.positions.answers(flt), describe(flt)
            got = held.positions.within(flt)
            assert set(got.tolist()) == sql_ids(s, flt), describe(flt)
            sizes.append((bool(flt.start or flt.end), len(got)))
    dated = [n for d, n in sizes if d]
    assert len(dated) > 100 and min(dated) == 0 and len(set(dated)) > 5
    engine.dispose()


def test_capture_times_sql_compares_otherwise_leave_dates_to_sql(pworld):
    """SQLite compares taken_at as text: a value not in SQLAlchemy's form (written by other
    means) leaves every date test to SQL; PostgreSQL's timestamps are held as they are."""
    app, _root, photos = pworld
    engine = make_engine(app.config["DATABASE_URL"])
    flt = PhotoFilter(lat=LISBON[0], lon=LISBON[1], radius_km=50, start=date(2014, 6, 1))
    p = next(p for p in photos if p.name == "lis_centre")  # taken 2014-06-01 00:00:00
    if engine.dialect.name != "sqlite":
        held = class_memory.hold(engine)
        assert held is not None and held.positions is not None
        assert held.positions.taken is not None and held.positions.answers(flt)
        engine.dispose()
        return
    with engine.begin() as conn:
        old = conn.scalar(text("SELECT taken_at FROM photo WHERE id = :i"), {"i": p.id})
        assert old == "2014-06-01 00:00:00.000000"
        conn.execute(
            text("UPDATE photo SET taken_at = :t WHERE id = :i"), {"t": old[:19], "i": p.id}
        )
    try:
        held = class_memory.hold(engine)
        assert held is not None and held.positions is not None and held.positions.taken is None
        assert not held.positions.answers(flt) and held.positions.answers(replace(flt, start=None))
        with Session(engine) as s:  # SQL's text order: "…00:00:00" < "…00:00:00.000000"
            assert p.id not in sql_ids(s, flt)
            assert search.search(s, flt, 1, 100).total == len(sql_ids(s, flt))
    finally:
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE photo SET taken_at = :t WHERE id = :i"), {"t": old, "i": p.id}
            )
        engine.dispose()


def test_only_a_filter_that_is_only_a_radius_is_answered_from_them():
    r = PhotoFilter(lat=LISBON[0], lon=LISBON[1], radius_km=20)
    assert photo_memory.answers(r)
    assert photo_memory.answers(replace(r, estimated=False, has_gps=True, min_score=0.5))
    assert photo_memory.answers(replace(r, source="coco", sort="nearest"))
    for other in (
        PhotoFilter(),
        replace(r, classes=("dog",)),
        replace(r, folder="/photos/lisbon"),
        replace(r, country=("PT",)),
        replace(r, camera_make="Canon"),
    ):
        assert not photo_memory.answers(other), describe(other)


def test_the_picker_and_the_browser_within_a_radius_use_them(pworld, within):
    app, root, photos = pworld
    engine = make_engine(app.config["DATABASE_URL"])
    assert class_memory.hold(engine)
    flt = PhotoFilter(lat=LISBON[0], lon=LISBON[1], radius_km=20, min_score=0.3)
    with Session(engine) as s:
        assert search.class_counts(s, flt) == ref_counts(photos, flt, root)
        listed = catalog.listing(s, flt)
        # One filter object (one request's): its ids read once, the classes and groups of
        # the listing counted from one selection of the rows (class_memory.Rows.pick).
        assert len(within) == 1 and within[0] > 0
        assert catalog.listing(s, replace(flt)) == listed  # another request's: read again
        assert len(within) == 2
        with pytest.MonkeyPatch.context() as mp:  # the same from SQL's ids
            mp.setattr(photo_memory, "answers", lambda _f: False)
            assert catalog.listing(s, flt) == listed
    assert len(within) == 2
    assert any(r["kind"] == "group" for r in listed)
    engine.dispose()


def test_every_change_of_a_held_column_moves_the_version(pworld):
    app, _root, photos = pworld
    engine = make_engine(app.config["DATABASE_URL"])
    p = next(p for p in photos if p.folder == "lisbon")
    with engine.connect() as conn:
        old = conn.execute(select(Photo).where(Photo.id == p.id)).mappings().one()
    where = Photo.id == p.id
    moved = {"lat": old["lat"] + 0.01, **geo_columns(old["lat"] + 0.01, old["lon"])}
    writes = [
        update(Photo).where(where).values(lat=moved["lat"]),
        update(Photo).where(where).values(lon=old["lon"] + 0.01),
        update(Photo).where(where).values(geo_x=moved["geo_x"]),
        update(Photo).where(where).values(geo_y=moved["geo_y"], geo_z=moved["geo_z"]),
        update(Photo).where(where).values(time_estimated=not old["time_estimated"]),
        update(Photo).where(where).values(taken_at=old["taken_at"] + timedelta(hours=30)),
        update(Photo).where(where).values(country_code="ZZ"),
        update(Photo).where(where).values(region="Elsewhere"),
        update(Photo).where(where).values(place="Nowhere"),
        update(Photo).where(where).values(listed=False),
        update(Photo)
        .where(where)
        .values(
            listed=True,
            time_estimated=old["time_estimated"],
            taken_at=old["taken_at"],
            **{k: old[k] for k in (*PLACE_COLUMNS, "lat", "lon", "geo_x", "geo_y", "geo_z")},
        ),
    ]
    each_moves_the_version(engine, writes)
    engine.dispose()


def test_positions_held_before_a_move_are_not_used_after_it(pworld, within):
    """A photo moved out of the circle: the positions read before are dropped (SQL answers)."""
    app, root, photos = pworld
    engine = make_engine(app.config["DATABASE_URL"])
    flt = PhotoFilter(lat=LISBON[0], lon=LISBON[1], radius_km=20)
    assert class_memory.hold(engine)
    p = next(p for p in photos if p.folder == "lisbon")
    with Session(engine) as s:
        before = search.class_counts(s, flt)
    assert len(within) == 1
    with engine.connect() as conn:
        old = conn.execute(select(Photo.lat, Photo.lon).where(Photo.id == p.id)).one()
    far = {"lat": 0.0, "lon": 0.0, **geo_columns(0.0, 0.0)}
    with engine.begin() as conn:
        conn.execute(update(Photo).where(Photo.id == p.id).values(**far))
    try:
        with Session(engine) as s:
            after = search.class_counts(s, flt)
            assert after == ref_counts([q for q in photos if q.id != p.id], flt, root)
            assert after != before
        assert len(within) == 1  # not from the positions held before
    finally:
        back = {"lat": old.lat, "lon": old.lon, **geo_columns(old.lat, old.lon)}
        with engine.begin() as conn:
            conn.execute(update(Photo).where(Photo.id == p.id).values(**back))
        engine.dispose()


def test_places_within_a_radius_from_the_held_positions_are_sqls(pworld, monkeypatch):
    app, _root, photos = pworld
    engine = make_engine(app.config["DATABASE_URL"])
    rnd = random.Random(3)
    with engine.begin() as conn:
        for p in photos:
            place = dict(zip(PLACE_COLUMNS, rnd.choice(PLACES), strict=True))
            conn.execute(update(Photo).where(Photo.id == p.id).values(**place))
    held = class_memory.hold(engine)
    assert held is not None and held.positions is not None and held.positions.places
    assert len(held.positions.places) == len(PLACES)
    answered: list[int] = []
    real = photo_memory.Positions.place_rows
    monkeypatch.setattr(
        photo_memory.Positions, "place_rows", lambda *a: answered.append(1) or real(*a)
    )
    filters = place_filters(60)  # a radius, and dates or none
    with Session(engine) as s:
        got = [place_counts.place_counts(s, flt) for flt in filters]
    assert len(answered) == len(filters)
    monkeypatch.setattr(class_memory, "current", lambda _session: None)  # SQL's GROUP BY
    with Session(engine) as s:
        for flt, answer in zip(filters, got, strict=True):
            assert answer == place_counts.place_counts(s, flt), describe(flt)
    assert len(answered) == len(filters)
    assert sum(g["countries_total"] > 1 and g["no_country"] > 0 for g in got) > 3
    assert sum(g["places_total"] == 0 for g in got) > 3  # circles holding none
    engine.dispose()
