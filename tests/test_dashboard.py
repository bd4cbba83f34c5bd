"""The pages forgive (issue 12), with the real Flask client over a real index: a bad field is left
out and named beside its field while the rest of the filter applies; reports and exports answer a
browser with a page; a page past the end shows the last page; an over-large per_page is said;
the class autocomplete ranks word starts first; the viewer leads back to the photo's grid page."""

from __future__ import annotations

import re
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.conftest import fresh_app
from tests.test_query import P, build_world

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
    assert "per_page 1,000 is over the cap of 20 (MAX_PER_PAGE): showing 20" in html
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
    assert got[0] == "dog" and set(got) == {"dog", "window screen", "hotdog"}
    assert got.index("dog") < got.index("window screen")
    got = [r["label"] for r in c.get("/api/classes?q=Scr").get_json()]
    assert got == ["window screen"]  # a word of the label starts with it, any case
    got = [r["label"] for r in c.get("/api/classes?q=o&limit=2").get_json()]
    assert len(got) == 2
    # Within the rest of the filter; the plain list is unchanged without q.
    got = c.get("/api/classes?q=do&start=2013-01-10&end=2013-01-11").get_json()
    assert all(r["photos"] <= 2 for r in got)
    assert isinstance(c.get("/api/classes").get_json(), list)
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
