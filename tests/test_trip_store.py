"""Trips of a real index (written JPEGs, the real indexer and places stage) on SQLite and
PostgreSQL: GET /api/trips, the trip filter equals the trip's photos (alone and with other
filters, in words, in the CLI), the path in UTC order and its distance against an independent
computation, unknown trips refused, HOME by name and by coordinates, and the cache: kept while
the index is unchanged, recomputed when it or the settings change."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from atw.core.schema import Meta, Photo
from atw.query import travel, trip_store
from tests import trip_world
from tests.conftest import fresh_app, index
from tests.test_trips import great_circle_km

pytestmark = pytest.mark.databases  # on SQLite and on PostgreSQL (tests/conftest.py)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, module_database: Any) -> tuple[Any, Any]:
    base = tmp_path_factory.mktemp("trips")
    inst = base / "instance"
    app = fresh_app(inst, DATABASE_URL=module_database(inst))
    photos = trip_world.build(app, base / "photos")

    def with_config(**config: Any) -> Any:  # another app over the same index
        return fresh_app(inst, DATABASE_URL=module_database(inst), **config)

    return app, photos, with_config


def get(app: Any, url: str, status: int = 200) -> Any:
    r = app.test_client().get(url)
    assert r.status_code == status, (url, r.status_code, r.get_data(as_text=True)[:500])
    return r.get_json()


def local_day(shot: trip_world.Shot) -> date:
    return datetime.strptime(shot.taken, "%Y:%m:%d %H:%M:%S").date()


def trip_ids(app: Any, query: str) -> list[int]:
    return [p["id"] for p in get(app, f"/api/photos?per_page=500&{query}")["photos"]]


def test_trips_of_the_archive(world: Any) -> None:
    app, _photos, _ = world
    found = get(app, "/api/trips")
    assert found["home"]["source"] == "archive" and found["home"]["photos"] == 25
    assert found["home"]["label"] == "Lisbon, Portugal"  # its districts count for the town
    assert great_circle_km((found["home"]["lat"], found["home"]["lon"]), trip_world.LISBON) < 1
    got = [
        (t["id"], t["end"], [c["code"] for c in t["countries"]], t["photos"])
        for t in found["trips"]
    ]
    assert got == [(i, e, [*c], n) for i, e, c, n in trip_world.EXPECTED]  # no Sintra day trip
    japan = found["trips"][0]
    assert japan["name"] == "Japan, Oct 2014 — Tokyo, Kyoto, Osaka"
    assert (japan["days"], japan["located"], japan["photos_url"]) == (10, 10, "/?trip=2014-10-04")
    assert [p["name"] for p in japan["places"]] == ["Tokyo", "Kyoto", "Osaka"]
    assert found["trips"][2]["name"] == "Spain, Oct 2014 — Madrid"  # not its district, Sol
    assert found["settings"] == {"HOME": "", "TRIP_MIN_KM": 100.0, "TRIP_MAX_GAP_DAYS": 2}


def test_the_trip_filter_is_the_trips_photos(world: Any) -> None:
    app, photos, _ = world
    for trip in get(app, "/api/trips")["trips"]:
        first, last = date.fromisoformat(trip["start"]), date.fromisoformat(trip["end"])
        mine = {s.id for s in photos if first <= local_day(s) <= last}
        assert set(trip_ids(app, f"trip={trip['id']}")) == mine
        assert len(mine) == trip["photos"]
        located = {s.id for s in photos if s.gps and first <= local_day(s) <= last}
        assert set(trip_ids(app, f"trip={trip['id']}&has_gps=yes")) == located
    # with dates: the days both allow; none when they miss the trip
    assert len(trip_ids(app, "trip=2014-10-04&start=2014-10-12")) == 2
    assert trip_ids(app, "trip=2014-10-04&end=2014-10-03") == []
    assert get(app, "/api/photos?trip=2014-10-04&end=2014-10-03")["total"] == 0
    words = get(app, "/api/photos?trip=2014-10-04&has_gps=yes")["description"]
    assert "on the trip Japan, Oct 2014 — Tokyo, Kyoto, Osaka" in words


def test_the_path_is_in_utc_order_and_its_length_is_the_trips_distance(world: Any) -> None:
    app, _photos, _ = world
    for trip in get(app, "/api/trips")["trips"]:
        one = get(app, trip["url"])
        points = one["path"]["points"]
        assert one["path"]["located"] == len(points) == trip["located"]
        assert one["path"]["km"] == pytest.approx(trip["km"], abs=1e-3)
        # independently: the photos' own records, ordered by their UTC instants
        recs = get(app, f"/api/photos?per_page=500&has_gps=yes&trip={trip['id']}")["photos"]
        assert all(r["taken_at_utc"] for r in recs)
        recs.sort(key=lambda r: (r["taken_at_utc"], r["id"]))
        assert [p[4] for p in points] == [r["id"] for r in recs]
        legs = itertools.pairwise(recs)
        km = sum(great_circle_km((a["lat"], a["lon"]), (b["lat"], b["lon"])) for a, b in legs)
        assert trip["km"] == pytest.approx(km, rel=1e-4)
        assert [p[2] for p in points] == [
            (date.fromisoformat(r["taken_at"][:10]) - date.fromisoformat(trip["start"])).days
            for r in recs
        ]
    pacific = get(app, "/api/trips/2015-03-09")
    assert pacific["km"] < 5900  # Suva → Taveuni goes the short way across 180° (≈ 5,150 km)


def test_unknown_trips_are_refused_naming_the_nearest(world: Any) -> None:
    app, _photos, _ = world
    bad = get(app, "/api/photos?trip=2014-10-05", 400)
    assert bad["parameter"] == "trip" and bad["suggestions"] == ["2014-10-04", "2014-10-16"]
    assert (
        "did you mean 2014-10-04 (Japan, Oct 2014 — Tokyo, Kyoto, Osaka) or 2014-10-16"
        in (bad["message"])
    )
    assert get(app, "/api/photos?trip=Japan", 400)["message"].startswith("trip must be a trip id")
    assert "not a trip" in get(app, "/api/trips/2014-10-05", 404)["message"]
    page = app.test_client().get("/?trip=2014-10-05&has_gps=no")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "no trip &#39;2014-10-05&#39;" in text
    assert 'id="total">1<' in text  # the rest of the filter applies: the one photo without GPS


def test_the_cli_exports_a_trip(world: Any, tmp_path: Path) -> None:
    app, _photos, _ = world
    out = tmp_path / "japan.json"
    args = ["export", "--format", "json", "--trip", "2014-10-04", "--out", str(out)]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    assert '"count": 11' in out.read_text()
    result = app.test_cli_runner().invoke(args=["export", "--trip", "2014-10-05"])
    assert result.exit_code == 2 and "did you mean 2014-10-04" in result.output


def test_home_set_by_name_or_by_coordinates(world: Any) -> None:
    _app, _photos, with_config = world
    for home in ("Tokyo", "35.6895,139.6917"):
        found = get(with_config(HOME=home), "/api/trips")
        assert found["home"]["source"] == "setting", home
        assert great_circle_km((found["home"]["lat"], found["home"]["lon"]), trip_world.TOKYO) < 15
        places = {p["name"] for t in found["trips"] for p in t["places"]}
        assert "Tokyo" not in places and {"Kyoto", "Osaka", "Porto", "Suva"} <= places
        first = found["trips"][0]  # Lisbon is away from Tokyo
        assert (first["id"], first["end"]) == ("2014-09-20", "2014-10-03")
        kansai = found["trips"][1]  # Kyoto, a day without photos, Osaka: one trip
        assert (kansai["id"], kansai["end"], kansai["photos"]) == ("2014-10-06", "2014-10-11", 6)
    app = with_config(HOME="Lisbn")
    bad = get(app, "/api/trips", 500)
    assert (
        "HOME 'Lisbn' names no place" in bad["message"] and "did you mean Lisbon" in bad["message"]
    )
    assert app.test_client().get("/trips").status_code == 500
    page = app.test_client().get("/?trip=2014-10-04").get_data(as_text=True)
    assert "trips cannot be found: HOME &#39;Lisbn&#39;" in page


def test_the_cache_holds_until_the_index_or_the_settings_change(
    make_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    photos = trip_world.shots()
    trip_world.build(app, tmp_path / "photos", [s for s in photos if "pacific" not in s.name])
    first = get(app, "/api/trips")
    assert [t["id"] for t in first["trips"]] == ["2014-10-04", "2014-10-16", "2014-10-19"]
    with app.app_context():
        from atw.web import db

        stored = db.session().scalar(select(Meta.value).where(Meta.key == "trips"))
    assert stored and '"2014-10-19"' in stored

    def no_detection(*_a: Any) -> Any:
        raise AssertionError("trips computed again while the index did not change")

    with monkeypatch.context() as mp:
        mp.setattr(travel, "detect", no_detection)
        again = get(app, "/api/trips")  # a new request: the cache answers
        assert again["computed_at"] == first["computed_at"] and again["trips"] == first["trips"]
        assert get(app, "/api/photos?trip=2014-10-19")["total"] == 2

    # the index changes (a new run with new photos): computed again, the new trip is there
    pacific = [s for s in photos if "pacific" in s.name]
    trip_world.write(tmp_path / "more", pacific)
    index(app, tmp_path / "more")
    found = get(app, "/api/trips")
    assert [t["id"] for t in found["trips"]][-1] == "2015-03-09"
    assert get(app, "/api/photos?trip=2015-03-09")["total"] == 3

    # a photo leaves the archive (unlisted: its file was edited away): computed again
    with app.app_context():
        from atw.web import db

        s = db.session()
        madrid = s.scalars(select(Photo.id).where(Photo.lon == trip_world.MADRID[1])).all()
        s.execute(update(Photo).where(Photo.id.in_(madrid)).values(listed=False))
        s.commit()
    assert "2014-10-19" not in [t["id"] for t in get(app, "/api/trips")["trips"]]

    # the settings change: computed again for them
    wider = make_app(TRIP_MIN_KM=20)
    assert "2014-10-15" in [t["id"] for t in get(wider, "/api/trips")["trips"]]  # Sintra
    assert get(wider, "/api/trips")["settings"]["TRIP_MIN_KM"] == 20.0
    key = trip_store.cache_key
    with wider.app_context():
        from atw.web import db

        s = db.session()
        assert key(s, trip_store.TripSettings(min_km=20)) != key(s, trip_store.TripSettings())


def test_requests_at_once_compute_the_trips_once(
    make_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    few = [s for s in trip_world.shots() if s.name.startswith(("home/2014", "porto/"))]
    trip_world.build(app, tmp_path / "photos", few)
    calls: list[int] = []
    real = travel.detect

    def slow(*args: Any) -> Any:
        calls.append(1)
        time.sleep(0.5)  # the others arrive while this one computes
        return real(*args)

    monkeypatch.setattr(travel, "detect", slow)
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda _i: get(app, "/api/trips"), range(4)))
    assert len(calls) == 1
    assert [[t["id"] for t in f["trips"]] for f in found] == [["2014-10-16"]] * 4
