"""The summary counts the database keeps with triggers (atw.core.summary_counts): after every kind
of write (index runs and their places stage, relisting, re-timing, re-placing, deleting, an
upload, a prune, the migration that creates them) photo_day_count and place_count equal a GROUP BY
over the listed photos, computed here in Python from the stored rows; and the totals and
/api/places answers read from them equal the plain path's (a count over the matches, a GROUP BY
over the filter's ids). On SQLite and PostgreSQL, over real indexes of written photos."""

from __future__ import annotations

import os
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import delete, func, insert, inspect, select, update
from sqlalchemy.orm import Session

from atw.core import dialect, migrations, summary_counts
from atw.core.engine import create_schema, make_engine
from atw.core.schema import Photo, Upload
from atw.core.summary_counts import UNDATED, PhotoDayCount, PlaceCount
from atw.query import place_counts
from atw.query.filters import PhotoFilter
from atw.query.plan import Query
from atw.services import retention, upload_store, upload_worker
from tests.conftest import fresh_app, index
from tests.photos import pattern, write_jpeg
from tests.uploads import upload_paths, wait_done

pytestmark = pytest.mark.databases  # on SQLite and on PostgreSQL (tests/conftest.py)

LISBON, PORTO = (38.7223, -9.1393), (41.1496, -8.6109)
MADRID, PARIS = (40.4168, -3.7038), (48.8566, 2.3522)
# (name, EXIF time or None: the file's mtime, estimated; position)
SHOTS = [
    ("a", "2019:03:10 08:00:00", LISBON),
    ("b", "2019:03:10 23:59:59", LISBON),
    ("c", "2019:03:11 00:00:00", PORTO),
    ("d", "2019:04:01 10:00:00", MADRID),
    ("e", "2019:05:01 10:00:00", PARIS),
    ("f", "2019:05:02 10:00:00", None),
    ("g", None, LISBON),  # no EXIF time: the file's mtime, time_estimated
    ("h", None, None),
]
MTIME = datetime(2019, 3, 11, 12, 0).timestamp()


def write_shots(root: Path, shots: list[tuple[str, str | None, Any]] = SHOTS) -> None:
    for i, (name, taken, gps) in enumerate(shots):
        path = write_jpeg(root / f"{name}.jpg", pattern((160, 120), seed=i), taken=taken, gps=gps)
        if taken is None:
            os.utime(path, (MTIME, MTIME))


def reference(conn: Any) -> tuple[Counter[Any], Counter[Any]]:
    """(day, estimated) and (country, region, place) counts of the listed photos, in Python."""
    days: Counter[Any] = Counter()
    places: Counter[Any] = Counter()
    q = select(Photo.taken_at, Photo.time_estimated, Photo.country_code, Photo.region, Photo.place)
    for taken, estimated, *place in conn.execute(q.where(Photo.listed.is_(True))):
        days[(taken.date() if taken else UNDATED, bool(estimated))] += 1
        places[tuple(p or "" for p in place)] += 1
    return days, places


def kept(conn: Any) -> tuple[Counter[Any], Counter[Any]]:
    """What the tables hold (every row: a count that fell to 0 must be gone)."""
    days: Counter[Any] = Counter()
    for day, estimated, n in conn.execute(
        select(PhotoDayCount.day, PhotoDayCount.estimated, PhotoDayCount.photos)
    ):
        day = day if isinstance(day, date) else date.fromisoformat(str(day))
        days[(day, bool(estimated))] = n
    t = PlaceCount
    places = Counter(
        {
            (c, r, p): n
            for c, r, p, n in conn.execute(select(t.country_code, t.region, t.place, t.photos))
        }
    )
    return days, places


def assert_kept(url: str) -> tuple[Counter[Any], Counter[Any]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            want, got = reference(conn), kept(conn)
    finally:
        engine.dispose()
    assert got == want
    assert all(n > 0 for table in got for n in table.values())
    return want


@pytest.fixture
def indexed(make_app: Any, tmp_path: Path) -> tuple[Any, Path, str]:
    app = make_app()
    write_shots(tmp_path / "photos")
    summary = index(app, tmp_path / "photos")
    assert summary.indexed == len(SHOTS), summary.errors
    return app, tmp_path / "photos", app.config["DATABASE_URL"]


def test_an_index_run_and_its_places_stage_keep_the_counts(indexed):
    app, root, url = indexed
    days, places = assert_kept(url)
    assert sum(days.values()) == len(SHOTS)
    assert days[(date(2019, 3, 10), False)] == 2 and days[(date(2019, 3, 11), True)] == 2
    # the places stage's updates were counted: Lisbon (a, b, g), Porto (c)
    assert sum(n for (code, _r, _p), n in places.items() if code == "PT") == 4
    assert places[("", "", "")] == 2  # no position
    # A second run: a file gone, one changed (a new version), one added.
    (root / "a.jpg").unlink()
    write_jpeg(root / "b.jpg", pattern((160, 120), seed=99), taken="2019:06:01 10:00:00")
    write_shots(root, [("z", "2020:01:01 00:00:01", PARIS)])
    index(app, root)
    days, _ = assert_kept(url)
    assert days[(date(2019, 6, 1), False)] == 1 and days[(date(2020, 1, 1), False)] == 1


def test_relisting_retiming_replacing_and_deleting_keep_the_counts(indexed):
    _app, _root, url = indexed
    engine = make_engine(url)
    steps = [
        update(Photo).where(Photo.id <= 2).values(listed=False),  # unlisted
        update(Photo).where(Photo.id == 1).values(listed=True),  # listed again
        update(Photo).where(Photo.id == 3).values(taken_at=datetime(2018, 1, 1, 0, 0)),
        update(Photo).where(Photo.id == 4).values(time_estimated=True),
        update(Photo).where(Photo.id == 5).values(taken_at=None),
        update(Photo)
        .where(Photo.id == 6)
        .values(country_code="ES", region="Madrid", place="Madrid"),
        update(Photo).where(Photo.id == 3).values(country_code=None, region=None, place=None),
        update(Photo).values(bytes=Photo.bytes + 1),  # other columns: nothing changes
        update(Photo).where(Photo.id >= 7).values(listed=False, taken_at=datetime(2017, 5, 5)),
    ]
    try:
        for stmt in steps:
            with engine.begin() as conn:
                conn.execute(stmt)
            assert_kept(url)
        with Session(engine) as s:
            for photo in s.scalars(select(Photo).where(Photo.id.in_([1, 2, 8]))):
                retention.delete_photo(s, photo)  # a listed and two unlisted photos
            s.commit()
        assert_kept(url)
        with engine.begin() as conn:
            row = {"sha256": "0" * 64, "bytes": 1, "indexed_at": datetime(2020, 1, 1)}
            conn.execute(insert(Photo).values(**row, listed=True, taken_at=None))
        days, _ = assert_kept(url)
        assert days[(UNDATED, False)] >= 1
        with engine.begin() as conn:
            conn.execute(delete(Photo).where(Photo.sha256 == "0" * 64))
        assert_kept(url)
    finally:
        engine.dispose()


def test_an_upload_and_its_prune_keep_the_counts(make_app, tmp_path):
    app = make_app()
    client = app.test_client()
    write_shots(tmp_path / "up", SHOTS[:3])
    try:
        sent = upload_paths(client, *sorted((tmp_path / "up").glob("*.jpg")))
        done = wait_done(client, [u["id"] for u in sent])
    finally:
        upload_worker.stop_all()
    assert {u["status"] for u in done} == {"done"}, done
    url = app.config["DATABASE_URL"]
    days, _ = assert_kept(url)
    assert sum(days.values()) == 3
    engine = make_engine(url)
    with Session(engine) as s:
        s.execute(update(Upload).values(uploaded_at=upload_store.utcnow() - timedelta(days=30)))
        s.commit()
    engine.dispose()
    assert retention.prune(app.config, days=7).photos_deleted == 3
    days, places = assert_kept(url)
    assert not days and not places


def test_the_migration_creates_and_fills_them_on_an_older_index(indexed):
    _app, _root, url = indexed
    before = assert_kept(url)
    engine = make_engine(url)
    try:
        with dialect.migrating(engine) as conn:
            command.downgrade(migrations.config(conn), "0005")
        with engine.begin() as conn:
            assert not set(summary_counts.TABLES) & set(inspect(conn).get_table_names())
            conn.execute(update(Photo).where(Photo.id == 1).values(listed=False))  # no trigger
        create_schema(engine)  # as `db upgrade` or an index run
        assert migrations.state(engine).current
    finally:
        engine.dispose()
    after = assert_kept(url)
    assert sum(after[0].values()) == sum(before[0].values()) - 1


# --- what the queries read from them: the same answers as the plain path -------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, module_database: Any) -> Any:
    base = tmp_path_factory.mktemp("summary")
    app = fresh_app(base / "instance", DATABASE_URL=module_database(base / "instance"))
    write_shots(base / "photos")
    assert index(app, base / "photos").indexed == len(SHOTS)
    engine = make_engine(app.config["DATABASE_URL"])
    with engine.begin() as conn:  # one unlisted photo, one without a time
        conn.execute(update(Photo).where(Photo.id == 2).values(listed=False))
        conn.execute(update(Photo).where(Photo.id == 6).values(taken_at=None, sort_time=None))
    yield app, engine
    engine.dispose()


DATE_FILTERS = [
    PhotoFilter(),
    PhotoFilter(estimated=False),
    PhotoFilter(start=date(2019, 3, 10)),
    PhotoFilter(end=date(2019, 3, 11)),
    PhotoFilter(start=date(2019, 3, 10), end=date(2019, 3, 10)),
    PhotoFilter(start=date(2019, 3, 11), end=date(2019, 4, 30), estimated=False),
    PhotoFilter(start=date(2019, 6, 1)),
]


@pytest.mark.parametrize("flt", DATE_FILTERS, ids=range(len(DATE_FILTERS)))
def test_the_total_of_a_date_filter_is_the_count_of_its_matches(world, flt):
    _app, engine = world
    with Session(engine) as s:
        q = Query(s, flt)
        fast = q.fast_count(s)
        plain = s.scalar(q.count())
        ids = s.scalars(select(q.ids().subquery().c.id)).all()
    assert fast is not None  # read from photo_day_count
    assert fast == plain == len(ids)


def test_a_filter_with_other_conditions_is_not_read_from_the_days(world):
    _app, engine = world
    with Session(engine) as s:
        for flt in (PhotoFilter(country=("PT",)), PhotoFilter(has_gps=True)):
            assert Query(s, flt).fast_count(s) is None


def old_grouped(session: Session, flt: PhotoFilter) -> list[Any]:
    """The plain path: a GROUP BY over a join of the filter's ids (or every listed photo)."""
    cols = (Photo.country_code, Photo.region, Photo.place)
    q = select(*cols, func.count())
    if flt.is_empty():
        q = q.where(Photo.listed.is_(True))
    else:
        ids = Query(session, flt).ids().subquery()
        q = q.join(ids, ids.c.id == Photo.id)
    return list(session.execute(q.group_by(*cols)))


PLACE_FILTERS = [
    PhotoFilter(),
    PhotoFilter(country=("PT",)),
    PhotoFilter(lat=LISBON[0], lon=LISBON[1], radius_km=400),
    PhotoFilter(start=date(2019, 3, 10), end=date(2019, 4, 30)),
    PhotoFilter(estimated=False),
    PhotoFilter(has_gps=False),
]


@pytest.mark.parametrize("flt", PLACE_FILTERS, ids=range(len(PLACE_FILTERS)))
def test_places_equal_the_plain_path(world, flt, monkeypatch):
    _app, engine = world
    with Session(engine) as s:
        got = place_counts.place_counts(s, flt)
        monkeypatch.setattr(place_counts, "_grouped", old_grouped)
        want = place_counts.place_counts(s, flt)
    assert got == want
    assert sum(c["photos"] for c in got["countries"]) + got["no_country"] > 0


def test_api_places_without_a_filter_counts_every_listed_photo(world):
    app, engine = world
    body = app.test_client().get("/api/places").get_json()
    with engine.connect() as conn:
        listed = conn.scalar(select(func.count()).where(Photo.listed.is_(True)))
    assert sum(c["photos"] for c in body["countries"]) + body["no_country"] == listed


def test_places_without_a_filter_follow_every_write(indexed, monkeypatch):
    """The unfiltered answer is reused while summary_version stays: every counted write
    changes it, so a later call sees the write (against the plain path each time)."""
    _app, _root, url = indexed
    engine = make_engine(url)
    writes = [
        update(Photo).where(Photo.id == 1).values(country_code="ES", region="X", place="Y"),
        update(Photo).where(Photo.id == 2).values(listed=False),
        delete(Photo).where(Photo.id == 3),
    ]
    try:
        for stmt in [None, *writes]:
            if stmt is not None:
                with engine.begin() as conn:
                    conn.execute(stmt)
            with Session(engine) as s:
                got = place_counts.place_counts(s, PhotoFilter(), limit=5)
                again = place_counts.place_counts(s, PhotoFilter(), limit=5)
            with Session(engine) as s, monkeypatch.context() as m:
                m.setattr(place_counts, "_grouped", old_grouped)
                want = place_counts._counts(s, PhotoFilter(), limit=5)  # computed, not kept
            assert got == again == want
    finally:
        engine.dispose()
