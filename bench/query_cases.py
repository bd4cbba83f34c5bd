"""The queries of the query bench (bench/query_latency.py): a kind, and a filter drawn per run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import numpy as np

from atw.query.filters import PhotoFilter
from bench.synthetic_index import CITIES


@dataclass
class Case:
    name: str
    filters: Callable[[np.random.Generator], Any]  # a PhotoFilter (complete: and the text)
    kind: str = "search"  # or "classes", "complete" (the class autocomplete), "places",
    # "catalog" (the class browser: GET /api/classes, its classes, groups and categories)


def random_day(rng: np.random.Generator) -> date:
    return date(2013, 1, 1) + timedelta(days=int(rng.integers(0, 12 * 365 - 400)))


def city(rng: np.random.Generator, top: int = 10) -> tuple[float, float]:
    c = CITIES[int(rng.integers(0, top))]
    return c[1], c[2]


# Class groups: everyday words of groups (dog ≈ 120 classes), the top-level categories, and
# what people start typing.
GROUP_WORDS = ("dog", "bird", "car", "boat", "food", "flower", "building")
CATEGORY_WORDS = ("animals", "food", "vehicles", "buildings", "clothing", "home", "sport")
TYPED = ("do", "bi", "ca", "foo", "bea", "sea", "mou", "veh", "dr", "s")


# Countries and towns of the synthetic photos (bench/synthetic_index.py CITIES, placed by the
# gazetteer): the place filters pick among them.
COUNTRIES = ("PT", "FR", "US", "JP", "AU", "NZ", "FJ", "NO", "IS", "ZA")
TOWNS = ("Lisbon", "Paris", "Tokyo", "Sydney", "Auckland", "Porto", "Madrid", "Berlin")


def cases(
    frequent: list[str], mid: list[str], coco_mid: list[str], trips: list[str] | None = None
) -> list[Case]:
    """The measured queries, each with parameters varied per run (trips: trip ids to pick)."""

    def date_range(r: np.random.Generator) -> PhotoFilter:
        d = random_day(r)
        return PhotoFilter(start=d, end=d + timedelta(days=int(r.integers(7, 365))))

    def one_class(r: np.random.Generator) -> PhotoFilter:
        lb = mid[int(r.integers(0, len(mid)))]
        return PhotoFilter(classes=(lb,), min_score=float(r.choice([0.1, 0.3, 0.5])))

    def two_all(r: np.random.Generator) -> PhotoFilter:
        # A scene and what is in it ("seashore and person"): a 1–5 % class with a frequent one.
        a = mid[int(r.integers(0, len(mid)))]
        b = (["person", *frequent[:3], *coco_mid[:3]])[int(r.integers(0, 7))]
        return PhotoFilter(classes=(a, b), match="all", min_score=0.3)

    def two_frequent(r: np.random.Generator) -> PhotoFilter:
        a = frequent[int(r.integers(0, len(frequent)))]
        b = coco_mid[int(r.integers(0, len(coco_mid)))]
        return PhotoFilter(classes=(a, b), match="all", min_score=0.3)

    def radius(r: np.random.Generator) -> PhotoFilter:
        la, lo = city(r)
        return PhotoFilter(lat=la, lon=lo, radius_km=50.0)

    def date_class_radius(r: np.random.Generator) -> PhotoFilter:
        la, lo = city(r)
        d = random_day(r)
        return PhotoFilter(
            start=d,
            end=d + timedelta(days=365),
            classes=(mid[int(r.integers(0, len(mid)))],),
            min_score=0.2,
            lat=la,
            lon=lo,
            radius_km=50.0,
        )

    def picker(r: np.random.Generator) -> PhotoFilter:
        return PhotoFilter(min_score=float(r.choice([0.0, 0.2, 0.5])))

    def grid(r: np.random.Generator) -> PhotoFilter:
        return PhotoFilter()

    def person(r: np.random.Generator) -> PhotoFilter:
        return PhotoFilter(classes=("person",), min_score=float(r.choice([0.2, 0.5, 0.7])))

    def nearest(r: np.random.Generator) -> PhotoFilter:
        return replace(radius(r), sort="nearest")

    def class_radius(r: np.random.Generator) -> PhotoFilter:
        la, lo = city(r)
        lb = (["person", *mid[:9]])[int(r.integers(0, 10))]
        return PhotoFilter(classes=(lb,), min_score=0.2, lat=la, lon=lo, radius_km=50.0)

    def person_year(r: np.random.Generator) -> PhotoFilter:
        d = random_day(r)
        return PhotoFilter(classes=("person",), start=d, end=d + timedelta(days=365))

    def any_two(r: np.random.Generator) -> PhotoFilter:
        a, b = (mid[int(i)] for i in r.choice(len(mid), 2, replace=False))
        return PhotoFilter(classes=(a, b), match="any", min_score=0.3)

    def min_count(r: np.random.Generator) -> PhotoFilter:
        return PhotoFilter(classes=("person",), min_count=int(r.integers(2, 5)), min_score=0.5)

    def picker_month(r: np.random.Generator) -> PhotoFilter:
        d = random_day(r)
        return PhotoFilter(start=d, end=d + timedelta(days=30))

    def picker_radius(r: np.random.Generator) -> PhotoFilter:
        la, lo = city(r, top=20)
        return PhotoFilter(lat=la, lon=lo, radius_km=20.0)

    # Places (issue 13): country and place filters, GET /api/places.
    def country(r: np.random.Generator) -> PhotoFilter:
        return PhotoFilter(country=(COUNTRIES[int(r.integers(0, len(COUNTRIES)))],))

    def countries(r: np.random.Generator) -> PhotoFilter:
        picked = r.choice(len(COUNTRIES), 2, replace=False)
        return PhotoFilter(country=tuple(COUNTRIES[int(i)] for i in picked))

    def town(r: np.random.Generator) -> PhotoFilter:
        return PhotoFilter(place=TOWNS[int(r.integers(0, len(TOWNS)))])

    def country_year(r: np.random.Generator) -> PhotoFilter:
        d = random_day(r)
        return replace(country(r), start=d, end=d + timedelta(days=365))

    def country_class(r: np.random.Generator) -> PhotoFilter:
        lb = mid[int(r.integers(0, 10))]  # a 1–5 % ImageNet class (not a group)
        return replace(country(r), classes=(lb,), min_score=0.2)

    # Class groups (issue 14): WordNet groups and categories through photo_group.
    def dog(r: np.random.Generator) -> PhotoFilter:
        return PhotoFilter(classes=("dog",), min_score=float(r.choice([0.1, 0.3, 0.5])))

    def category(r: np.random.Generator) -> PhotoFilter:
        word = CATEGORY_WORDS[int(r.integers(0, len(CATEGORY_WORDS)))]
        return PhotoFilter(classes=(word,), min_score=float(r.choice([0.0, 0.2, 0.5])) or None)

    def group_date_radius(r: np.random.Generator) -> PhotoFilter:
        return replace(date_class_radius(r), classes=(GROUP_WORDS[int(r.integers(0, 4))],))

    def group_year(r: np.random.Generator) -> PhotoFilter:
        d = random_day(r)
        word = GROUP_WORDS[int(r.integers(0, len(GROUP_WORDS)))]
        return PhotoFilter(classes=(word,), start=d, end=d + timedelta(days=365))

    def group_and_class(r: np.random.Generator) -> PhotoFilter:
        a = GROUP_WORDS[int(r.integers(0, len(GROUP_WORDS)))]
        return PhotoFilter(classes=(a, mid[int(r.integers(0, len(mid)))]), match="all")

    def complete(r: np.random.Generator) -> tuple[PhotoFilter, str]:
        return PhotoFilter(), TYPED[int(r.integers(0, len(TYPED)))]

    def complete_year(r: np.random.Generator) -> tuple[PhotoFilter, str]:
        d = random_day(r)
        flt = PhotoFilter(start=d, end=d + timedelta(days=365))
        return flt, TYPED[int(r.integers(0, len(TYPED)))]

    def complete_radius(r: np.random.Generator) -> tuple[PhotoFilter, str]:
        return picker_radius(r), TYPED[int(r.integers(0, len(TYPED)))]

    # Trips (issue 13): the trip filter reads the cached trips (their index check included)
    # and becomes the trip's days.
    def trip(r: np.random.Generator) -> PhotoFilter:
        assert trips
        return PhotoFilter(trip=trips[int(r.integers(0, len(trips)))])

    def trip_class(r: np.random.Generator) -> PhotoFilter:
        return replace(trip(r), classes=(mid[int(r.integers(0, len(mid)))],), min_score=0.2)

    def trip_group(r: np.random.Generator) -> PhotoFilter:
        return replace(trip(r), classes=(GROUP_WORDS[int(r.integers(0, len(GROUP_WORDS)))],))

    by_trip = [
        Case("trips: a trip", trip),
        Case("trips: a trip + a class", trip_class),
        Case("trips: a trip + a group", trip_group),
    ]
    return [
        *(by_trip if trips else []),
        Case("group: dog (119 classes) ≥ threshold", dog),
        Case("group: a category ≥ threshold", category),
        Case("group + date (1 y) + radius 50 km", group_date_radius),
        Case("autocomplete, no filter", complete, "complete"),
        Case("autocomplete, 1 year", complete_year, "complete"),
        Case("extra: group + 1 year", group_year),
        Case("extra: group and a 1–5 % class, all", group_and_class),
        Case("places: country (top-10)", country),
        Case("places: two countries", countries),
        Case("places: place (a town and its districts)", town),
        Case("places: place, oldest first", lambda r: replace(town(r), sort="oldest")),
        Case("places: country + 1 year", country_year),
        Case("places: country + class", country_class),
        Case("places: /api/places, no filter", grid, "places"),
        Case("places: /api/places, 1 month", picker_month, "places"),
        Case("places: /api/places, one country", country, "places"),
        Case("places: /api/places, radius 20 km", picker_radius, "places"),
        Case("date range (1 week – 1 year)", date_range),
        Case("one class ≥ threshold", one_class),
        Case("two classes, all (1–5 % + frequent)", two_all),
        Case("radius 50 km (top-10 cities)", radius),
        Case("date (1 y) + class + radius 50 km", date_class_radius),
        Case("class counts, picker (no filter)", picker, "classes"),
        Case("first grid page, no filter", grid),
        Case("frequent class: person (≈1/3)", person),
        Case("extra: radius 50 km, nearest", nearest),
        Case("extra: person + 1 year", person_year),
        Case("extra: class + radius 50 km, no date", class_radius),
        Case("extra: two classes, all, both frequent (2–40 %)", two_frequent),
        Case("extra: two classes, any", any_two),
        Case("extra: person, min_count 2–4", min_count),
        Case("extra: class counts, 1 month", picker_month, "classes"),
        Case("extra: class counts, radius 20 km", picker_radius, "classes"),
        Case("extra: class browser (and groups), no filter", picker, "catalog"),
        Case("extra: class browser (and groups), 1 month", picker_month, "catalog"),
        Case("extra: class browser (and groups), radius 20 km", picker_radius, "catalog"),
        Case("extra: autocomplete, radius 20 km", complete_radius, "complete"),
    ]
