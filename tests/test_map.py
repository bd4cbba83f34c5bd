"""The maps in a real, offline Chromium (issue 12): the world outline is the base layer where the
tiles do not load, drawn where Leaflet puts the places (land pixels over land, sea over sea), a
click lands where meant, no tile is requested after the first failure, the caption counts the
points, the search circle follows its fields, and a result without positions says so."""

from __future__ import annotations

import io
import shutil
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from PIL import Image

from tests.browser import chromium, live_server, screenshot, wait_until
from tests.conftest import EXIF_DIR, fresh_app, index, need_shared
from tests.photos import write_jpeg

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TILE_HOST = "tile.openstreetmap.org"
LAND = (0x2A, 0x33, 0x3D)  # map.js: the land fill …
SEA = (0x14, 0x21, 0x2E)  # … and map.css: the sea under it
# Far from every photo of the shared EXIF folder (whose positions are drawn as orange dots).
LAND_PLACES = [(27.0, 3.0), (-10.0, -50.0), (48.0, 68.0), (-25.0, 135.0)]
SEA_PLACES = [(30.0, -40.0), (-25.0, 80.0), (0.0, -140.0), (10.0, -30.0)]
LISBON = (38.7223, -9.1393)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The shared EXIF folder (41 files with GPS over the world, Fiji and Russia among them) and
    three photos written here without GPS, indexed without labellers (positions only)."""
    need_shared(EXIF_DIR)
    base = tmp_path_factory.mktemp("maps")
    photos = base / "photos"
    shutil.copytree(EXIF_DIR, photos / "exif")
    for i in range(3):
        write_jpeg(photos / "nogps" / f"nogps_{i}.jpg", taken=f"2020:0{i + 1}:10 10:00:00")
    app = fresh_app(base / "instance", PER_PAGE=30)
    index(app, photos)
    with live_server(app) as url:
        yield app, url


def api(app: Any, query: str) -> dict[str, Any]:
    r = app.test_client().get("/api/photos?per_page=500&" + query)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def tile_requests(page: Any) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda req: seen.append(req.url) if TILE_HOST in req.url else None)
    return seen


def map_point(page: Any, lat: float, lon: float, which: str = "atwMap") -> tuple[float, float]:
    """Page coordinates of a position, from Leaflet's own projection."""
    x, y = page.evaluate(
        "([w, lat, lon]) => { const p = window[w].latLngToContainerPoint([lat, lon]);"
        " return [p.x, p.y]; }",
        [which, lat, lon],
    )
    box = page.locator("#map" if which == "atwMap" else "#minimap").bounding_box()
    assert 0 <= x < box["width"] and 0 <= y < box["height"], (lat, lon, "outside the map")
    return box["x"] + x, box["y"] + y


def near(rgb: tuple[int, ...], want: tuple[int, int, int], tol: int = 6) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(rgb[:3], want, strict=True))


def test_offline_the_map_draws_the_world_and_a_click_lands_where_meant(site):
    app, url = site
    total = api(app, "")["total"]
    located = api(app, "has_gps=yes")["total"]
    with chromium() as page:  # the network is blocked: no tile loads
        tiles = tile_requests(page)
        page.goto(url + "/")
        wait_until(page, "document.getElementById('map').dataset.loaded !== undefined")
        wait_until(page, "document.getElementById('map').dataset.outlines === '1'")
        wait_until(page, "document.getElementById('map').dataset.tiles === 'offline'")
        assert page.locator("#map .leaflet-land-pane path.land").count() == 3  # world × 3 copies
        assert page.locator("#map .leaflet-land-pane path.coast").count() == 3
        assert page.is_visible("#map-note")
        # The caption counts what the API counts.
        assert page.inner_text("#map-caption") == (
            f"{located} photos on the map; {total - located} without a position."
        )
        assert located > 30 and total - located >= 3
        screenshot(page, "home-offline-map")
        # The outline lies where Leaflet puts the places: land pixels on land, sea on sea.
        page.evaluate("void window.atwMap.setView([10, 20], 2, {animate: false})")
        page.wait_for_timeout(300)
        shot = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
        for lat, lon in LAND_PLACES:
            x, y = map_point(page, lat, lon)
            assert near(shot.getpixel((round(x), round(y))), LAND), ("land", lat, lon)
        for lat, lon in SEA_PLACES:
            x, y = map_point(page, lat, lon)
            assert near(shot.getpixel((round(x), round(y))), SEA), ("sea", lat, lon)
        # A click on Lisbon's pixel at world zoom sets Lisbon (within a pixel's worth).
        x, y = map_point(page, *LISBON)
        page.mouse.click(x, y)
        deg_per_px = 360 / (256 * 2**2)
        lat, lon = float(page.input_value("#lat")), float(page.input_value("#lon"))
        assert abs(lat - LISBON[0]) < 2 * deg_per_px and abs(lon - LISBON[1]) < 2 * deg_per_px
        assert page.input_value("#radius_km") == "20"
        # At world zoom the 20 km circle is a dot: the centre has a marker.
        assert page.locator("#map .leaflet-marker-icon").count() == 1
        # The click was meant for Tuscany in the report: zoomed in, it lands within metres.
        page.evaluate("void window.atwMap.setView([43.5, 11.0], 9, {animate: false})")
        x, y = map_point(page, 43.77, 11.25)  # Florence
        page.mouse.click(x, y)
        lat, lon = float(page.input_value("#lat")), float(page.input_value("#lon"))
        assert abs(lat - 43.77) < 0.005 and abs(lon - 11.25) < 0.005
        # One probe tile at most, however long the page stays open and however it is moved.
        page.evaluate("void window.atwMap.setView([0, 0], 5, {animate: false})")
        page.wait_for_timeout(500)
        assert len(tiles) <= 1, tiles
        # The next page of the session does not even probe.
        page.goto(url + "/?has_gps=yes")
        wait_until(page, "document.getElementById('map').dataset.tiles === 'offline'")
        assert len(tiles) <= 1, tiles
        assert not page.js_errors


def circle_radius(page: Any) -> float | None:
    return page.evaluate(
        "() => { let r = null; window.atwMap.eachLayer(l => {"
        " if (l instanceof L.Circle) r = l.getRadius(); }); return r; }"
    )


def test_the_search_circle_follows_its_fields_and_the_view_fits_it(site):
    app, url = site
    with chromium() as page:
        page.goto(url + "/")
        wait_until(page, "document.getElementById('map').dataset.loaded !== undefined")
        x, y = map_point(page, 43.77, 11.25)
        page.mouse.click(x, y)
        assert circle_radius(page) == 20_000
        # Typing a radius redraws the circle at once, and shows all of it.
        page.fill("#radius_km", "500")
        wait_until(page, "document.getElementById('map').dataset.circle === '500'")
        assert circle_radius(page) == 500_000
        inside = page.evaluate(
            "() => { let c = null;"
            " window.atwMap.eachLayer(l => { if (l instanceof L.Circle) c = l; });"
            " return window.atwMap.getBounds().contains(c.getBounds()); }"
        )
        assert inside
        page.fill("#radius_km", "5")
        wait_until(page, "document.getElementById('map').dataset.circle === '5'")
        assert circle_radius(page) == 5_000
        # Moving the centre by its fields moves marker and circle.
        page.fill("#lat", "-17.77")
        page.fill("#lon", "177.37")
        page.dispatch_event("#lon", "change")
        centre = page.evaluate(
            "() => { let c = null;"
            " window.atwMap.eachLayer(l => { if (l instanceof L.Circle) c = l; });"
            " const ll = c.getLatLng(); return [ll.lat, ll.lng]; }"
        )
        assert centre == [-17.77, 177.37]
        # Clearing the radius leaves the marker alone.
        page.fill("#radius_km", "")
        wait_until(page, "document.getElementById('map').dataset.circle === undefined")
        assert circle_radius(page) is None
        assert page.locator("#map .leaflet-marker-icon").count() == 1
        # A search: the page opens fitted to the circle (Fiji, across the date line).
        page.fill("#radius_km", "300")
        page.click("#apply")
        page.wait_for_load_state()
        q = parse_qs(urlparse(page.url).query)
        assert q["radius_km"] == ["300"]
        wait_until(page, "document.getElementById('map').dataset.loaded !== undefined")
        fitted = page.evaluate(
            "() => { let c = null;"
            " window.atwMap.eachLayer(l => { if (l instanceof L.Circle) c = l; });"
            " const b = window.atwMap.getBounds(), cb = c.getBounds();"
            " return [b.contains(cb), window.atwMap.getZoom()]; }"
        )
        assert fitted[0] and fitted[1] >= 5, fitted
        want = api(app, "lat=-17.77&lon=177.37&radius_km=300")["total"]
        assert want >= 1 and page.inner_text("#map-caption").startswith(f"{want} photo")
        screenshot(page, "home-radius-fiji")
        assert not page.js_errors


def test_a_result_without_positions_says_so(site):
    app, url = site
    total = api(app, "has_gps=no")["total"]
    assert total > 3
    with chromium() as page:
        page.goto(url + "/?has_gps=no")
        wait_until(page, "document.getElementById('map').dataset.loaded !== undefined")
        assert page.inner_text("#map-caption").startswith(
            f"None of these {total} photos has a position"
        )
        assert not page.is_visible("#map") and not page.is_visible("#map-note")
        screenshot(page, "home-no-gps")
        # The viewer of a photo without GPS says so in place of the mini map.
        page.click("#grid .tile a")
        page.wait_for_load_state()
        assert page.locator("#minimap").count() == 0
        assert "No position" in page.inner_text("#no-position")
        assert not page.js_errors


def test_the_viewers_mini_map_shows_the_place_offline(site):
    app, url = site
    fiji = api(app, "lat=-17.77&lon=177.37&radius_km=5")["photos"][0]
    with chromium() as page:
        page.goto(f"{url}/photos/{fiji['id']}")
        wait_until(page, "document.getElementById('minimap').dataset.tiles === 'offline'")
        wait_until(page, "document.getElementById('minimap').dataset.outlines === '1'")
        # Offline, a street-level view would be an empty square: the country scale instead.
        assert page.evaluate("window.atwMiniMap.getZoom()") == 3
        assert page.locator("#minimap .leaflet-land-pane path.coast").count() == 3
        assert page.locator("#minimap .leaflet-marker-icon").count() == 1
        page.locator("#minimap").scroll_into_view_if_needed()
        screenshot(page, "viewer-minimap-offline")
        assert not page.js_errors


def test_the_map_points_count_every_located_photo_past_the_limit(site):
    app, _url = site
    located = api(app, "has_gps=yes")["total"]
    c = app.test_client()
    full = c.get("/api/map?limit=1000").get_json()
    assert len(full["points"]) == full["located"] == located and not full["truncated"]
    cut = c.get("/api/map?limit=5").get_json()
    assert len(cut["points"]) == 5 and cut["truncated"] and cut["located"] == located
    none = c.get("/api/map?has_gps=no").get_json()
    assert none == {"points": [], "truncated": False, "located": 0}


def test_the_reports_offline_map_has_no_line_across_the_world(site, tmp_path):
    from atw.present import reports
    from atw.query.filters import parse
    from atw.web import db
    from tests.conftest import ARTIFACTS

    app, _url = site
    located = api(app, "has_gps=yes")["total"]
    with app.app_context():
        body = reports.build_report(db.session(), parse({}), app.config["THUMBS_DIR"])
    path = tmp_path / "report.html"
    path.write_bytes(body)
    with chromium(block_network=False) as page:
        page.route(
            "**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort()
        )
        page.goto(path.as_uri())
        page.locator("body[data-ready]").wait_for()
        assert page.locator("#worldmap path.land").count() == 1
        assert page.locator("#worldmap path.coast").count() == 1
        assert page.locator("#worldmap circle.dot").count() == located
        # The coast is stroked, the land is not (its cut edges would draw the date line).
        assert (
            page.evaluate("getComputedStyle(document.querySelector('#worldmap path.land')).stroke")
            == "none"
        )
        # No stroked segment crosses the map: its widest is a few degrees, not 360.
        widest = page.evaluate(
            "() => { const p = document.querySelector('#worldmap path.coast');"
            " let w = 0; for (const sub of p.getAttribute('d').split('M').slice(1)) {"
            " const xs = sub.split('L').map(s => Number(s.split(',')[0]));"
            " for (let i = 1; i < xs.length; i++) w = Math.max(w, Math.abs(xs[i] - xs[i - 1])); }"
            " return w; }"
        )
        assert widest < 20 * 2  # 2 units per degree
        page.locator("#worldmap").scroll_into_view_if_needed()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.locator("#worldmap").screenshot(path=str(ARTIFACTS / "report-map.png"))
        assert not page.js_errors
