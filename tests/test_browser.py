"""The dashboard in a real headless Chromium: filters change the grid, the viewer draws boxes,
a map click sets the radius centre, and a shared URL reproduces the results."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from PIL import Image

from tests.browser import chromium, live_server, screenshot, wait_until
from tests.conftest import COCO_DIR, MODEL_CONFIG, index, need_shared
from tests.photos import write_jpeg

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# (coco128 image, capture time, position): Lisbon, Porto, Madrid, New York, Sydney.
ARCHIVE = [
    ("000000000009", "2014:06:05 12:00:00", (38.7223, -9.1393)),  # food
    ("000000000025", "2014:06:20 09:30:00", (38.7100, -9.1500)),  # giraffes
    ("000000000036", "2014:07:02 18:00:00", (41.1579, -8.6291)),  # a person with an umbrella
    ("000000000061", "2014:07:30 08:00:00", (40.4168, -3.7038)),  # people, elephants
    ("000000000064", "2015:03:01 10:00:00", (40.7128, -74.0060)),
    ("000000000071", "2015:08:15 16:00:00", (-33.8688, 151.2093)),
    ("000000000072", "2016:01:10 11:00:00", None),
    ("000000000073", "2016:05:05 07:00:00", (38.7369, -9.1427)),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):  # type: ignore[no-untyped-def]
    need_shared()
    from atw import create_app

    tmp = tmp_path_factory.mktemp("browser")
    root = tmp / "photos"
    for stem, taken, gps in ARCHIVE:
        img = Image.open(COCO_DIR / "images" / "train2017" / f"{stem}.jpg").convert("RGB")
        write_jpeg(
            root / f"{stem}.jpg",
            img,
            taken=taken,
            offset="+01:00",
            gps=gps,
            make="Canon",
            model="EOS 6D",
        )
    app = create_app(
        {
            **MODEL_CONFIG,
            "TESTING": True,
            "INSTANCE_PATH": str(tmp / "instance"),
            "INDEX_WORKERS": 2,
            "PER_PAGE": 100,
        }
    )
    index(app, root)
    with live_server(app) as url:
        yield app, url


def api(app, query: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    r = app.test_client().get("/api/photos?per_page=500&" + query)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def grid_ids(page) -> list[int]:  # type: ignore[no-untyped-def]
    return [
        int(x)
        for x in page.eval_on_selector_all("#grid .tile", "els => els.map(e => e.dataset.id)")
    ]


def test_dates_and_a_class_change_the_grid(site):
    app, url = site
    everything = api(app, "")
    # A class the detector found in some but not all of the June–July photos (from the index).
    dates = "start=2014-06-01&end=2014-07-31"
    classes = app.test_client().get(f"/api/classes?source=coco&{dates}").get_json()
    cls = next(c["label"] for c in classes if 0 < c["photos"] < 4)
    with chromium() as page:
        page.goto(url + "/")
        assert sorted(grid_ids(page)) == sorted(p["id"] for p in everything["photos"])
        assert page.inner_text("#total") == str(everything["total"])
        page.fill("input[name=start]", "2014-06-01")
        page.fill("input[name=end]", "2014-07-31")
        page.click("#apply")
        page.wait_for_load_state()
        june_july = [
            p["id"] for p in everything["photos"] if p["taken_at"][:7] in ("2014-06", "2014-07")
        ]
        assert sorted(grid_ids(page)) == sorted(june_july) and len(june_july) == 4
        # Type the start of the class name and pick it from the autocomplete (with its count).
        page.fill("#classes", cls[:3])
        page.locator("#class-suggest li", has_text=cls).first.click()
        assert page.input_value("#classes") == cls  # no trailing ", " left by the pick
        page.click("#apply")
        page.wait_for_load_state()
        assert parse_qs(urlparse(page.url).query)["classes"] == [cls]
        want = api(app, f"{dates}&classes={cls}")
        assert sorted(grid_ids(page)) == sorted(p["id"] for p in want["photos"])
        assert page.inner_text("#total") == str(want["total"])
        assert cls in page.inner_text("#description")
        screenshot(page, "dashboard-filtered")
        assert not page.js_errors


def test_viewer_draws_the_stored_boxes_and_toggles_them(site):
    app, url = site
    photos = api(app, "")["photos"]
    target = max(photos, key=lambda p: len(p["detections"]))
    assert target["detections"], "the detector found nothing in the test archive"
    with chromium() as page:
        page.goto(url + "/")
        page.click(f"#grid .tile[data-id='{target['id']}'] a")
        page.wait_for_load_state()
        wait_until(page, "document.getElementById('photo').complete")
        assert page.locator("#boxes rect").count() == len(target["detections"])
        assert page.evaluate("document.getElementById('photo').naturalWidth") > 400
        labels = page.inner_text("#objects")
        assert all(d["label"] in labels for d in target["detections"])
        screenshot(page, "viewer-boxes")
        # Each box sits where the stored normalised box says, over the displayed photo.
        img = page.locator("#photo").bounding_box()
        first = page.locator("#boxes rect").first.bounding_box()
        d0 = target["detections"][0]["box"]
        assert abs(first["x"] - (img["x"] + d0[0] * img["width"])) < 3
        assert abs(first["y"] - (img["y"] + d0[1] * img["height"])) < 3
        page.uncheck("#toggle-boxes")
        assert not page.locator("#boxes").is_visible()
        assert not page.js_errors


def test_map_click_sets_the_centre_and_the_radius_filter_applies(site):
    app, url = site
    with chromium() as page:  # the network is blocked: no tiles, the map must still work
        page.goto(url + "/")
        wait_until(page, "document.getElementById('map').dataset.loaded !== undefined")
        assert int(page.get_attribute("#map", "data-loaded")) == 7  # photos with GPS
        # Zoom to Lisbon, then click it.
        pt = page.evaluate(
            "(() => { window.atwMap.setView([38.72, -9.14], 10, {animate: false});"
            " const p = window.atwMap.latLngToContainerPoint([38.72, -9.14]);"
            " return [p.x, p.y]; })()"
        )
        box = page.locator("#map").bounding_box()
        page.mouse.click(box["x"] + pt[0], box["y"] + pt[1])
        lat, lon = float(page.input_value("#lat")), float(page.input_value("#lon"))
        assert abs(lat - 38.72) < 0.01 and abs(lon + 9.14) < 0.01
        page.fill("#radius_km", "30")
        page.click("#apply")
        page.wait_for_load_state()
        q = parse_qs(urlparse(page.url).query)
        assert q["radius_km"] == ["30"] and "lat" in q and "lon" in q
        want = api(app, f"lat={q['lat'][0]}&lon={q['lon'][0]}&radius_km=30")
        assert sorted(grid_ids(page)) == sorted(p["id"] for p in want["photos"])
        assert {Path(p["paths"][0]).stem for p in want["photos"]} == {
            "000000000009",
            "000000000025",
            "000000000073",
        }
        screenshot(page, "dashboard-radius")
        assert not page.js_errors


def test_a_shared_url_reopens_the_same_results(site):
    app, url = site
    with chromium() as page:
        page.goto(url + "/?start=2014-01-01&end=2015-12-31&has_gps=yes&sort=oldest")
        first = grid_ids(page)
        shared = page.url
    with chromium() as page:
        page.goto(shared)
        assert grid_ids(page) == first
        assert page.input_value("input[name=start]") == "2014-01-01"
    want = api(app, "start=2014-01-01&end=2015-12-31&has_gps=yes&sort=oldest")
    assert first == [p["id"] for p in want["photos"]]
