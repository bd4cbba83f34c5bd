"""Places in a real, offline Chromium (issue 13): the map's "Find a place" box centres the radius
filter on a place of the offline gazetteer and lists the places of an ambiguous name, the place
fields complete from the filtered photos, the grid's captions name towns, and /charts draws the
countries. Network blocked (loopback only), the pages' Content-Security-Policy enforced;
screenshots in test-artifacts/."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.browser import chromium, live_server, screenshot, wait_until
from tests.conftest import ARTIFACTS, fresh_app, index
from tests.photos import pattern, write_jpeg

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FORM = "() => document.getElementById('place-search-form')"

SHOTS = [  # (name, EXIF time, position)
    ("lisbon", "2019:03:10 02:00:00", (38.7223, -9.1393)),
    ("sintra", "2019:03:11 10:00:00", (38.7976, -9.3904)),
    ("porto", "2019:03:12 10:00:00", (41.1496, -8.6109)),
    ("madrid", "2019:04:01 10:00:00", (40.4168, -3.7038)),
    ("paris", "2019:05:01 10:00:00", (48.8566, 2.3522)),
    ("tokyo", "2019:06:10 08:00:00", (35.6895, 139.6917)),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Any:
    base = tmp_path_factory.mktemp("browser-places")
    for i, (name, taken, gps) in enumerate(SHOTS):
        write_jpeg(base / "photos" / f"{name}.jpg", pattern(seed=i), taken=taken, gps=gps)
    app = fresh_app(base / "instance")
    index(app, base / "photos")
    with live_server(app) as url:
        yield app, url


def fields(page: Any) -> tuple[str, str, str]:
    return (
        page.input_value("#lat"),
        page.input_value("#lon"),
        page.input_value("#radius_km"),
    )


def test_the_place_box_centres_the_radius_filter_offline(site):
    _app, url = site
    with chromium() as page:
        page.goto(url + "/")
        wait_until(page, "() => !!document.getElementById('map').dataset.loaded")
        assert page.is_visible("#place-search")
        page.fill("#place-search", "Lisbon")
        page.press("#place-search", "Enter")
        wait_until(page, "() => !!document.getElementById('place-search-form').dataset.centred")
        lat, lon, radius = fields(page)
        assert abs(float(lat) - 38.71667) < 1e-3 and abs(float(lon) + 9.13333) < 1e-3
        assert radius == "20"  # a radius is set when none was
        centre = page.get_attribute("#map", "data-centre")
        assert centre == f"{float(lat):.5f},{float(lon):.5f}"  # map.js drew the centre
        assert page.get_attribute("#map", "data-circle") == "20"
        note = page.text_content("#place-search-note")
        assert "Centre: Lisbon, Portugal · 517,802 people" in note
        shown = page.locator("#place-results li").all_text_contents()
        assert shown[0].startswith("Lisbon, Portugal") and any("Maine" in s for s in shown)
        screenshot(page, "places-search-lisbon")

        # An ambiguous name: every Paris with its country (and region) and population.
        page.fill("#place-search", "Paris")
        page.press("#place-search", "Enter")
        wait_until(
            page,
            FORM + ".dataset.centred.indexOf('Paris') === 0",
        )
        wait_until(page, "() => !document.getElementById('place-results').hidden")
        shown = page.locator("#place-results li").all_text_contents()
        assert shown[0] == "Paris, France · 2,138,551 people"
        assert any(s.startswith("Paris, Texas, United States · ") for s in shown), shown
        assert any("Canada" in s for s in shown) and len(shown) >= 5
        screenshot(page, "places-search-paris")
        page.locator("#place-results li", has_text="Paris, Texas").first.dispatch_event("mousedown")
        lat, lon, _r = fields(page)
        assert abs(float(lat) - 33.66094) < 1e-3 and abs(float(lon) + 95.55551) < 1e-3
        assert page.get_attribute("#map", "data-centre").startswith("33.66094,")

        # Applying the filter: the page describes the centre by its place.
        page.fill("#place-search", "Lisbon")
        page.press("#place-search", "Enter")
        wait_until(
            page,
            FORM + ".dataset.centred === 'Lisbon, Portugal'",
        )
        page.click("#apply")
        page.wait_for_load_state("load")
        query = parse_qs(urlparse(page.url).query)
        assert query["radius_km"] == ["20"] and abs(float(query["lat"][0]) - 38.71667) < 1e-3
        assert page.text_content("#description") == "within 20 km of Lisbon, Portugal"
        assert page.text_content("#total") == "1"
        page.fill("#place-search", "Xqzzy")
        page.press("#place-search", "Enter")
        wait_until(
            page,
            "() => document.getElementById('place-search-note').textContent.startsWith('No place')",
        )
        assert page.js_errors == []


def test_place_fields_complete_and_captions_name_towns(site):
    _app, url = site
    with chromium() as page:
        page.goto(url + "/")
        captions = page.locator("#grid .cap .place").all_text_contents()
        assert sorted(captions) == sorted(
            [
                "Lisbon, Portugal",  # its nearest place is a district of Lisbon
                "Sintra, Portugal",
                "Porto, Portugal",
                "Madrid, Spain",
                "Paris, France",
                "Tokyo, Japan",
            ]
        )
        page.click("#country")
        page.keyboard.type("por")
        wait_until(page, "() => !document.getElementById('country-suggest').hidden")
        items = page.locator("#country-suggest li").all_text_contents()
        assert items == ["Portugal (3)"]
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        assert page.input_value("#country") == "Portugal"
        page.click("#place")
        page.keyboard.type("Sin")
        wait_until(page, "() => !document.getElementById('place-suggest').hidden")
        assert page.locator("#place-suggest li").all_text_contents() == [
            "Sintra — Lisbon, Portugal (1)"
        ]
        screenshot(page, "places-autocomplete")
        page.locator("#place-suggest li").first.dispatch_event("mousedown")
        page.click("#apply")
        page.wait_for_load_state("load")
        assert page.text_content("#description") == "in Sintra, Portugal"
        assert page.text_content("#total") == "1"
        # A misspelt place: the field says so, the rest of the filter applies.
        page.goto(url + "/?country=Portugal&place=Sintr")
        err = page.text_content("label.fld.bad .err")
        assert err == "Place: no place named 'Sintr' — did you mean Sintra or Sinor?"
        assert page.text_content("#total") == "3"
        screenshot(page, "places-bad-name")
        # Counted within the filter the page shows: from 11 March, Lisbon's photo is out.
        page.goto(url + "/?start=2019-03-11")
        page.click("#country")
        page.keyboard.type("por")
        wait_until(page, "() => !document.getElementById('country-suggest').hidden")
        assert page.locator("#country-suggest li").all_text_contents() == ["Portugal (2)"]
        assert page.js_errors == []


def test_the_charts_page_draws_the_countries(site):
    _app, url = site
    with chromium() as page:
        page.goto(url + "/charts")
        wait_until(page, "() => Number(document.getElementById('charts').dataset.ready || 0) > 0")
        bars = page.evaluate(
            "() => { const d = document.getElementById('chart-photos_per_country').data[0];"
            " return [d.y, d.x]; }"
        )
        assert dict(zip(bars[0], bars[1], strict=True)) == {
            "Portugal": 3,
            "Spain": 1,
            "France": 1,
            "Japan": 1,
        }
        rows = page.evaluate("() => document.getElementById('chart-countries_over_time').data[0].y")
        assert rows == ["Portugal", "Spain", "France", "Japan"]  # in the order of the trip
        labels = page.locator("#chart-photos_per_country .ytick text").all_text_contents()
        assert set(labels) == {"Portugal", "Spain", "France", "Japan"}
        page.locator("#chart-photos_per_country").scroll_into_view_if_needed()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for name, el in (
            ("countries", "photos_per_country"),
            ("where-when", "countries_over_time"),
        ):
            page.locator(f"#chart-{el}").screenshot(
                path=str(ARTIFACTS / f"places-chart-{name}.png")
            )
        assert page.js_errors == []


def test_the_report_lists_the_places_and_labels_them_on_its_map(site, tmp_path):
    """The HTML report of a filter (downloaded, opened from its file with the network blocked):
    its countries and places with counts, and its map naming the towns, each label on the map
    and clear of the others."""
    from tests.test_reports import open_report

    app, _url = site
    report = app.test_client().get("/report?country=PT,ES")
    assert report.status_code == 200
    path = tmp_path / "report.html"
    path.write_bytes(report.data)
    with chromium(block_network=False) as page:  # open_report blocks it, file: excepted
        assert open_report(page, path) == []
        countries = page.locator("#countries li").all_inner_texts()
        assert countries == ["Portugal 3", "Spain 1"]
        places = page.locator("#place-list li").all_inner_texts()
        assert sorted(places) == sorted(
            ["Lisbon, Portugal 1", "Sintra, Portugal 1", "Porto, Portugal 1", "Madrid, Spain 1"]
        )
        boxes = page.evaluate(
            "() => { const svg = document.getElementById('worldmap').getBoundingClientRect();"
            " return [[svg.left, svg.top, svg.right, svg.bottom],"
            " [...document.querySelectorAll('#map-labels text')].map(t => {"
            " const r = t.getBoundingClientRect();"
            " return [t.textContent, r.left, r.top, r.right, r.bottom]; })]; }"
        )
        frame, labels = boxes
        named = {text.split(" · ")[0] for text, *_r in labels}
        assert (
            {"Madrid"} <= named
            and named & {"Lisbon", "Sintra"}
            and named
            <= {
                "Lisbon",
                "Sintra",
                "Porto",
                "Madrid",
            }
        )
        for text, left, top, right, bottom in labels:
            assert frame[0] <= left and right <= frame[2] and frame[1] <= top <= frame[3], text
            assert right - left > 10 and bottom - top >= 6, text  # drawn, of a readable size
        for i, a in enumerate(labels):
            for b in labels[i + 1 :]:
                apart = a[3] <= b[1] or b[3] <= a[1] or a[4] <= b[2] or b[4] <= a[2]
                assert apart, (a[0], b[0])
        page.locator("#places").screenshot(path=str(ARTIFACTS / "places-report-list.png"))
        page.locator("#worldmap").screenshot(path=str(ARTIFACTS / "places-report-map.png"))
        assert page.js_errors == []


def test_the_viewer_names_the_town_and_the_local_time(site):
    app, url = site
    photos = app.test_client().get("/api/photos?per_page=100").get_json()["photos"]
    ids = {p["file_name"]: p["id"] for p in photos}
    with chromium() as page:
        page.goto(f"{url}/photos/{ids['sintra.jpg']}")
        assert page.inner_text("#place").startswith("Sintra, Portugal (nearest populated place: ")
        taken = page.locator("dd time")
        assert taken.inner_text() == "Monday 11 March 2019, 10:00 (UTC+00:00, Europe/Lisbon)"
        assert taken.get_attribute("datetime") == "2019-03-11T10:00:00+00:00"
        screenshot(page, "places-viewer-sintra")
        page.goto(f"{url}/photos/{ids['tokyo.jpg']}")
        assert page.inner_text("#place").startswith("Tokyo, Japan")
        assert page.inner_text("dd time") == "Monday 10 June 2019, 08:00 (UTC+09:00, Asia/Tokyo)"
        assert page.js_errors == []
