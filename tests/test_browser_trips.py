"""The Trips page in a real Chromium, offline: every trip's route drawn (a leg between each two
located photos in UTC order, one colour per day, the Pacific trip the short way across 180°),
the header link, and a trip's link setting the filter, kept when another filter is applied."""

from __future__ import annotations

import colorsys
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests import trip_world
from tests.browser import chromium, live_server, screenshot, wait_until
from tests.conftest import fresh_app


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Any:
    base = tmp_path_factory.mktemp("trips-browser")
    app = fresh_app(base / "instance")
    trip_world.build(app, base / "photos")
    with live_server(app) as url:
        yield app, url


def day_colour(i: int) -> tuple[int, int, int]:
    """atw/static/trips.js colour(i): hsl((i·137.508 + 25) mod 360, 85 %, 60 %) as RGB."""
    r, g, b = colorsys.hls_to_rgb(((i * 137.508 + 25) % 360) / 360, 0.60, 0.85)
    return round(r * 255), round(g * 255), round(b * 255)


def pixels_near(img: Image.Image, rgb: tuple[int, int, int], tol: int = 12) -> int:
    return sum(
        1
        for p in img.get_flattened_data()
        if abs(p[0] - rgb[0]) <= tol and abs(p[1] - rgb[1]) <= tol and abs(p[2] - rgb[2]) <= tol
    )


def test_the_trips_page_draws_each_route_and_its_link_sets_the_filter(site: Any) -> None:
    app, url = site
    trips = app.test_client().get("/api/trips").get_json()["trips"]
    with chromium() as page:
        page.goto(url + "/")
        page.click("#trips-nav")
        page.wait_for_url(url + "/trips")
        items = page.locator("li.trip")
        assert items.count() == len(trips) == 4
        names = page.locator(".trip-name").all_inner_texts()
        assert names == [t["name"] for t in reversed(trips)]  # newest first
        for t in trips:
            sel = f"#trip-{t['id']} .trip-map"
            page.locator(sel).scroll_into_view_if_needed()
            wait_until(page, f"() => document.querySelector('{sel}').dataset.drawn === '1'")
            data = page.locator(sel).evaluate("el => Object.assign({}, el.dataset)")
            assert int(data["points"]) == t["located"]
            assert int(data["legs"]) == t["located"] - 1
            assert data["tiles"] == "offline"  # no tile left the machine
        pacific = page.locator("#trip-2015-03-09 .trip-map").evaluate("el => el.dataset.span")
        assert float(pacific) < 40  # Suva → Taveuni → Honolulu: ≈ 24° the short way, not 336°
        page.locator("#trips").scroll_into_view_if_needed()
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, "trips")
        japan = page.locator("#trip-2014-10-04 .trip-map")
        japan.scroll_into_view_if_needed()
        shot = Image.open(io.BytesIO(japan.screenshot())).convert("RGB")
        shot.save(Path(screenshot.__globals__["ARTIFACTS"]) / "trips-japan-map.png")
        # the long legs, each in the colour of the day of the photo it leads to: Tokyo → Kyoto
        # (day 2, magenta), Osaka → Tokyo (day 8, yellow); Kyoto → Osaka is a few pixels
        # under its dots, the other legs join photos taken at one spot
        seen = [i for i in range(10) if pixels_near(shot, day_colour(i)) >= 20]
        assert {2, 8} <= set(seen), seen
        legend = page.locator("#trip-2014-10-04 .trip-days .day").all_inner_texts()
        assert legend == ["4/10", "5/10", "6/10", "7/10", "9/10", "11/10", "12/10", "13/10"]

        page.click("#trip-2014-10-04 .trip-link")
        page.wait_for_url("**/?trip=2014-10-04")
        assert page.inner_text("#total") == "11"
        assert "on the trip Japan, Oct 2014 — Tokyo, Kyoto, Osaka" in page.inner_text(
            "#description"
        )
        assert page.inner_text("#trip-name") == "Japan, Oct 2014 — Tokyo, Kyoto, Osaka"
        assert page.locator("#grid li.tile").count() == 11
        # another filter with the trip: the panel keeps it
        page.select_option("select[name=has_gps]", "yes")
        page.click("#apply")
        page.wait_for_url("**has_gps=yes**")
        assert "trip=2014-10-04" in page.url and page.inner_text("#total") == "10"
        screenshot(page, "trips-filter")
        page.click("#trip-remove")
        page.wait_for_load_state()
        assert "trip=" not in page.url and page.inner_text("#total") != "10"
        assert page.js_errors == []  # type: ignore[attr-defined]
