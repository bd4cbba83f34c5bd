"""Newest-first pages of a big circle read from a window of the archive's newest photos
(atw.query.recent): the same ids, order and totals as sorting the whole circle and as the
reference, page after page, with home photos in bursts between trips (the first window
misses and grows), photos at the same instant, and a photo without a time; the window really
answers on SQLite, and PostgreSQL keeps its own plan."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import create_engine, update

from atw.core.schema import Photo, PhotoClass
from atw.query import recent, search
from atw.query.filters import PhotoFilter
from tests.test_query import LISBON, SYDNEY, P, module_world, reference, session_of

pytestmark = pytest.mark.databases


def near(centre: tuple[float, float], i: int) -> tuple[float, float]:
    """A point i × 150 m from the centre, on a turning bearing."""
    km, bearing = 0.15 * (i + 1), i * 2.4
    lat = centre[0] + km / 111.2 * math.cos(bearing)
    lon = centre[1] + km / (111.2 * math.cos(math.radians(centre[0]))) * math.sin(bearing)
    return round(lat, 6), round(lon, 6)


def photos() -> list[P]:
    """Home (Lisbon) in four bursts over 2014–2017 with a trip to Sydney between each and the
    newest 20 photos in Sydney; two home photos at the same instant; one home photo whose time
    is then removed (NULL sort_time)."""
    out, n = [], 0
    for year in range(2014, 2018):
        for k in range(10):
            taken = f"{year}:03:{1 + k:02d} 10:00:00"
            out.append(P(f"home{n:02d}", "lisbon", taken, near(LISBON, n)))
            n += 1
        for k in range(4):
            out.append(P(f"trip{year}_{k}", "trip", f"{year}:08:{1 + k:02d} 10:00:00", SYDNEY))
    out.append(P("same_a", "lisbon", "2016:03:05 10:00:00", near(LISBON, 50)))
    out.append(P("same_b", "lisbon", "2016:03:05 10:00:00", near(LISBON, 51)))
    out += [P(f"last{k:02d}", "trip", f"2019:01:{1 + k:02d} 10:00:00", SYDNEY) for k in range(20)]
    out.append(P("timeless", "lisbon", "2015:05:05 12:00:00", near(LISBON, 52)))
    return out


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, module_database: Any) -> Any:
    app, root, ps = module_world(tmp_path_factory.mktemp("recent"), module_database, photos())
    timeless = ps[-1]
    engine = create_engine(app.config["DATABASE_URL"])
    with engine.begin() as conn:  # as a photo without any time is stored
        gone = {"taken_at": None, "sort_time": None}
        conn.execute(update(Photo).where(Photo.id == timeless.id).values(taken_at_utc=None, **gone))
        conn.execute(update(PhotoClass).where(PhotoClass.photo_id == timeless.id).values(**gone))
    engine.dispose()
    ps.remove(timeless)  # the reference has no time to sort it by: it comes last, checked below
    return app, root, ps, timeless.id


CIRCLE = PhotoFilter(lat=LISBON[0], lon=LISBON[1], radius_km=20.0)


@pytest.mark.parametrize("per_page", [1, 3, 7, 100])
def test_the_newest_window_gives_the_whole_circles_pages(
    home: Any, monkeypatch: pytest.MonkeyPatch, per_page: int
) -> None:
    app, root, ps, timeless = home
    timed = reference(ps, CIRCLE, root)
    assert len(timed) == 42
    monkeypatch.setattr(recent, "WALK_MIN", 1)  # a circle of 43 photos is walked too
    used, real = [], recent.page

    def spy(*args: Any) -> Any:
        rows, total = real(*args)
        used.append(rows is not None)
        return rows, total

    def pages(walk: bool) -> list[tuple[int, list[int]]]:
        monkeypatch.setattr(recent, "page", spy if walk else (lambda *a: (None, None)))
        with session_of(app) as s:
            return [
                (p.total, p.ids)
                for n in range(1, -(-43 // per_page) + 1)
                if (p := search.search(s, CIRCLE, n, per_page))
            ]

    got, plain = pages(walk=True), pages(walk=False)
    assert got == plain
    ids = [i for _t, page in got for i in page]
    assert [i for i in ids if i != timeless] == timed and timeless in ids
    assert {t for t, _ids in got} == {43}
    sqlite = app.config["DATABASE_URL"].startswith("sqlite")
    assert any(used) is (sqlite and per_page < 100), used  # (a page of 100 holds them all)


def test_a_circle_of_old_photos_is_sorted_as_before(
    home: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sydney's photos are the newest 20 and four older trips: a window of the newest photos
    holds its first pages, not the later ones (the caller sorts the circle then)."""
    app, root, ps, _timeless = home
    monkeypatch.setattr(recent, "WALK_MIN", 1)
    flt = PhotoFilter(lat=SYDNEY[0], lon=SYDNEY[1], radius_km=5.0)
    want = reference(ps, flt, root)
    assert len(want) == 36
    with session_of(app) as s:
        got = [search.search(s, flt, n, 12) for n in (1, 2, 3)]
        query = search.Query(s, flt)
        late, total = recent.page(s, query, 24, 12)  # the oldest third: before every window
    assert [i for p in got for i in p.ids] == want and {p.total for p in got} == {36}
    assert late is None and total == (
        36 if app.config["DATABASE_URL"].startswith("sqlite") else None
    )


def test_only_newest_first_circles_without_dates_are_walked(home: Any) -> None:
    app, *_ = home
    with session_of(app) as s:
        for flt in (
            PhotoFilter(lat=LISBON[0], lon=LISBON[1], radius_km=20.0, sort="oldest"),
            PhotoFilter(lat=LISBON[0], lon=LISBON[1], radius_km=20.0, sort="nearest"),
            PhotoFilter(
                lat=LISBON[0], lon=LISBON[1], radius_km=20.0, start=datetime(2015, 1, 1).date()
            ),
            PhotoFilter(country=("PT",)),
        ):
            assert recent.page(s, search.Query(s, flt), 0, 1) == (None, None)
