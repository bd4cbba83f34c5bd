"""Classes within a country (or a radius with dates): driven by the place or by the classes, the
same photos in the same order with the same total (atw.query.plan.Query._place_first)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import case, create_engine, update

from atw.core.schema import Photo
from atw.query import plan, search
from atw.query.filters import PhotoFilter
from tests.test_query import LISBON, module_world, session_of, world

pytestmark = pytest.mark.databases


@pytest.fixture(scope="module")
def placed(tmp_path_factory: pytest.TempPathFactory, module_database: Any) -> Any:
    """test_query's world, each photo given a country by its hemisphere (as the places stage
    would store it: the planner reads only the stored codes)."""
    app, _, _ = module_world(tmp_path_factory.mktemp("place_first"), module_database, world())
    engine = create_engine(app.config["DATABASE_URL"])
    with engine.begin() as conn:
        code = case((Photo.lat > 0, "PT"), (Photo.lat <= 0, "AU"), else_=None)
        conn.execute(update(Photo).values(country_code=code))
    engine.dispose()
    return app


FILTERS = [
    PhotoFilter(classes=("person",), country=("PT",)),
    PhotoFilter(classes=("person", "dog"), country=("PT", "AU"), sort="oldest"),
    PhotoFilter(classes=("person", "seashore"), match="all", country=("PT",)),
    PhotoFilter(classes=("dog",), country=("AU",), start=date(2014, 1, 1), end=date(2016, 12, 31)),
    PhotoFilter(
        classes=("person",),
        start=date(2014, 6, 1),
        end=date(2015, 6, 1),
        lat=LISBON[0],
        lon=LISBON[1],
        radius_km=25,
    ),
]


def pages(app: Any, flt: PhotoFilter) -> tuple[str, list[int], int, int]:
    with session_of(app) as s:
        whole = search.search(s, flt, 1, 1000)
        first = search.search(s, flt, 1, 2)  # a page that is not the whole: the count query
        return plan.Query(s, flt).kind, whole.ids, whole.total, first.total


def test_either_driver_gives_the_same_photos(placed, monkeypatch):
    found = []
    for first in (True, False):  # driven by the place, or by the classes
        monkeypatch.setattr(plan.Query, "_place_first", lambda self, first=first: first)
        found.append([pages(placed, flt) for flt in FILTERS])
    by_place, by_class = found
    for flt, a, b in zip(FILTERS, by_place, by_class, strict=True):
        assert a[1:] == b[1:], flt
        assert a[2] == a[3] == len(a[1]), flt
        assert a[2] > 0, flt  # each selects photos: the comparison is not of empty lists
    assert {a[0] for a in by_place} == {"photo"}
    assert "photo" not in {b[0] for b in by_class}


def test_a_small_place_drives_many_classes(placed, monkeypatch):
    """The planner's own choice: a country with fewer photos than the classes have."""
    monkeypatch.setattr(plan, "PLACE_FIRST_ABOVE", 0)
    many = ("person", "dog", "car", "umbrella", "seashore", "chair", "cup", "bottle")
    with session_of(placed) as s:
        assert plan.Query(s, PhotoFilter(classes=many, country=("AU",))).kind == "photo"
        assert plan.Query(s, PhotoFilter(classes=("person",), country=("PT",))).kind != "photo"


def test_the_place_is_counted_only_up_to_the_classes_photos(placed, monkeypatch):
    """Choosing the driver needs only whether the place has fewer photos than the classes:
    the count stops at the classes' photos (plan_photo.place_photos), and is exact below."""
    monkeypatch.setattr(plan, "PLACE_FIRST_ABOVE", 0)
    many = ("person", "dog", "car", "umbrella", "seashore", "chair", "cup", "bottle")
    with session_of(placed) as s:
        in_pt, in_au = (
            search.search(s, PhotoFilter(country=(c,)), 1, 1).total for c in ["PT", "AU"]
        )
        one = plan.Query(s, PhotoFilter(classes=("seashore",), country=("PT",)))
        few = sum(t.photos for t in one.terms if t.sources)
        assert 0 < few < in_pt and one.place_photos == few and one.kind != "photo"
        wide = plan.Query(s, PhotoFilter(classes=many, country=("AU",)))
        assert wide.place_photos == in_au < sum(t.photos for t in wide.terms if t.sources)
        assert wide.kind == "photo"
