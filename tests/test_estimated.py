"""Dates that are only estimated (the file's date: the photo has no capture time) are marked
wherever a date is shown: the grid, the viewer, the CSV and JSON exports and the report (whose
date span and charts leave them out). The charts' side is in tests/test_charts.py."""

from __future__ import annotations

import csv
import io
import json
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from atw.present import reports
from atw.query.filters import parse
from tests.conftest import fresh_app
from tests.test_query import build_world, world


@pytest.fixture(scope="module")
def eworld(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    base = tmp_path_factory.mktemp("estimated")
    app = fresh_app(base / "instance", PER_PAGE=100)
    build_world(app, base / "photos", world())
    return app, base / "photos"


def photos(app: Any, q: str = "") -> list[dict[str, Any]]:
    r = app.test_client().get("/api/photos?per_page=500&" + q)
    assert r.status_code == 200, r.get_json()
    return r.get_json()["photos"]


def test_the_world_has_two_estimated_dates(eworld):
    app, _root = eworld
    est = [p for p in photos(app) if p["time_estimated"]]
    assert sorted(Path(p["paths"][0]).stem for p in est) == ["est_aug", "est_jun"]


def test_grid_captions_mark_estimated_dates(eworld):
    app, _root = eworld
    html = app.test_client().get("/").get_data(as_text=True)
    tiles = re.findall(r'<li class="tile"[^>]*data-id="(\d+)".*?</li>', html, re.S)
    assert len(tiles) == len(photos(app))
    for p in photos(app):
        tile = re.search(rf'<li class="tile"[^>]*data-id="{p["id"]}".*?</li>', html, re.S)
        assert tile, p["id"]
        text = tile.group(0)
        day = p["taken_at"][:10]
        if p["time_estimated"]:
            assert f"≈ {day}" in unescape(text) and 'class="estimated-mark"' in text
            assert "file&#39;s date" in text or "file's date" in unescape(text)
        else:
            assert "≈" not in unescape(text) and "estimated" not in text
            assert day in text


def test_the_viewer_marks_an_estimated_date(eworld):
    app, _root = eworld
    for p in photos(app):
        html = app.test_client().get(f"/photos/{p['id']}").get_data(as_text=True)
        mark = 'id="time-estimated"' in html
        assert mark == p["time_estimated"], p["paths"][0]
        if mark:
            assert "estimated from the file date" in html


def test_csv_and_json_exports_carry_time_estimated(eworld):
    app, _root = eworld
    want = {p["id"]: p["time_estimated"] for p in photos(app)}
    c = app.test_client()
    rows = list(csv.DictReader(io.StringIO(c.get("/export.csv").get_data(as_text=True))))
    assert "time_estimated" in rows[0]
    assert {int(r["id"]): r["time_estimated"] == "true" for r in rows} == want
    assert {r["time_estimated"] for r in rows} == {"true", "false"}
    private = list(
        csv.DictReader(io.StringIO(c.get("/export.csv?privacy=1").get_data(as_text=True)))
    )
    assert {int(r["id"]): r["time_estimated"] == "true" for r in private} == want
    data = json.loads(c.get("/export.json").get_data(as_text=True))
    assert {r["id"]: r["time_estimated"] for r in data["photos"]} == want


def test_the_report_marks_estimated_dates_and_leaves_them_out_of_its_span(eworld):
    app, root = eworld
    from atw.web import db

    q = {"folder": str(root / "trip")}  # dated 1 Mar 2015 … 1 Jan 2016; estimated 2014
    with app.app_context():
        html = reports.build_report(db.session(), parse(q), app.config["THUMBS_DIR"]).decode()
    assert re.search(r"Date span <strong>2015-03-01 – 2016-01-01</strong>", html), re.findall(
        r"Date span <strong>[^<]*", html
    )
    assert '<strong id="estimated">2</strong>' in html
    note = re.search(r'<p class="muted" id="estimated-note">(.*?)</p>', html, re.S)
    assert note and note.group(1).startswith("2 photos have only an estimated date")
    rows = json.loads(
        re.search(r'<script type="application/json" id="rows-data">(.*?)</script>', html, re.S)
        .group(1)
        .replace("\\u003c", "<")
    )
    assert sorted(r["taken_at"][:10] for r in rows if r["time_estimated"]) == [
        "2014-06-15",
        "2014-08-15",
    ]
    figs = json.loads(
        re.search(r'id="figures-data">(.*?)</script>', html, re.S).group(1).replace("\\u003c", "<")
    )
    days = figs["capture_time"]["data"][0]["x"]
    assert days and min(days) >= "2015-03-01"


@pytest.mark.browser
@pytest.mark.slow
def test_estimated_marks_are_visible_in_the_grid_and_the_report(eworld, tmp_path):
    from tests.browser import chromium, live_server, screenshot

    app, root = eworld
    with live_server(app) as url, chromium() as page:
        page.goto(f"{url}/?folder={root / 'trip'}")
        marks = page.locator("#grid .tile .estimated-mark")
        assert marks.count() == 2
        for i in range(2):
            assert marks.nth(i).is_visible()
            assert "file's date" in marks.nth(i).get_attribute("title")
        caps = page.eval_on_selector_all("#grid .cap .estimated", "e => e.map(c => c.textContent)")
        assert sorted(caps) == ["≈ 2014-06-15", "≈ 2014-08-15"]
        screenshot(page, "home-estimated")
        assert not page.js_errors
    with app.app_context():
        from atw.web import db

        body = reports.build_report(
            db.session(), parse({"folder": str(root / "trip")}), app.config["THUMBS_DIR"]
        )
    path = tmp_path / "report.html"
    path.write_bytes(body)
    with chromium(block_network=False) as page:
        page.route(
            "**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort()
        )
        page.goto(path.as_uri())
        page.locator("body[data-ready]").wait_for()
        cells = page.eval_on_selector_all("#photos td.estimated", "e => e.map(c => c.textContent)")
        assert len(cells) == 2
        assert all(c.startswith("2014-0") and "≈ estimated" in c for c in cells), cells
        assert page.is_visible("#estimated-note")
        screenshot(page, "report-estimated")
        assert not page.js_errors
