"""Charts over a real index: per-class counts per month/week, photos per month, top classes by
source and the capture dates equal counts computed here from the API's photos; plotly.js is
served from the installed package; the dashboard's linked charts in a real Chromium."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import plotly
import pytest

from atw.query import series
from tests.conftest import fresh_app
from tests.test_query import build_world, world

FILTERS = [
    "",
    "start=2014-06-01&end=2015-12-31",
    "classes=person",
    "classes=umbrella,dog&match=any&min_score=0.5",
    "source=coco&has_gps=yes",
    "source=imagenet&min_score=0.3&folder=PHOTOS/lisbon",
]


@pytest.fixture(scope="module")
def charts_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    base = tmp_path_factory.mktemp("charts")
    app = fresh_app(base / "instance")
    build_world(app, base / "photos", world())
    return app, base / "photos"


def api_photos(app: Any, q: str) -> dict[str, Any]:
    r = app.test_client().get("/api/photos?per_page=500&" + q)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def classes_of(photo: dict[str, Any], q: str) -> set[str]:
    """The classes a photo has under the filter's source and min_score, from its API record."""
    args = {k: v[0] for k, v in parse_qs(q).items()}
    t = float(args.get("min_score", 0))
    source = args.get("source", "any")
    out = set()
    if source in ("any", "imagenet"):
        out |= {lb["label"] for lb in photo["labels"] if lb["score"] >= t}
    if source in ("any", "coco"):
        out |= {d["label"] for d in photo["detections"] if d["score"] >= t}
    return out


def fix(q: str, root: Path) -> str:
    return q.replace("PHOTOS", str(root))


@pytest.mark.parametrize("q", FILTERS)
def test_per_class_monthly_counts_equal_the_apis_photos(charts_world, q):
    app, root = charts_world
    q = fix(q, root)
    photos = api_photos(app, q)["photos"]
    want: Counter[tuple[str, str]] = Counter()
    per_month: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for p in photos:
        per_month[p["taken_at"][:7]] += 1
        for c in classes_of(p, q):
            want[(c, p["taken_at"][:7])] += 1
            totals[c] += 1
    show = sorted(totals)
    r = app.test_client().get(f"/charts.json?{q}&period=month&show={','.join(show)}")
    assert r.status_code == 200, r.get_json()
    data = r.get_json()
    figs = data["figures"]
    # Classes ranked here as the picker ranks them: most photos first, then by name.
    ranked = sorted(totals, key=lambda c: (-totals[c], c))
    assert data["period"] == "month" and data["shown"] == (show or ranked[:8])
    got: Counter[tuple[str, str]] = Counter()
    for trace in figs["classes_over_time"]["data"]:
        for x, y in zip(trace["x"], trace["y"], strict=True):
            if y:
                got[(trace["name"], x[:7])] += y
    assert got == want
    # The heatmap holds the same numbers, one row per class, one column per month.
    heat = figs["heatmap"]["data"][0]
    cells = Counter(
        {
            (label, month): z
            for label, row in zip(heat["y"], heat["z"], strict=True)
            for month, z in zip(heat["x"], row, strict=True)
            if z
        }
    )
    assert cells == (want if show else Counter())
    bars = figs["photos_per_month"]["data"][0]
    assert {x: y for x, y in zip(bars["x"], bars["y"], strict=True) if y} == dict(per_month)
    days = figs["capture_time"]["data"][0]
    assert Counter(p["taken_at"][:10] for p in photos) == dict(
        zip(days["x"], days["y"], strict=True)
    )
    # The picker's classes and counts: every class of the filtered photos, most photos first.
    picked = [(c["label"], c["photos"]) for c in data["pickable"]]
    assert picked == [(c, totals[c]) for c in ranked[:30]]
    # Nothing picked: the top 8 classes over time, counted as above.
    r = app.test_client().get(f"/charts.json?{q}&period=month")
    default = r.get_json()
    assert default["shown"] == ranked[:8]
    got_default = Counter(
        {
            (trace["name"], x[:7]): y
            for trace in default["figures"]["classes_over_time"]["data"]
            for x, y in zip(trace["x"], trace["y"], strict=True)
            if y
        }
    )
    assert got_default == Counter({k: n for k, n in want.items() if k[0] in ranked[:8]})


def test_weeks_and_years_sum_to_the_same_photos(charts_world):
    app, _root = charts_world
    photos = api_photos(app, "classes=person")["photos"]
    for period in ("day", "week", "year"):
        data = app.test_client().get(f"/charts.json?classes=person&period={period}&show=person")
        trace = data.get_json()["figures"]["classes_over_time"]["data"][0]
        assert sum(trace["y"]) == len(photos)
        starts = [date.fromisoformat(x[:10]) for x in trace["x"]]
        assert all(series.period_start(d, period) == d for d in starts)
        if period == "week":
            assert all(d.weekday() == 0 for d in starts)
            want = Counter(
                series.period_start(date.fromisoformat(p["taken_at"][:10]), "week").isoformat()
                for p in photos
            )
            got = {x[:10]: y for x, y in zip(trace["x"], trace["y"], strict=True) if y}
            assert got == dict(want)


def test_the_period_follows_the_date_span(charts_world):
    app, _root = charts_world
    c = app.test_client()
    assert c.get("/charts.json").get_json()["period"] == "month"  # 2014 … 2018
    assert c.get("/charts.json?start=2014-06-01&end=2014-06-30").get_json()["period"] == "day"
    assert c.get("/charts.json?start=2014-05-01&end=2014-08-31").get_json()["period"] == "week"
    assert series.choose_period(date(1990, 1, 1), date(2020, 1, 1)) == "year"
    r = c.get("/charts.json?period=fortnight")
    assert r.status_code == 400 and r.get_json()["parameter"] == "period"
    assert c.get("/charts.json?start=2015-13-01").status_code == 400


def test_top_classes_are_split_by_source_as_the_api_counts_them(charts_world):
    app, _root = charts_world
    c = app.test_client()
    api = c.get("/api/classes?start=2014-01-01&end=2016-12-31").get_json()
    data = c.get("/charts.json?start=2014-01-01&end=2016-12-31").get_json()
    traces = {
        t["name"]: dict(zip(t["y"], t["x"], strict=True))
        for t in data["figures"]["top_classes"]["data"]
    }
    for row in api:
        name = {"imagenet": "ImageNet", "coco": "COCO"}[row["source"]]
        if row["label"] in traces[name]:
            assert traces[name][row["label"]] == row["photos"]
    assert set(traces["COCO"]) == {t["label"] for t in data["pickable"][:15]}


def test_an_empty_result_still_draws(charts_world):
    app, _root = charts_world
    data = app.test_client().get("/charts.json?classes=no-such-class").get_json()
    assert data["photos"] == 0 and data["shown"] == []
    assert set(data["figures"]) == {
        "classes_over_time",
        "heatmap",
        "photos_per_month",
        "top_classes",
        "capture_time",
    }


def test_plotly_js_comes_from_the_installed_package(charts_world):
    app, _root = charts_world
    r = app.test_client().get("/vendor/plotly.min.js")
    assert r.status_code == 200 and r.mimetype == "text/javascript"
    assert r.cache_control.max_age >= 365 * 86400
    bundle = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    assert r.data == bundle.read_bytes()
    home = app.test_client().get("/")
    assert "/vendor/plotly.min.js" not in home.get_data(as_text=True)  # only /charts loads it
    assert "style-src 'self';" in home.headers["Content-Security-Policy"]
    r = app.test_client().get("/charts?classes=person")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "/vendor/plotly.min.js" in page and "cdn" not in page.lower()
    assert "<script>" not in page and " onclick=" not in page and " onload=" not in page
    # Only the charts page allows inline styles (plotly.js needs them); scripts stay 'self'.
    csp = r.headers["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in csp and "script-src 'self';" in csp
    assert 'action="/charts"' in page


# --- the linked views in a real browser ----------------------------------------------------


@pytest.fixture(scope="module")
def live(charts_world):  # type: ignore[no-untyped-def]
    from tests.browser import live_server

    app, root = charts_world
    with live_server(app) as url:
        yield app, root, url


def grid_ids(page: Any) -> list[int]:
    return [
        int(x)
        for x in page.eval_on_selector_all("#grid .tile", "els => els.map(e => e.dataset.id)")
    ]


def open_charts(page: Any, url: str) -> None:
    page.goto(url)
    page.locator("#charts[data-ready]").wait_for()


@pytest.mark.browser
@pytest.mark.slow
def test_selecting_a_date_range_on_the_chart_filters_the_grid(live):
    from tests.browser import chromium, screenshot

    app, _root, url = live
    everything = api_photos(app, "")["photos"]
    lo, hi = "2014-06-05", "2014-07-20"  # both in gaps of several days between photos
    inside = sorted({p["taken_at"][:10] for p in everything if lo <= p["taken_at"][:10] <= hi})
    with chromium() as page:
        open_charts(page, url + "/charts")
        assert page.locator("#chart-capture_time .main-svg").count() >= 1
        # Drag across the capture-date chart from lo to hi (pixel positions from its x axis).
        xs = page.evaluate(
            "([a, b]) => { const gd = document.getElementById('chart-capture_time');"
            " const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;"
            " const r = gd.getBoundingClientRect();"
            " const px = (d) => Math.max(2, Math.min(xa._length - 2, xa.d2p(d)));"
            " return [r.left + xa._offset + px(a), r.left + xa._offset + px(b),"
            " r.top + ya._offset + ya._length / 2]; }",
            [lo, hi],
        )
        with page.expect_navigation():
            page.mouse.move(xs[0], xs[2])
            page.mouse.down()
            page.mouse.move((xs[0] + xs[1]) / 2, xs[2], steps=5)
            page.mouse.move(xs[1], xs[2], steps=5)
            page.mouse.up()
        page.wait_for_load_state()
        q = parse_qs(urlparse(page.url).query)
        assert urlparse(page.url).path == "/charts"
        assert q["start"] == [inside[0]] and q["end"] == [inside[-1]]
        want = api_photos(app, f"start={inside[0]}&end={inside[-1]}")
        assert sorted(grid_ids(page)) == sorted(p["id"] for p in want["photos"])
        assert want["total"] == sum(1 for p in everything if lo <= p["taken_at"][:10] <= hi)
        # The panel stays open and the charts follow the new filter.
        page.locator("#charts[data-ready]").wait_for()
        screenshot(page, "charts-date-range")
        assert not page.js_errors


@pytest.mark.browser
@pytest.mark.slow
def test_clicking_a_class_adds_it_to_the_filter(live):
    from tests.browser import chromium

    app, _root, url = live
    with chromium() as page:
        open_charts(page, url + "/charts?start=2014-01-01&end=2016-12-31")
        top = page.evaluate(
            "() => { const gd = document.getElementById('chart-top_classes');"
            " const t = gd._fullData[1]; return t.y[t.y.length - 1]; }"
        )
        bar = page.locator("#chart-top_classes .trace.bars").nth(1).locator("path").last
        box = bar.bounding_box()
        with page.expect_navigation():
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_load_state()
        q = parse_qs(urlparse(page.url).query)
        assert q["classes"] == [top] and q["start"] == ["2014-01-01"]
        want = api_photos(app, f"start=2014-01-01&end=2016-12-31&classes={top}")
        assert sorted(grid_ids(page)) == sorted(p["id"] for p in want["photos"])
        assert not page.js_errors
