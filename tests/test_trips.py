"""Trip detection on hand-built photo sets (atw.query.travel, pure): home, days away, gaps, days
at home, day trips under TRIP_MIN_KM, the antimeridian and time zones in UTC order, photos
without positions; names; the distance against an independent great-circle computation; HOME
by name and by coordinates (atw.query.trip_store.resolve_home, the real gazetteer)."""

from __future__ import annotations

import itertools
import math
from datetime import date, datetime, timedelta

import pytest

from atw.query import travel
from atw.query.travel import Home, TripPhotos, TripRules
from atw.query.trip_paths import thin
from atw.query.trip_store import HomeError, parse_latlon, resolve_home

LISBON = (38.7223, -9.1393, "PT", "Lisbon", "Lisbon")
SINTRA = (38.7976, -9.3904, "PT", "Lisbon", "Sintra")  # ≈ 23 km from Lisbon
PORTO = (41.1496, -8.6109, "PT", "Porto", "Porto")  # ≈ 274 km
MADRID = (40.4168, -3.7038, "ES", "Madrid", "Madrid")
TOKYO = (35.6895, 139.6917, "JP", "Tokyo", "Tokyo")
KYOTO = (35.0116, 135.7681, "JP", "Kyoto", "Kyoto")
OSAKA = (34.6937, 135.5023, "JP", "Osaka", "Osaka")
SUVA = (-18.1416, 178.4419, "FJ", "Central", "Suva")
TAVEUNI = (-16.80, -179.97, "FJ", "Northern", "Waiyevo")  # east of the antimeridian
HONOLULU = (21.3069, -157.8583, "US", "Hawaii", "Honolulu")
NAMES = {"PT": "Portugal", "ES": "Spain", "JP": "Japan", "FJ": "Fiji", "US": "United States"}
RULES = TripRules(min_km=100.0, max_gap_days=2)


def country(code: str) -> str | None:
    return NAMES.get(code)


class Album:
    """Hand-built photos: add(local wall time, where, offset hours) → an id; offset None: no
    instant (ordered by the wall-clock time, as the SQL's coalesce(sort_time, taken_at))."""

    def __init__(self) -> None:
        self.rows: list[tuple[object, ...]] = []

    def add(self, local: str, where: tuple[object, ...] | None, offset: float | None = 0) -> int:
        wall = datetime.fromisoformat(local)
        order = wall if offset is None else wall - timedelta(hours=offset)
        place = (None, None, None) if where is None else where[2:]
        lat, lon = (None, None) if where is None else where[:2]
        self.rows.append((len(self.rows) + 1, order, wall.date(), lat, lon, *place))
        return len(self.rows)

    def home_days(self, first: str, n: int, where: tuple[object, ...] = LISBON) -> list[int]:
        day = date.fromisoformat(first)
        return [self.add(f"{day + timedelta(days=i)} 12:00", where) for i in range(n)]

    def photos(self) -> TripPhotos:
        return TripPhotos.from_rows(self.rows)

    def trips(self, rules: TripRules = RULES, home: Home | None = None) -> list[travel.Trip]:
        photos = self.photos()
        home = home or travel.find_home(photos, country)
        assert home is not None
        return travel.detect(photos, home, rules, country)


def great_circle_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Independent of the haversine package: the angle between unit vectors (atan2 of the
    cross and dot products, well-conditioned at any distance) on the same mean radius."""

    def unit(p: tuple[float, float]) -> tuple[float, float, float]:
        la, lo = math.radians(p[0]), math.radians(p[1])
        return (math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la))

    u, v = unit(a), unit(b)
    dot = sum(x * y for x, y in zip(u, v, strict=True))
    cross = (u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0])
    return 6371.0088 * math.atan2(math.hypot(*cross), dot)


def path_of(*points: tuple[object, ...]) -> float:
    pts = [(float(p[0]), float(p[1])) for p in points]  # type: ignore[arg-type]
    return sum(great_circle_km(a, b) for a, b in itertools.pairwise(pts))


def test_home_is_the_most_frequent_place_at_the_mean_position_of_its_photos() -> None:
    a = Album()
    a.home_days("2014-09-01", 5)
    a.add("2014-09-06 12:00", (38.75, -9.10, "PT", "Lisbon", "Lisbon"))
    a.home_days("2014-10-01", 3, TOKYO)
    home = travel.find_home(a.photos(), country)
    assert home is not None
    assert (home.label, home.source, home.photos) == ("Lisbon, Portugal", "archive", 6)
    assert home.lat == pytest.approx((5 * 38.7223 + 38.75) / 6, abs=1e-3)
    assert home.lon == pytest.approx((5 * -9.1393 - 9.10) / 6, abs=1e-3)


def test_home_without_places_is_the_busiest_grid_cell() -> None:
    a = Album()
    for i in range(4):
        a.add(f"2014-09-0{i + 1} 12:00", (38.72 + i * 0.001, -9.14, None, None, None))
    a.add("2014-09-06 12:00", (35.68, 139.69, None, None, None))
    a.add("2014-09-07 12:00", None)
    home = travel.find_home(a.photos(), country)
    assert home is not None and home.photos == 4 and home.label == "38.72, -9.14"
    assert travel.find_home(TripPhotos.from_rows([a.rows[-1]]), country) is None


def test_a_ten_day_trip_abroad_with_a_one_day_gap_is_one_trip() -> None:
    a = Album()
    a.home_days("2014-09-20", 12)
    a.add("2014-10-03 08:00", LISBON, 1)  # leaving home: a day at home, not the trip's
    ids = []
    for day, where in [(4, TOKYO), (5, TOKYO), (6, KYOTO), (7, KYOTO), (9, OSAKA), (10, OSAKA)]:
        ids += [
            a.add(f"2014-10-{day:02d} 10:00", where, 9),
            a.add(f"2014-10-{day:02d} 16:00", where, 9),
        ]
    ids += [a.add("2014-10-11 09:00", TOKYO, 9), a.add("2014-10-12 09:00", TOKYO, 9)]
    ids += [a.add("2014-10-13 07:00", TOKYO, 9), a.add("2014-10-13 20:00", LISBON, 1)]
    a.home_days("2014-10-14", 3)
    (trip,) = a.trips()
    assert (trip.id, trip.start, trip.end, trip.days) == (
        "2014-10-04",
        "2014-10-04",
        "2014-10-13",
        10,
    )
    assert trip.photos == len(ids) == 16 and trip.located == 16 and trip.away == 15
    assert trip.countries == [{"code": "JP", "name": "Japan", "photos": 15}]
    assert [(p["name"], p["photos"]) for p in trip.places] == [
        ("Tokyo", 7),
        ("Kyoto", 4),
        ("Osaka", 4),
    ]
    assert trip.name == "Japan, Oct 2014 — Tokyo, Kyoto, Osaka"
    # The distance: every leg in time order, the return to Lisbon on the last day included.
    legs = [TOKYO] * 4 + [KYOTO] * 4 + [OSAKA] * 4 + [TOKYO] * 3 + [LISBON]
    assert trip.km == pytest.approx(path_of(*legs), rel=1e-6)


def test_gaps_are_bridged_up_to_the_setting_and_a_day_at_home_always_ends_a_trip() -> None:
    def album(gap_days: int, home_between: bool) -> Album:
        a = Album()
        a.home_days("2014-05-01", 10)
        a.add("2014-06-01 12:00", PORTO)
        if home_between:
            a.add("2014-06-02 12:00", LISBON)
        a.add(f"2014-06-{2 + gap_days:02d} 12:00", MADRID)
        a.home_days("2014-07-01", 3)
        return a

    assert [t.days for t in album(2, False).trips()] == [4]  # two empty days bridged
    assert [t.days for t in album(3, False).trips()] == [1, 1]  # three are not
    assert [t.days for t in album(4, False).trips(TripRules(100, 3))] == [1, 1]
    assert [t.days for t in album(3, False).trips(TripRules(100, 3))] == [5]
    assert [t.days for t in album(0, False).trips(TripRules(100, 0))] == [2]
    # back to back: a day at home between two trips, however small the gap
    two = album(1, True).trips(TripRules(100, 5))
    assert [(t.start, t.end, t.name) for t in two] == [
        ("2014-06-01", "2014-06-01", "Portugal, Jun 2014 — Porto"),
        ("2014-06-03", "2014-06-03", "Spain, Jun 2014 — Madrid"),
    ]


def test_a_day_trip_under_the_distance_is_no_trip_and_one_over_it_is() -> None:
    a = Album()
    a.home_days("2014-05-01", 10)
    a.add("2014-05-11 10:00", SINTRA)
    a.add("2014-05-11 16:00", SINTRA)
    a.home_days("2014-05-12", 2)
    assert a.trips() == []
    assert len(a.trips(TripRules(min_km=20.0))) == 1  # Sintra is ≈ 23 km out
    a.add("2014-05-20 10:00", PORTO)
    (trip,) = a.trips()
    assert (trip.start, trip.days, trip.photos, trip.km) == ("2014-05-20", 1, 1, 0.0)


def test_photos_without_positions_belong_to_the_trip_by_their_day() -> None:
    a = Album()
    a.home_days("2014-05-01", 10)
    a.add("2014-06-01 08:00", None)  # before the first day away: not the trip's
    a.add("2014-06-02 12:00", PORTO)
    a.add("2014-06-03 12:00", None, None)  # a day with photos but none located: a gap day
    a.add("2014-06-03 13:00", None, None)
    a.add("2014-06-04 12:00", PORTO)
    a.add("2014-06-04 18:00", None)  # on a day away
    a.add("2014-06-05 12:00", None)  # after the last day away: not the trip's
    a.home_days("2014-07-01", 3)
    (trip,) = a.trips(TripRules(100, 1))
    assert (trip.start, trip.end, trip.photos, trip.located, trip.away) == (
        "2014-06-02",
        "2014-06-04",
        5,
        2,
        2,
    )


def test_a_trip_across_the_antimeridian_and_time_zones_is_ordered_by_utc() -> None:
    a = Album()
    a.home_days("2015-03-01", 5)
    # Wall-clock order: Honolulu (9 Mar 22:00), Suva (10 Mar 09:00), Taveuni (10 Mar 15:00).
    # UTC order: Suva (9 Mar 21:00), Taveuni (10 Mar 03:00), Honolulu (10 Mar 08:00).
    a.add("2015-03-09 22:00", HONOLULU, -10)  # ids in wall-clock order, too
    a.add("2015-03-10 09:00", SUVA, 12)
    a.add("2015-03-10 15:00", TAVEUNI, 12)
    a.home_days("2015-03-15", 2)
    (trip,) = a.trips()
    assert (trip.start, trip.end, trip.days) == ("2015-03-09", "2015-03-10", 2)
    assert trip.name == "Fiji, United States, Mar 2015 — Suva, Waiyevo, Honolulu"
    by_utc = path_of(SUVA, TAVEUNI, HONOLULU)
    assert great_circle_km(SUVA[:2], TAVEUNI[:2]) < 250  # the short way across 180°
    assert trip.km == pytest.approx(by_utc, rel=1e-6)
    assert abs(path_of(HONOLULU, SUVA, TAVEUNI) - by_utc) > 50  # the wall clock would differ


def test_photos_without_an_instant_are_ordered_by_their_wall_clock_time() -> None:
    a = Album()
    a.home_days("2014-05-01", 10)
    a.add("2014-06-01 09:00", PORTO, None)
    a.add("2014-06-01 11:00", MADRID, None)
    a.add("2014-06-01 10:00", KYOTO, None)
    (trip,) = a.trips()
    assert trip.km == pytest.approx(path_of(PORTO, KYOTO, MADRID), rel=1e-6)


def test_home_from_the_setting_turns_the_archive_around() -> None:
    a = Album()
    a.home_days("2014-05-01", 10)
    a.home_days("2014-06-01", 3, TOKYO)
    tokyo = Home(TOKYO[0], TOKYO[1], "Tokyo", "setting")
    trips = a.trips(home=tokyo)
    assert [(t.start, t.end, t.countries[0]["code"]) for t in trips] == [
        ("2014-05-01", "2014-05-10", "PT")
    ]


def test_names_say_countries_by_photos_months_and_top_places() -> None:
    assert travel.month_span(date(2014, 10, 3), date(2014, 10, 12)) == "Oct 2014"
    assert travel.month_span(date(2014, 10, 30), date(2014, 11, 2)) == "Oct–Nov 2014"
    assert travel.month_span(date(2014, 12, 30), date(2015, 1, 2)) == "Dec 2014 – Jan 2015"
    countries = [{"name": n, "photos": 5 - i} for i, n in enumerate("ABCDE")]
    places = [{"name": n, "photos": 1} for n in ("x", "x", "y", "z", "w")]
    name = travel.trip_name(countries, places, date(2014, 1, 1), date(2014, 1, 2))
    assert name == "A, B, C +2, Jan 2014 — x, y, z"
    assert travel.trip_name([], [], date(2014, 1, 1), date(2014, 1, 1)) == "Trip, Jan 2014"


def test_no_photos_no_trips() -> None:
    empty = TripPhotos.from_rows([])
    assert travel.find_home(empty, country) is None
    assert travel.detect(empty, Home(0, 0, "x", "setting"), RULES, country) == []


def test_home_setting_by_coordinates() -> None:
    assert parse_latlon("38.72,-9.14") == (38.72, -9.14)
    assert parse_latlon(" -33.87 ; 151.21 ") == (-33.87, 151.21)
    assert parse_latlon("Lisbon") is None
    home = resolve_home("38.72, -9.14")
    assert (home.lat, home.lon, home.source, home.label) == (
        38.72,
        -9.14,
        "setting",
        "38.72, -9.14",
    )
    with pytest.raises(HomeError, match="within ±90"):
        resolve_home("91,0")


def test_home_setting_by_name_uses_the_gazetteer() -> None:
    lisbon = resolve_home("Lisbon")
    assert lisbon.label == "Lisbon, Lisbon, Portugal"
    assert great_circle_km((lisbon.lat, lisbon.lon), LISBON[:2]) < 5  # central Lisbon
    portland = resolve_home("Portland, Oregon")
    assert "Oregon" in portland.label and portland.lon < -120
    with pytest.raises(HomeError, match="did you mean Lisbon"):
        resolve_home("Lisbn")


def test_a_long_path_is_thinned_evenly_keeping_its_ends() -> None:
    assert thin(5, 10) == [0, 1, 2, 3, 4]
    kept = thin(10_001, 100)
    assert kept[0] == 0 and kept[-1] == 10_000 and len(kept) == 100
