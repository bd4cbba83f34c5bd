"""Places and local time on the query/web side, over a real index of written photos: the country,
region and place filters (names, codes, several countries, unknown names with suggestions),
/api/places counts against /api/photos, /api/geocode, newest/oldest first by the instant, the
words (filter descriptions, captions, the viewer), the place charts, and private outputs that
name no place. References come from this file's own table of where each photo is (PLACES)
and from the stored rows read with plain SQL, never from the query layer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.orm import Session

from atw.core import derived
from atw.core.group_schema import PhotoGroup
from atw.core.schema import Photo, PhotoClass
from tests.conftest import fresh_app, index
from tests.photos import pattern, write_jpeg

pytestmark = pytest.mark.databases  # on SQLite and on PostgreSQL (tests/conftest.py)


@dataclass
class Shot:
    name: str
    taken: str  # EXIF DateTimeOriginal
    gps: tuple[float, float] | None
    offset: str | None = None  # EXIF OffsetTimeOriginal
    country: str | None = None  # expected: ISO code (None: no position, or at sea)
    town: str | None = None  # expected caption's place name (placenames' town rule)


# Where each photo is, written here by hand: the reference of every place check below.
SHOTS = [
    # Tokyo 08:00 +09:00 is 23:00 UTC the day before; Lisbon 02:00 (WET, +00:00 from the zone)
    # the same local day: Tokyo's instant is earlier although its clock shows a later time.
    Shot("tokyo", "2019:03:10 08:00:00", (35.6895, 139.6917), "+09:00", "JP", "Tokyo"),
    Shot("lisbon", "2019:03:10 02:00:00", (38.7223, -9.1393), None, "PT", "Lisbon"),  # Intendente
    Shot("nogps", "2019:03:10 01:00:00", None),  # no offset, no position: sorts by its wall time
    Shot("sintra", "2019:03:11 10:00:00", (38.7976, -9.3904), None, "PT", "Sintra"),
    Shot("porto", "2019:03:12 10:00:00", (41.1496, -8.6109), None, "PT", "Porto"),
    Shot("madrid", "2019:04:01 10:00:00", (40.4168, -3.7038), None, "ES", "Madrid"),
    Shot("paris", "2019:05:01 10:00:00", (48.8566, 2.3522), None, "FR", "Paris"),
    Shot("paris_tx", "2019:05:02 10:00:00", (33.6609, -95.5555), None, "US", "Paris"),
    Shot("atsea", "2019:06:01 10:00:00", (40.0, -30.0)),  # mid-Atlantic: no country
    Shot("sydney", "2019:07:01 10:00:00", (-33.8688, 151.2093), None, "AU", "Sydney"),
]
BY_NAME = {s.name: s for s in SHOTS}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, module_database: Any) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("places")
    app = fresh_app(base / "instance", DATABASE_URL=module_database(base / "instance"))
    for i, s in enumerate(SHOTS):
        write_jpeg(
            base / "photos" / f"{s.name}.jpg",
            pattern(seed=i),
            taken=s.taken,
            offset=s.offset,
            gps=s.gps,
        )
    summary = index(app, base / "photos")
    assert summary.indexed == len(SHOTS), summary.errors
    engine = create_engine(app.config["DATABASE_URL"])
    # One ImageNet class per photo (no labeller runs here), stored as the writer stores a
    # labeller's results: summary and class-group rows, so that a group filter has rows.
    with Session(engine) as s, s.begin():
        for p in s.scalars(select(Photo)):
            derived.replace_stage(s, p.id, p.taken_at, "imagenet", [("beagle", 0.9)], p.sort_time)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Photo.id,
                Photo.taken_at,
                Photo.taken_at_utc,
                Photo.country_code,
                Photo.region,
                Photo.place,
                Photo.at_sea,
            )
        ).all()
        paths = dict(conn.execute(text("SELECT photo_id, path FROM photo_path")).all())
    engine.dispose()
    stored = {Path(str(paths[r.id])).stem: r for r in rows}
    return {
        "app": app,
        "client": app.test_client(),
        "stored": stored,
        "ids": {n: r.id for n, r in stored.items()},
    }


def api(world: dict[str, Any], **args: str) -> dict[str, Any]:
    resp = world["client"].get("/api/photos?" + urlencode({"per_page": "100", **args}))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def names_of(world: dict[str, Any], ids: list[int]) -> list[str]:
    back = {v: k for k, v in world["ids"].items()}
    return [back[i] for i in ids]


def by_instant(world: dict[str, Any], names: set[str], newest: bool = True) -> list[str]:
    """The reference order: the stored instant where there is one, else the wall clock; ties
    by id (newest first: both descending)."""
    st = world["stored"]
    key = {n: ((st[n].taken_at_utc or st[n].taken_at), st[n].id) for n in names}
    return sorted(names, key=lambda n: key[n], reverse=newest)


# --- the stored places are what this file expects (the rest relies on it) --------------------


def test_the_index_placed_each_photo_where_it_is(world):
    st = world["stored"]
    for s in SHOTS:
        assert st[s.name].country_code == s.country, s.name
    assert st["atsea"].at_sea and st["nogps"].country_code is None and not st["nogps"].at_sea
    assert (st["lisbon"].region, st["sintra"].region) == ("Lisbon", "Lisbon")
    assert st["lisbon"].place != "Lisbon"  # its nearest place is a district (the caption test)
    assert st["paris_tx"].region == "Texas"


def test_sort_keys_are_kept_with_every_photo_and_class_row(world):
    """sort_time is the instant where there is one, else the wall clock, in photo and in its
    photo_class and photo_group copies: the date window on sort_time (atw.query.conditions)
    relies on it."""
    app = world["app"]
    engine = create_engine(app.config["DATABASE_URL"])
    with engine.connect() as conn:
        for r in conn.execute(select(Photo.taken_at, Photo.taken_at_utc, Photo.sort_time)):
            assert r.sort_time == (r.taken_at_utc or r.taken_at)
            if r.taken_at is not None:
                assert abs((r.sort_time - r.taken_at).total_seconds()) <= 14 * 3600
        copies = conn.execute(
            select(PhotoClass.sort_time, Photo.sort_time.label("own")).join(
                Photo, Photo.id == PhotoClass.photo_id
            )
        ).all()
        assert all(c.sort_time == c.own for c in copies)
        group_copies = conn.execute(
            select(PhotoGroup.sort_time, Photo.sort_time.label("own")).join(
                Photo, Photo.id == PhotoGroup.photo_id
            )
        ).all()
        assert len(group_copies) >= len(SHOTS)  # beagle: dog, animals … (the fixture)
        assert all(c.sort_time == c.own for c in group_copies)
        names = {ix["name"] for ix in inspect(conn).get_indexes("photo")}
        assert {"ix_photo_sort_time", "ix_photo_place"} <= names
        assert "ix_photo_taken_at" not in names
        cols = {ix["name"]: ix["column_names"] for ix in inspect(conn).get_indexes("photo_class")}
        assert cols["ix_photo_class_label"][:4] == ["label", "source", "sort_time", "photo_id"]
        cols = {ix["name"]: ix["column_names"] for ix in inspect(conn).get_indexes("photo_group")}
        assert cols["ix_photo_group_sort"][:3] == ["grp", "sort_time", "photo_id"]
    engine.dispose()


# --- filters ----------------------------------------------------------------------------


def expected(world: dict[str, Any], want: Any) -> set[str]:
    return {n for n in world["stored"] if want(BY_NAME[n], world["stored"][n])}


@pytest.mark.parametrize(
    ("args", "want"),
    [
        ({"country": "pt"}, lambda s, r: s.country == "PT"),
        ({"country": "Portugal"}, lambda s, r: s.country == "PT"),
        ({"country": "PRT"}, lambda s, r: s.country == "PT"),
        ({"country": "PT,ES"}, lambda s, r: s.country in {"PT", "ES"}),
        ({"country": " portugal , Spain "}, lambda s, r: s.country in {"PT", "ES"}),
        ({"country": "es, France, usa"}, lambda s, r: s.country in {"ES", "FR", "US"}),
        ({"country": "JP"}, lambda s, r: s.country == "JP"),
        ({"country": "Germany"}, lambda s, r: False),  # a known country without photos
        ({"region": "Lisbon"}, lambda s, r: r.region == "Lisbon"),
        ({"region": "texas"}, lambda s, r: r.region == "Texas"),
        ({"region": "Lisbon, Portugal"}, lambda s, r: r.region == "Lisbon"),
        ({"place": "Lisbon"}, lambda s, r: s.town == "Lisbon"),  # the district is Lisbon's
        ({"place": "lisbon"}, lambda s, r: s.town == "Lisbon"),
        ({"place": "Sintra"}, lambda s, r: s.town == "Sintra"),
        ({"place": "Paris"}, lambda s, r: s.town == "Paris"),  # France and Texas
        ({"place": "Paris, Texas"}, lambda s, r: s.name == "paris_tx"),
        ({"place": "Paris, France"}, lambda s, r: s.name == "paris"),
        ({"place": "Paris", "country": "FR"}, lambda s, r: s.name == "paris"),
        ({"place": "Sintra", "region": "Lisbon"}, lambda s, r: s.name == "sintra"),
        ({"place": "Porto", "country": "ES"}, lambda s, r: False),
        (
            {"country": "PT", "start": "2019-03-10", "end": "2019-03-11"},
            lambda s, r: s.country == "PT" and "2019:03:10" <= s.taken[:10] <= "2019:03:11",
        ),
        (
            {"country": "PT,JP", "lat": "38.72", "lon": "-9.14", "radius_km": "50"},
            lambda s, r: s.name in {"lisbon", "sintra"},
        ),
    ],
)
def test_place_filters_select_the_photos_taken_there(world, args, want):
    body = api(world, **args)
    ref = expected(world, want)
    assert set(names_of(world, [p["id"] for p in body["photos"]])) == ref, args
    assert body["total"] == len(ref)
    for order in ("newest", "oldest"):
        got = names_of(world, [p["id"] for p in api(world, **args, sort=order)["photos"]])
        assert got == by_instant(world, ref, newest=order == "newest"), (args, order)


@pytest.mark.parametrize(
    ("args", "param", "words", "suggested"),
    [
        ({"place": "Lisbn"}, "place", "no place named 'Lisbn' — did you mean Lisbon", "Lisbon"),
        ({"country": "Portgual"}, "country", "no country named 'Portgual'", "Portugal"),
        ({"country": "PT,Spian"}, "country", "no country named 'Spian'", "Spain"),
        ({"region": "Califrnia"}, "region", "no region named 'Califrnia'", "California"),
    ],
)
def test_an_unknown_name_is_a_400_naming_the_field_with_suggestions(
    world, args, param, words, suggested
):
    for url in ("/api/photos", "/api/places", "/api/map", "/charts.json"):
        resp = world["client"].get(url + "?" + urlencode({"start": "2019-03-10", **args}))
        body = resp.get_json()
        assert resp.status_code == 400 and body["parameter"] == param, url
        assert words in body["message"] and suggested in body["suggestions"], body


@pytest.mark.parametrize("place", ["\x00", "Qqqqqqqqzx", "!!!"])
def test_a_name_with_nothing_close_is_a_400_without_suggestions(world, place):
    resp = world["client"].get("/api/photos?" + urlencode({"place": place}))
    body = resp.get_json()
    assert resp.status_code == 400 and body["parameter"] == "place"
    assert body["message"] == f"place: no place named {place!r}" and "suggestions" not in body
    report = world["client"].get("/report?" + urlencode({"place": place, "country": "PT"}))
    assert report.status_code == 400 and report.mimetype == "text/html"
    assert "This report was not made: Place: no place named" in report.get_data(as_text=True)


def test_the_report_of_a_misspelt_name_says_so_once(world):
    page = world["client"].get("/report?place=Lisbn").get_data(as_text=True)
    assert "did you mean Lisbon" in page and "?." not in page


def test_a_page_shows_the_bad_name_beside_its_field_and_applies_the_rest(world):
    client = world["client"]
    html = client.get("/?place=Lisbn&country=PT&start=2019-03-11").get_data(as_text=True)
    assert "Place: no place named &#39;Lisbn&#39; — did you mean Lisbon" in html
    assert "?. The rest" not in html and "? The rest of the filter applies." in html
    rest = api(world, country="PT", start="2019-03-11")
    assert rest["total"] == len(
        expected(world, lambda s, r: s.country == "PT" and s.taken >= "2019:03:11")
    )
    assert f'<strong id="total">{rest["total"]}</strong>' in html
    assert "in Portugal" in html and 'value="Lisbn"' in html  # the rest applies; the text stays
    bad_country = client.get("/?country=Portgual&place=Sintra").get_data(as_text=True)
    assert "Country: no country named &#39;Portgual&#39; — did you mean Portugal?" in bad_country
    assert '<strong id="total">1</strong>' in bad_country  # place=Sintra still applies


# --- /api/places and the autocomplete ---------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [{}, {"country": "PT"}, {"start": "2019-03-10", "end": "2019-05-01"}, {"has_gps": "yes"}],
)
def test_api_places_counts_equal_the_api_photos_totals(world, args):
    client = world["client"]
    body = client.get("/api/places?" + urlencode(args)).get_json()
    total = api(world, **args)["total"]
    assert sum(c["photos"] for c in body["countries"]) + body["no_country"] == total
    for c in body["countries"]:
        assert api(world, **{**args, "country": c["code"]})["total"] == c["photos"], c
    for r in body["regions"]:
        region = f"{r['region']}, {r['country']}"
        assert api(world, **{**args, "region": region})["total"] == r["photos"], r
    for p in body["places"]:
        place = ", ".join(x for x in (p["name"], p["region"], p["country"]) if x)
        assert api(world, **{**args, "place": place})["total"] == p["photos"], p
    towns = {(p["country_code"], p["name"]): p["photos"] for p in body["places"]}
    ref: dict[tuple[str, str], int] = {}
    for name in expected(world, lambda s, r: s.country is not None):
        if name in {n for n in names_of(world, [p["id"] for p in api(world, **args)["photos"]])}:
            key = (BY_NAME[name].country, BY_NAME[name].town)
            ref[key] = ref.get(key, 0) + 1
    assert towns == ref


def test_place_fields_complete_within_the_filter_with_counts(world):
    client = world["client"]
    got = client.get("/api/places?kind=place&q=par").get_json()
    assert [(e["value"], e["photos"]) for e in got] == [
        ("Paris, France", 1),
        ("Paris, United States", 1),
    ]
    assert client.get("/api/places?kind=place&q=par&country=FR").get_json()[0]["value"] == "Paris"
    got = client.get("/api/places?kind=country&q=por").get_json()
    assert [(e["value"], e["code"], e["photos"]) for e in got] == [("Portugal", "PT", 3)]
    dated = client.get("/api/places?kind=country&q=pt&start=2019-03-11").get_json()
    assert dated[0]["photos"] == 2  # Sintra and Porto: counted within the rest of the filter
    got = client.get("/api/places?kind=region&q=lis").get_json()
    assert [(e["value"], e["photos"]) for e in got] == [("Lisbon", 2)]
    assert client.get("/api/places?kind=town&q=x").status_code == 400


def test_geocode_lists_every_place_of_a_name_most_populous_first(world):
    client = world["client"]
    lisbon = client.get("/api/geocode?q=Lisbon").get_json()
    assert lisbon[0]["country_code"] == "PT" and abs(lisbon[0]["lat"] - 38.717) < 0.01
    paris = client.get("/api/geocode?q=paris").get_json()
    assert paris[0]["label"] == "Paris, France" and paris[0]["population"] > 2e6
    assert {"FR", "US", "CA"} <= {p["country_code"] for p in paris}
    assert "Paris, Texas, United States" in [p["label"] for p in paris]
    pops = [p["population"] for p in paris]
    assert pops == sorted(pops, reverse=True)
    assert client.get("/api/geocode?q=Paris, Texas").get_json()[0]["region"] == "Texas"
    assert client.get("/api/geocode?q=Lisb").get_json()[0]["name"] == "Lisbon"  # completed
    assert client.get("/api/geocode?q=Xqzzy").get_json() == []
    assert client.get("/api/geocode?q=").status_code == 400


# --- time order ---------------------------------------------------------------------------


def test_newest_first_follows_the_instant_and_dates_stay_local(world):
    """Tokyo 08:00 +09:00 (23:00 UTC on the 9th) and Lisbon 02:00 +00:00 on 10 March: Lisbon
    is the later instant, so newest first puts it first although Tokyo's clock shows 08:00; the
    photo without an offset sorts by its wall time (01:00) between them. The date filter reads
    the local day: Tokyo is on the 10th, not on the 9th."""
    day = api(world, start="2019-03-10", end="2019-03-10")
    assert names_of(world, [p["id"] for p in day["photos"]]) == ["lisbon", "nogps", "tokyo"]
    oldest = api(world, start="2019-03-10", end="2019-03-10", sort="oldest")
    assert names_of(world, [p["id"] for p in oldest["photos"]]) == ["tokyo", "nogps", "lisbon"]
    assert api(world, end="2019-03-09")["total"] == 0
    tokyo, nogps, lisbon = (
        next(p for p in day["photos"] if p["id"] == world["ids"][n])
        for n in ("tokyo", "nogps", "lisbon")
    )
    assert (tokyo["taken_at"], tokyo["taken_at_utc"]) == (
        "2019-03-10T08:00:00",
        "2019-03-09T23:00:00",
    )
    assert (tokyo["offset_source"], tokyo["utc_offset"], tokyo["time_zone"]) == (
        "exif",
        "+09:00",
        "Asia/Tokyo",
    )
    assert (lisbon["offset_source"], lisbon["utc_offset"], lisbon["time_zone"]) == (
        "zone",
        "+00:00",
        "Europe/Lisbon",
    )
    assert lisbon["taken_at_utc"] == "2019-03-10T02:00:00"
    assert (nogps["offset_source"], nogps["taken_at_utc"], nogps["place"]) == ("none", None, None)
    assert lisbon["place"]["country_code"] == "PT" and lisbon["place"]["country"] == "Portugal"
    assert lisbon["place"]["region"] == "Lisbon" and lisbon["place"]["distance_km"] < 2
    # The whole archive, newest first, by the instant; the viewer's previous/next agree.
    every = names_of(world, [p["id"] for p in api(world)["photos"]])
    assert every == by_instant(world, set(BY_NAME))
    # A filter naming a class group (dog: beagle is one; photo_group drives) by the instant
    # too, its dates local (the window on photo_group.sort_time).
    grouped = {"classes": "dog", "start": "2019-03-10", "end": "2019-03-10"}
    day_order = ["lisbon", "nogps", "tokyo"]
    for sort, want in (("newest", day_order), ("oldest", day_order[::-1])):
        got = names_of(world, [p["id"] for p in api(world, **grouped, sort=sort)["photos"]])
        assert got == want, sort
    for sort in ("newest", "oldest"):
        got = names_of(world, [p["id"] for p in api(world, classes="dog", sort=sort)["photos"]])
        assert got == by_instant(world, set(BY_NAME), newest=sort == "newest"), sort
    html = world["client"].get(f"/photos/{world['ids']['nogps']}").get_data(as_text=True)
    assert (
        f'href="/photos/{world["ids"]["lisbon"]}' in html
        and f'href="/photos/{world["ids"]["tokyo"]}' in html
    )


# --- words ----------------------------------------------------------------------------------


def test_the_filter_in_words_names_places(world):
    def words(**args: str) -> str:
        return api(world, **args)["description"]

    assert words(lat="38.72", lon="-9.14", radius_km="20") == "within 20 km of Lisbon, Portugal"
    assert words(lat="38.80", lon="-9.39", radius_km="5") == "within 5 km of Sintra, Portugal"
    assert words(lat="40.0", lon="-30.0", radius_km="50") == (
        "within 50 km of a point at sea, 114 km from Santa Cruz das Flores, Portugal"
    )
    assert words(lat="-75", lon="0", radius_km="50") == "within 50 km of a point in Antarctica"
    assert words(country="pt") == "in Portugal"
    assert words(country="PT,es") == "in Portugal or Spain"
    assert words(place="lisbon") == "in Lisbon"
    assert words(place="Paris, Texas") == "in Paris, Texas"
    assert words(region="lisbon", country="PT") == "in Lisbon (region), Portugal"
    assert words(lat="38.72", lon="-9.14", sort="nearest").endswith(
        "; nearest to Lisbon, Portugal first"
    )


def test_captions_and_the_viewer_name_the_town_and_the_local_time(world):
    client = world["client"]
    grid = client.get("/?per_page=100").get_data(as_text=True)
    for s in SHOTS:
        if s.town:
            country = {
                "JP": "Japan",
                "PT": "Portugal",
                "ES": "Spain",
                "FR": "France",
                "US": "United States",
                "AU": "Australia",
            }[s.country]
            assert f'<span class="place">{s.town}, {country}</span>' in grid, s.name
    assert '<span class="place">at sea</span>' in grid
    view = client.get(f"/photos/{world['ids']['lisbon']}").get_data(as_text=True)
    district = world["stored"]["lisbon"].place
    assert (
        '<dd id="place">Lisbon, Portugal <span class="hint" id="place-detail">'
        + f"(nearest populated place: {district} (Lisbon, Portugal), "
        in view
    )
    assert "Sunday 10 March 2019, 02:00 (UTC+00:00, Europe/Lisbon)" in view
    tokyo = client.get(f"/photos/{world['ids']['tokyo']}").get_data(as_text=True)
    assert "Sunday 10 March 2019, 08:00 (UTC+09:00, Asia/Tokyo)" in tokyo
    sea = client.get(f"/photos/{world['ids']['atsea']}").get_data(as_text=True)
    assert '<dd id="place">at sea <span class="hint" id="place-detail">(at sea, ' in sea
    assert "Etc/GMT" not in sea  # a nautical zone's name reads backwards: not shown


def test_the_footer_credits_the_place_data(world):
    html = world["client"].get("/").get_data(as_text=True)
    footer = html[html.index('<footer class="site" id="attribution">') :]
    for needle in ("GeoNames", "CC BY 4.0", "OpenStreetMap", "ODbL", "timezone-boundary-builder"):
        assert needle in footer


# --- charts, report, exports ----------------------------------------------------------------


def test_the_place_charts_count_the_photos_of_each_country(world):
    body = world["client"].get("/charts.json").get_json()
    bars = body["figures"]["photos_per_country"]["data"][0]
    got = dict(zip(bars["customdata"], bars["x"], strict=True))
    ref: dict[str, int] = {}
    for s in SHOTS:
        if s.country:
            ref[s.country] = ref.get(s.country, 0) + 1
    assert got == ref
    heat = body["figures"]["countries_over_time"]["data"][0]
    per_country = {
        row[0]: sum(n or 0 for n in z) for row, z in zip(heat["customdata"], heat["z"], strict=True)
    }
    assert per_country == ref  # every photo has a capture date here
    # ordered by when: the first period with photos, earliest first (Australia's is July)
    firsts = [next(i for i, n in enumerate(z) if n) for z in heat["z"]]
    assert firsts == sorted(firsts) and heat["y"][-1] == "Australia"
    only_pt = world["client"].get("/charts.json?country=PT").get_json()
    assert only_pt["figures"]["photos_per_country"]["data"][0]["customdata"] == ["PT"]


def test_the_report_lists_the_places_and_a_private_one_names_none(world):
    client = world["client"]
    report = client.get("/report?country=PT,ES").get_data(as_text=True)
    countries = report[report.index('<ul id="countries"') :]
    assert 'data-code="PT">Portugal <strong>3</strong>' in countries
    assert 'data-code="ES">Spain <strong>1</strong>' in countries
    places = report[report.index('<ul id="place-list"') :]
    for town in ("Lisbon, Portugal", "Sintra, Portugal", "Porto, Portugal", "Madrid, Spain"):
        assert f"<li>{town} <strong>1</strong>" in places
    assert '<text class="label"' in report and "Lisbon · 1</text>" in report
    private = client.get("/report?country=PT,ES&privacy=1").get_data(as_text=True)
    bundle = private.index('<script id="plotly-bundle">')  # plotly.js knows every country
    private = private[:bundle] + private[private.index("</script>", bundle) :]
    assert "in a private place" in private
    for name in (
        "Portugal",
        "Spain",
        "Lisbon",
        "Sintra",
        "Porto",
        "Madrid",
        world["stored"]["lisbon"].place,
    ):
        assert name not in private, name
    assert 'id="places"' not in private and "countries_over_time" not in private
    rows = json.loads(client.get("/export.json?country=PT&privacy=1").get_data())
    assert rows["withheld"] == ["country"] and rows["filter"] == {}
    assert all("place" not in r and "country" not in r for r in rows["photos"])
    assert "Portugal" not in json.dumps(rows) and "Lisbon" not in json.dumps(rows)
    csv = client.get("/export.csv?country=PT&privacy=1").get_data(as_text=True)
    assert "country" not in csv.splitlines()[0] and "Portugal" not in csv
    public = client.get("/export.csv?country=PT").get_data(as_text=True).splitlines()
    assert public[0].split(",")[7:9] == ["country", "place"]
    assert any(',Portugal,"Lisbon, Portugal",' in line for line in public[1:])


@pytest.mark.databases("sqlite")
def test_the_listing_queries_read_the_instant_indexes(world):
    """EXPLAIN on SQLite: newest first and a class group's newest first walk the sort_time
    indexes (no temporary sort), a date range seeks the sort_time window."""
    from sqlalchemy.orm import Session

    from atw.core.engine import make_engine
    from atw.query.filters import PhotoFilter
    from atw.query.plan import Query

    engine = make_engine(world["app"].config["DATABASE_URL"])
    with Session(engine) as s:

        def plan(flt: PhotoFilter) -> str:
            stmt = Query(s, flt).ordered().limit(100)
            sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
            return " | ".join(r[-1] for r in s.execute(text("EXPLAIN QUERY PLAN " + sql)))

        newest = plan(PhotoFilter())
        assert "ix_photo_sort_time" in newest and "TEMP B-TREE" not in newest, newest
        dated = plan(
            PhotoFilter(start=datetime(2019, 3, 10).date(), end=datetime(2019, 3, 11).date())
        )
        assert "ix_photo_sort_time (sort_time>? AND sort_time<?)" in dated, dated
        country = plan(PhotoFilter(country=("PT",)))
        assert "ix_photo_place" in country, country
        # A class group (photo_group) likewise: its instant index, the window on its dates.
        group = plan(PhotoFilter(classes=("dog",)))
        assert "ix_photo_group_sort (grp=?)" in group and "TEMP B-TREE" not in group, group
        group_dated = plan(
            PhotoFilter(
                classes=("dog",),
                start=datetime(2019, 3, 10).date(),
                end=datetime(2019, 3, 11).date(),
            )
        )
        window = "ix_photo_group_sort (grp=? AND sort_time>? AND sort_time<?)"
        assert window in group_dated and "TEMP B-TREE" not in group_dated, group_dated
