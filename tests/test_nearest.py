"""Nearest-first within a radius (atw.query.nearest): a page read from a smaller circle around
the centre is the page of the whole circle — same ids, order, distances and totals as reading
the whole circle and as the haversine reference — for plain filters, a class, dates, and pages
past the first, on SQLite and PostgreSQL; and the smaller circle is really what answers."""

from __future__ import annotations

import math
import random
from datetime import date
from typing import Any

import pytest

from atw.query import nearest, search
from atw.query.filters import PhotoFilter
from tests.test_query import LISBON, SYDNEY, P, module_world, reference, session_of

pytestmark = pytest.mark.databases


def around(centre: tuple[float, float], km: float, bearing: float) -> tuple[float, float]:
    lat = centre[0] + km / 111.2 * math.cos(bearing)
    lon = centre[1] + km / (111.2 * math.cos(math.radians(centre[0]))) * math.sin(bearing)
    return round(lat, 6), round(lon, 6)


def photos() -> list[P]:
    """40 photos from 30 m to 45 km of Lisbon (half of them seashore), 3 in Sydney, 2 without
    a position; dates over 2014-2016."""
    rnd = random.Random(5)
    out = []
    for i in range(40):
        km = 0.03 * (1.2**i)  # 0.03 … ~37 km
        taken = f"{2014 + i % 3}:{1 + i % 12:02d}:{1 + i % 27:02d} 10:00:00"
        p = P(f"near{i:02d}", "lisbon", taken, around(LISBON, km, rnd.uniform(0, 2 * math.pi)))
        p.imagenet = [("seashore", 0.6)] if i % 2 else [("valley", 0.7)]
        out.append(p)
    for i in range(3):
        out.append(P(f"far{i}", "sydney", f"2015:0{i + 1}:01 10:00:00", around(SYDNEY, i, 1.0)))
    out += [P(f"nogps{i}", "misc", f"2016:0{i + 1}:01 10:00:00") for i in range(2)]
    return out


@pytest.fixture(scope="module")
def near_world(tmp_path_factory: pytest.TempPathFactory, module_database: Any) -> Any:
    return module_world(tmp_path_factory.mktemp("nearest"), module_database, photos())


FILTERS = [
    PhotoFilter(lat=LISBON[0], lon=LISBON[1], radius_km=50.0, sort="nearest"),
    PhotoFilter(
        lat=LISBON[0], lon=LISBON[1], radius_km=20.0, sort="nearest", classes=("seashore",)
    ),
    PhotoFilter(
        lat=LISBON[0],
        lon=LISBON[1],
        radius_km=45.0,
        sort="nearest",
        start=date(2014, 1, 1),
        end=date(2015, 12, 31),
    ),
]


@pytest.mark.parametrize("flt", FILTERS, ids=["plain", "class", "dates"])
@pytest.mark.parametrize("per_page", [1, 3, 7])
def test_an_inner_circle_gives_the_whole_circles_pages(
    near_world: Any, monkeypatch: pytest.MonkeyPatch, flt: PhotoFilter, per_page: int
) -> None:
    app, root, ps = near_world
    want = reference(ps, flt, root)
    assert len(want) >= 10
    used = []
    real = nearest.page

    def spy(*args: Any) -> Any:
        stmt = real(*args)
        used.append(stmt is not None)
        return stmt

    def pages(inner: bool) -> list[Any]:
        monkeypatch.setattr(nearest, "page", spy if inner else (lambda *a: None))
        out = []
        with session_of(app) as s:
            for n in range(1, -(-len(want) // per_page) + 1):
                p = search.search(s, flt, n, per_page)
                out.append((p.total, p.ids, [round(d, 9) for d in p.distances or []]))
        return out

    got, plain = pages(inner=True), pages(inner=False)
    assert got == plain
    assert [i for _t, ids, _d in got for i in ids] == want
    assert {t for t, _i, _d in got} == {len(want)}
    assert any(used), "no page came from an inner circle: the test would not test it"


def test_only_nearest_within_a_radius_is_narrowed(near_world: Any) -> None:
    app, _root, _ps = near_world
    with session_of(app) as s:
        for flt in (
            PhotoFilter(lat=LISBON[0], lon=LISBON[1], radius_km=50.0),  # newest first
            PhotoFilter(lat=LISBON[0], lon=LISBON[1], sort="nearest"),  # no radius
        ):
            assert nearest.page(s, search.Query(s, flt), 0, 1) is None
