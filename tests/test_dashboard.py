"""The pages forgive (issue 12), with the real Flask client over a real index: a bad field is left
out and named beside its field while the rest of the filter applies; reports and exports answer a
browser with a page; a page past the end shows the last page; an over-large per_page is said;
the class autocomplete ranks word starts first; the viewer leads back to the photo's grid page."""

from __future__ import annotations

import re
from datetime import date
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.conftest import fresh_app
from tests.test_query import (
    LISBON,
    P,
    build_world,
    fixture_world,  # noqa: F401  (the query tests' world, a fixture)
    session_of,
)

PER_PAGE, MAX_PER_PAGE = 10, 20


def world() -> list[P]:
    """27 photos, one a day from 2012-12-20: classes chosen so that the autocomplete's order
    is known (window screen is in more photos than dog, hot dog in fewer)."""
    ps = []
    for i in range(27):
        day = 20 + i
        month, day = (12, day) if day <= 31 else (1, day - 31)
        year = 2012 if month == 12 else 2013
        p = P(f"p{i:02d}", "trip", f"{year}:{month:02d}:{day:02d} 10:00:00")
        p.imagenet = [("window screen", 0.6)] if i % 2 == 0 else [("hotdog", 0.7)]
        if i % 3 == 0:
            p.coco = [("dog", 0.8)]
        if i % 4 == 0:
            p.coco.append(("person", 0.9))
        if i == 0:  # three people: one line "person × 3" in the viewer
            p.coco += [("person", 0.35), ("person", 0.62)]
        ps.append(p)
    return ps


@pytest.fixture(scope="module")
def dash(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, list[P]]:
    base = tmp_path_factory.mktemp("dash")
    app = fresh_app(base / "instance", PER_PAGE=PER_PAGE, MAX_PER_PAGE=MAX_PER_PAGE)
    photos = world()
    build_world(app, base / "photos", photos)
    return app, photos


def api_ids(app: Any, query: str, per_page: int = MAX_PER_PAGE) -> list[int]:
    r = app.test_client().get(f"/api/photos?per_page={per_page}&{query}")
    assert r.status_code == 200, r.get_json()
    return [p["id"] for p in r.get_json()["photos"]]


def grid_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'<li class="tile" data-id="(\d+)" id="p\d+"', html)]


def field_html(html: str, name: str) -> str:
    """The filter panel's <label class="fld …"> that holds the input or select `name`."""
    for m in re.finditer(r'<label class="fld[^"]*">.*?</label>', html, re.S):
        if f'name="{name}"' in m.group(0):
            return m.group(0)
    raise AssertionError(f"no field {name}")


def test_a_bad_field_is_left_out_and_named_beside_its_field(dash):
    app, _ = dash
    c = app.test_client()
    html = c.get("/?start=notadate&end=2012-12-31&classes=person").get_data(as_text=True)
    want = api_ids(app, "end=2012-12-31&classes=person")
    assert want and len(want) < len(api_ids(app, "classes=person"))
    assert grid_ids(html) == want  # the rest of the filter applies
    start = field_html(html, "start")
    assert re.match(r'<label class="fld\s+bad"', start)
    assert "From: not a date ('notadate'" in unescape(start)
    assert "bad" not in field_html(html, "end").split(">")[0]
    assert "showing all photos" not in html and "Left out of the filter: From" in unescape(html)
    # Links carry the filter that applies (the bad field left out).
    csv = unescape(re.search(r'id="csv-link" href="([^"]+)"', html).group(1))
    assert parse_qs(urlparse(csv).query) == {"end": ["2012-12-31"], "classes": ["person"]}

    # A combination at fault drops the field the error names: end before start drops the end.
    html = c.get("/?start=2013-01-05&end=2012-12-31&classes=dog").get_data(as_text=True)
    assert grid_ids(html) == api_ids(app, "start=2013-01-05&classes=dog")
    assert "To: 2012-12-31 is before the start date, 2013-01-05" in unescape(
        field_html(html, "end")
    )
    # Half a centre and a radius: both left out, each said, the dates still apply.
    html = c.get("/?lat=abc&lon=3&radius_km=5&start=2013-01-01").get_data(as_text=True)
    assert grid_ids(html) == api_ids(app, "start=2013-01-01", PER_PAGE)
    assert "Latitude: not a number" in unescape(field_html(html, "lat"))
    assert "Radius km: needs a centre" in unescape(field_html(html, "radius_km"))

    # The API keeps refusing a bad field, naming the parameter.
    r = c.get("/api/photos?start=notadate&end=2012-12-31&classes=person")
    assert r.status_code == 400 and r.get_json()["parameter"] == "start"


@pytest.mark.parametrize("path", ["/report", "/export.csv", "/export.json"])
def test_reports_and_exports_answer_a_browser_with_a_page(dash, path):
    app, _ = dash
    c = app.test_client()
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    for headers in (browser, {}):
        r = c.get(f"{path}?start=notadate&classes=dog&privacy=1", headers=headers)
        assert r.status_code == 400 and r.mimetype == "text/html"
        html = unescape(r.get_data(as_text=True))
        assert "From: not a date ('notadate', expected YYYY-MM-DD)" in html
        back = urlparse(re.search(r'<a id="back" href="([^"]+)"', html).group(1))
        assert back.path == "/"
        assert parse_qs(back.query) == {"start": ["notadate"], "classes": ["dog"]}
    # A script that asks for JSON gets JSON; so does everything under /api.
    r = c.get(f"{path}?start=notadate", headers={"Accept": "application/json"})
    assert r.status_code == 400 and r.get_json()["parameter"] == "start"
    # The back link leads to the dashboard, which shows the message beside the field.
    page = c.get(back.path + "?" + back.query).get_data(as_text=True)
    assert "From: not a date" in unescape(field_html(page, "start"))


def test_a_report_over_the_cap_is_a_page_with_the_command(dash):
    app, _ = dash
    app.config["REPORT_MAX_PHOTOS"] = 5
    try:
        r = app.test_client().get("/report?classes=dog", headers={"Accept": "text/html"})
        html = unescape(r.get_data(as_text=True))
        assert r.status_code == 400 and r.mimetype == "text/html"
        assert "This filter matches 9 photos" in html and "flask --app atw report" in html
        assert '<a id="back" href="/?classes=dog">' in html
        r = app.test_client().get("/report?classes=dog", headers={"Accept": "application/json"})
        assert r.status_code == 400 and "REPORT_MAX_PHOTOS" in r.get_json()["message"]
    finally:
        app.config["REPORT_MAX_PHOTOS"] = 10_000


def test_a_page_past_the_end_shows_the_last_page(dash):
    app, photos = dash
    html = app.test_client().get("/?page=99999").get_data(as_text=True)
    last = -(-len(photos) // PER_PAGE)
    assert f"page {last} of {last}" in html and "page 99999" not in html.replace(
        "no page 99,999", ""
    )
    assert "There is no page 99,999: showing the last page, 3." in html
    assert grid_ids(html) == api_ids(app, f"page={last}", PER_PAGE)
    assert len(grid_ids(html)) == len(photos) - PER_PAGE * (last - 1)
    assert re.search(r'rel="prev" href="/\?page=2"', html) and 'rel="next"' not in html
    html = app.test_client().get("/?page=2").get_data(as_text=True)
    assert "There is no page" not in html and 'rel="next" href="/?page=3"' in html


def test_per_page_over_the_cap_is_said(dash):
    app, _ = dash
    c = app.test_client()
    html = c.get("/?per_page=1000").get_data(as_text=True)
    assert "per_page 1,000 is over the cap of 20 (MAX_PER_PAGE): showing 20 per page" in html
    assert len(grid_ids(html)) == MAX_PER_PAGE
    nxt = unescape(re.search(r'rel="next" href="([^"]+)"', html).group(1))
    assert parse_qs(urlparse(nxt).query) == {"per_page": ["20"], "page": ["2"]}
    html = c.get("/?per_page=5").get_data(as_text=True)
    assert len(grid_ids(html)) == 5 and 'class="note"' not in html
    assert "/api/map?per_page" not in html and "export.csv?per_page" not in html
    assert 'name="per_page" value="5"' in html  # applying the filter keeps the page size
    html = c.get("/?per_page=many").get_data(as_text=True)
    assert "per_page 'many' is not a whole number: showing 10 per page" in unescape(html)
    assert len(grid_ids(html)) == PER_PAGE


def test_the_class_autocomplete_ranks_word_starts_first(dash):
    app, _ = dash
    c = app.test_client()
    counts = {r["label"]: r["photos"] for r in c.get("/api/classes").get_json()}
    # "do": dog starts with it; window screen (in more photos) and hotdog only contain it.
    assert counts["window screen"] > counts["dog"]
    got = [r["label"] for r in c.get("/api/classes?q=do").get_json()]
    starts = [g for g in got if g.lower().startswith("do")]
    assert "dog" in starts and {"window screen", "hotdog"} <= set(got)
    assert got[: len(starts)] == starts  # every name that starts with "do" comes first
    assert got.index("dog") < got.index("window screen")
    got = [r["label"] for r in c.get("/api/classes?q=Scr").get_json()]
    assert "window screen" in got and "dog" not in got  # a word starts with it, any case
    assert len(c.get("/api/classes?q=o&limit=2").get_json()) <= 2
    # Within the rest of the filter (two days: at most two photos).
    got = c.get("/api/classes?q=do&start=2013-01-10&end=2013-01-11").get_json()
    assert got and all(r["photos"] <= 2 for r in got)
    # A trailing ", " typed or left by a pick is not carried into the field or the links.
    html = c.get("/?classes=dog,%20").get_data(as_text=True)
    assert 'name="classes"' in html and re.search(r'name="classes"[^>]*value="dog"', html)
    assert "classes=dog%2C" not in html and re.search(
        r'id="csv-link" href="[^"]*classes=dog"', html
    )


def test_leaving_the_viewer_returns_to_the_photos_grid_page(dash):
    app, _ = dash
    c = app.test_client()
    order = api_ids(app, "") + api_ids(app, "page=2")
    assert len(order) == 27
    for i in (0, 9, 10, 25):
        html = c.get(f"/photos/{order[i]}").get_data(as_text=True)
        back = unescape(re.search(r'<a id="back" href="([^"]+)"', html).group(1))
        page = i // PER_PAGE + 1
        want = f"/?page={page}#p{order[i]}" if page > 1 else f"/#p{order[i]}"
        assert back == want, (i, back)
        # The grid page it names holds the photo.
        assert order[i] in grid_ids(c.get(back.split("#")[0]).get_data(as_text=True))
    # From the grid, the link carries the photo's place; previous/next move it along.
    grid = c.get("/?page=2").get_data(as_text=True)
    link = unescape(re.search(rf'<a href="(/photos/{order[12]}\?[^"]+)"', grid).group(1))
    assert parse_qs(urlparse(link).query) == {"at": ["12"]}
    html = c.get(link).get_data(as_text=True)
    back = unescape(re.search(r'<a id="back" href="([^"]+)"', html).group(1))
    assert back == f"/?page=2#p{order[12]}"
    nxt = unescape(re.search(r'<a id="next" rel="next" href="([^"]+)"', html).group(1))
    prv = unescape(re.search(r'<a id="prev" rel="prev" href="([^"]+)"', html).group(1))
    assert nxt == f"/photos/{order[13]}?at=13" and prv == f"/photos/{order[11]}?at=11"
    html = c.get(f"/photos/{order[12]}?at=nonsense").get_data(as_text=True)  # counted instead
    assert f'<a id="back" href="/?page=2#p{order[12]}">' in html
    # With a filter and a page size: the position within that filter.
    dogs = api_ids(app, "classes=dog&sort=oldest")
    html = c.get(f"/photos/{dogs[7]}?classes=dog&sort=oldest&per_page=3").get_data(as_text=True)
    back = urlparse(unescape(re.search(r'<a id="back" href="([^"]+)"', html).group(1)))
    assert parse_qs(back.query) == {
        "classes": ["dog"],
        "sort": ["oldest"],
        "per_page": ["3"],
        "page": ["3"],
    }
    assert back.fragment == f"p{dogs[7]}"
    # A photo outside the filter: back to the first page.
    other = next(i for i in order if i not in dogs)
    html = c.get(f"/photos/{other}?classes=dog").get_data(as_text=True)
    assert '<a id="back" href="/?classes=dog">' in html


def test_the_viewer_says_its_facts_as_a_person_reads_them(dash):
    from atw.present import viewer

    app, photos = dash
    assert viewer.taken_words("2014-05-03T14:05:00", "+02:00") == (
        "Saturday 3 May 2014, 14:05 (UTC+02:00)"
    )
    assert viewer.taken_words("2014-05-03T14:05:09", None) == "Saturday 3 May 2014, 14:05:09"
    assert viewer.taken_words(None, None) == "unknown"
    exif = {"iso": 200, "f_number": 2.8, "exposure_time": "1/250", "focal_length_mm": 35.0}
    exif |= {"focal_length_35mm": 52, "lens_make": "Canon", "lens": "EF 35mm f/2"}
    rec = {"exif": exif, "width": 4000, "height": 3000, "bytes": 5_234_567, "format": "JPEG"}
    rec |= {"orientation": 6, "camera_make": "Canon", "camera_model": "EOS 6D"}
    rec |= {"lat": 38.7223, "lon": -9.1393, "altitude": 35.2}
    assert dict(viewer.facts(rec)) == {
        "Camera": "Canon EOS 6D",
        "Lens": "Canon EF 35mm f/2",
        "Exposure": "1/250 s · f/2.8 · ISO 200 · 35 mm (52 mm in 35 mm terms)",
        "Size": "4,000 × 3,000 px (12 MP), 5.2 MB, JPEG",
        "Orientation": "stored sideways: shown turned 90° clockwise",
        "Position": "38.72230° N, 9.13930° W, 35 m above sea level",
    }
    small = dict(viewer.facts({"width": 400, "height": 300, "bytes": 157_382, "orientation": 1}))
    assert small == {"Size": "400 × 300 px, 0.16 MB"}  # orientation 1: nothing to say
    # The page: one line per class with the count and the score range, each box expandable.
    first = next(p for p in photos if p.name == "p00")
    html = app.test_client().get(f"/photos/{first.id}").get_data(as_text=True)
    group = re.search(
        r'<li class="object-group" data-label="person" data-count="3">.*?</li>\s*</ul>', html, re.S
    )
    assert group and "× 3" in group.group(0) and "0.35–0.90" in group.group(0)
    assert len(re.findall(r"data-box-index=", group.group(0))) == 3
    assert html.count('data-label="person"') == 1 + 3  # the group, and the three boxes' <g>
    assert "Thursday 20 December 2012, 10:00" in html
    assert "bytes" not in html.split("<h2>Details</h2>")[1] and " MB" in html


def test_a_favicon_is_served_and_linked(dash):
    app, _ = dash
    c = app.test_client()
    r = c.get("/favicon.ico")
    assert r.status_code == 200 and r.mimetype == "image/vnd.microsoft.icon"
    assert r.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    html = c.get("/").get_data(as_text=True)
    assert '<link rel="icon" href="/static/favicon.svg"' in html
    assert c.get("/static/favicon.svg").status_code == 200


def test_position_counts_the_photos_before_in_the_pages_order(fixture_world):  # noqa: F811
    """search.position equals the photo's index in the pages' own order, for every photo and
    every sort (ties in time and place broken by id; photos without GPS last when nearest)."""
    from atw.query import search
    from atw.query.filters import PhotoFilter

    app, _root, photos = fixture_world
    lat, lon = LISBON
    flts = [
        PhotoFilter(),
        PhotoFilter(sort="oldest"),
        PhotoFilter(classes=("person", "umbrella")),
        PhotoFilter(classes=("seashore", "person"), match="all", sort="oldest"),
        PhotoFilter(lat=lat, lon=lon, sort="nearest"),
        PhotoFilter(lat=-33.87, lon=151.21, radius_km=50, sort="nearest"),
        PhotoFilter(estimated=False, start=date(2014, 6, 1)),
    ]
    with session_of(app) as s:
        for flt in flts:
            order = search.search(s, flt, 1, 1000).ids
            assert order, flt
            for p in photos:
                want = order.index(p.id) if p.id in order else None
                assert search.position(s, flt, p.id) == want, (flt, p.name)
