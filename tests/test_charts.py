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
from tests.test_query import module_world, world

pytestmark = pytest.mark.databases  # on SQLite and on PostgreSQL (tests/conftest.py)

FILTERS = [
    "",
    "start=2014-06-01&end=2015-12-31",
    "classes=person",
    "classes=umbrella,dog&match=any&min_score=0.5",
    "source=coco&has_gps=yes",
    "source=imagenet&min_score=0.3&folder=PHOTOS/lisbon",
]


@pytest.fixture(scope="module")
def charts_world(
    tmp_path_factory: pytest.TempPathFactory, module_database: Any
) -> tuple[Any, Path]:
    app, root, _ = module_world(tmp_path_factory.mktemp("charts"), module_database, world())
    return app, root


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
    # The time charts leave out the photos whose date is only estimated (the file date).
    dated = [p for p in photos if not p["time_estimated"]]
    want: Counter[tuple[str, str]] = Counter()
    per_month: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for p in photos:
        for c in classes_of(p, q):
            totals[c] += 1
    for p in dated:
        per_month[p["taken_at"][:7]] += 1
        for c in classes_of(p, q):
            want[(c, p["taken_at"][:7])] += 1
    show = sorted(totals)
    r = app.test_client().get(f"/charts.json?{q}&period=month&show={','.join(show)}")
    assert r.status_code == 200, r.get_json()
    data = r.get_json()
    figs = data["figures"]
    # Classes ranked here as the picker ranks them: the filter's own classes first, then most
    # photos first, then by name.
    named = [c for c in parse_qs(q).get("classes", [""])[0].split(",") if c in totals]
    ranked = named + sorted(set(totals) - set(named), key=lambda c: (-totals[c], c))
    assert data["period"] == "month" and data["shown"] == (show or named or ranked[:8])
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
            (label, month[:7]): z
            for label, row in zip(heat["y"], heat["z"], strict=True)
            for month, z in zip(heat["x"][:-1], row, strict=True)  # x: the months' edges
            if z
        }
    )
    assert cells == (want if show else Counter())
    bars = figs["photos_per_month"]["data"][0]
    assert {x[:7]: y for x, y in zip(bars["x"], bars["y"], strict=True) if y} == dict(per_month)
    days = figs["capture_time"]["data"]
    assert len(days) == 1  # no trace of estimated dates unless asked
    assert Counter(p["taken_at"][:10] for p in dated) == dict(
        zip(days[0]["x"], days[0]["y"], strict=True)
    )
    assert data["estimated"] == len(photos) - len(dated)
    # The picker's classes and counts: every class of the filtered photos, the filter's first.
    picked = [(c["label"], c["photos"]) for c in data["pickable"]]
    assert picked == [(c, totals[c]) for c in ranked[:30]]
    # Nothing picked, by classes: the filter's classes, else the top 8 classes over time,
    # counted as above (by categories, the default: tests/test_groups_charts.py).
    r = app.test_client().get(f"/charts.json?{q}&period=month&by=classes")
    default = r.get_json()
    assert default["shown"] == (named or ranked[:8])
    got_default = Counter(
        {
            (trace["name"], x[:7]): y
            for trace in default["figures"]["classes_over_time"]["data"]
            for x, y in zip(trace["x"], trace["y"], strict=True)
            if y
        }
    )
    assert got_default == Counter({k: n for k, n in want.items() if k[0] in default["shown"]})


def test_weeks_and_years_sum_to_the_same_photos(charts_world):
    app, _root = charts_world
    photos = [p for p in api_photos(app, "classes=person")["photos"] if not p["time_estimated"]]
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
    assert c.get("/charts.json?start=2014-05-01&end=2015-03-31").get_json()["period"] == "week"
    # 31 May … 1 Aug 2014: days, although an estimated date (15 Aug) would make it weeks.
    q = "start=2014-05-01&end=2014-08-31"
    assert c.get(f"/charts.json?{q}").get_json()["period"] == "day"
    assert c.get(f"/charts.json?{q}&with_estimated=1").get_json()["period"] == "day"
    assert series.choose_period(date(1990, 1, 1), date(2020, 1, 1)) == "year"
    r = c.get("/charts.json?period=fortnight")
    assert r.status_code == 400 and r.get_json()["parameter"] == "period"
    assert c.get("/charts.json?start=2015-13-01").status_code == 400


def _traces(data: dict[str, Any], chart: str) -> dict[str, dict[str, int]]:
    return {
        t["name"]: dict(zip(t["x"], t["y"], strict=True)) for t in data["figures"][chart]["data"]
    }


def test_estimated_dates_are_counted_and_charted_only_when_asked(charts_world):
    app, _root = charts_world
    c = app.test_client()
    photos = api_photos(app, "")["photos"]
    estimated = [p for p in photos if p["time_estimated"]]
    assert sorted(p["taken_at"][:10] for p in estimated) == ["2014-06-15", "2014-08-15"]
    default = c.get("/charts.json?by=classes").get_json()  # by categories: test_groups_charts
    assert default["estimated"] == 2 and not default["with_estimated"]
    days = _traces(default, "capture_time")
    assert list(days) == ["capture date"]
    assert "2014-08-15" not in days["capture date"]  # est_aug alone on that day
    assert days["capture date"]["2014-06-15"] == 1  # a dated photo; est_jun is left out
    assert default["photos"] == len(photos) - 2
    shown = c.get("/charts.json?by=classes&with_estimated=1").get_json()
    assert shown["with_estimated"] and shown["photos"] == len(photos)
    days = _traces(shown, "capture_time")
    assert days["estimated date (file date)"] == {"2014-06-15": 1, "2014-08-15": 1}
    assert days["capture date"] == _traces(default, "capture_time")["capture date"]
    months = _traces(shown, "photos_per_month")
    est_months = {x[:7]: y for x, y in months["estimated date (file date)"].items() if y}
    assert est_months == {"2014-06": 1, "2014-08": 1}
    # The class charts count them too when asked (each estimated photo's classes).
    over = Counter()
    for t in shown["figures"]["classes_over_time"]["data"]:
        over.update({x[:7]: y for x, y in zip(t["x"], t["y"], strict=True) if y})
    base = Counter()
    for t in default["figures"]["classes_over_time"]["data"]:
        base.update({x[:7]: y for x, y in zip(t["x"], t["y"], strict=True) if y})
    extra = Counter()
    for p in estimated:
        extra[p["taken_at"][:7]] += len(classes_of(p, "") & set(default["shown"]))
    assert over == base + extra


def test_estimated_dates_never_set_the_range(charts_world):
    app, root = charts_world
    c = app.test_client()
    # The trip folder: dated photos from 1 Mar 2015 to 1 Jan 2016, estimated ones in June/Aug 2014.
    q = f"folder={root}/trip"
    for extra in ("", "&with_estimated=1"):
        data = c.get(f"/charts.json?{q}{extra}").get_json()
        assert data["period"] == "week" and data["estimated"] == 2
        for chart in ("capture_time", "classes_over_time", "photos_per_month"):
            lo, _hi = data["figures"][chart]["layout"]["xaxis"]["range"]
            assert lo >= "2015-02-23", (chart, lo)  # the Monday before 1 Mar 2015 at the earliest
    assert data["estimated_outside"] == 2
    assert list(_traces(data, "capture_time")) == ["capture date"]  # none inside the span
    # Only estimated dates in the filter: nothing charted by default; asked, they set the span.
    q = "start=2014-08-10&end=2014-08-20"
    assert [p["time_estimated"] for p in api_photos(app, q)["photos"]] == [True]
    data = c.get(f"/charts.json?{q}").get_json()
    assert data["photos"] == 0 and data["estimated"] == 1
    assert data["figures"]["capture_time"]["data"][0]["x"] == []
    data = c.get(f"/charts.json?{q}&with_estimated=1").get_json()
    assert _traces(data, "capture_time")["estimated date (file date)"] == {"2014-08-15": 1}
    assert data["figures"]["capture_time"]["layout"]["xaxis"]["range"] == [
        "2014-08-15",
        "2014-08-16",
    ]


def test_the_class_charts_follow_the_filters_classes(charts_world):
    app, _root = charts_world
    c = app.test_client()
    everything = c.get("/charts.json?by=classes").get_json()
    # The two least common classes; their photos have other, more common classes too (which
    # the charts drew instead when they ranked the filtered photos' classes).
    rare = [p["label"] for p in everything["pickable"][-2:]]
    q = "classes=" + ",".join([*rare, "zebra"])
    found = c.get(f"/api/classes?{q}").get_json()
    others = {r["label"] for r in found if "source" in r} - set(rare)
    assert len(others) >= 3
    data = c.get(f"/charts.json?{q}").get_json()
    assert data["shown"] == rare and data["focus"] == rare
    assert [t["name"] for t in data["figures"]["classes_over_time"]["data"]] == rare
    assert data["figures"]["heatmap"]["data"][0]["y"] == rare
    top = data["figures"]["top_classes"]
    assert set(top["data"][0]["y"]) == set(rare)
    assert top["layout"]["title"]["text"] == "Classes of the filter by source"
    assert [p["label"] for p in data["pickable"][:2]] == rare
    # A pick still overrides the filter's classes.
    picked = c.get(f"/charts.json?{q}&show={everything['shown'][0]}").get_json()
    assert picked["shown"] == [everything["shown"][0]]


def test_count_axes_are_whole_numbers_and_a_day_is_a_day(charts_world):
    app, _root = charts_world
    c = app.test_client()
    # One day (1 Jul 2015: three photos at the North Pole).
    data = c.get("/charts.json?start=2015-07-01&end=2015-07-01").get_json()
    assert data["period"] == "day" and data["photos"] == 3
    for chart in ("capture_time", "classes_over_time"):
        layout = data["figures"][chart]["layout"]
        assert layout["xaxis"]["range"] == ["2015-07-01", "2015-07-02"], chart
        assert layout["xaxis"]["tickformat"] == "%-d %b %Y"
        assert layout["yaxis"]["tickformat"] == ",d"  # no 0.5 photos
    assert data["figures"]["capture_time"]["layout"]["yaxis"]["dtick"] == 1  # 3: 0, 1, 2, 3
    heat = data["figures"]["heatmap"]
    assert heat["layout"]["xaxis"]["tickformat"] == "%b %Y"
    assert heat["layout"]["yaxis"]["automargin"] is True
    # Months without photos are gaps (drawn transparent), not zeros painted in the scale.
    everything = c.get("/charts.json").get_json()["figures"]["heatmap"]["data"][0]
    values = [z for row in everything["z"] for z in row]
    assert 0 not in values and None in values and min(v for v in values if v) >= 1


def test_top_classes_are_split_by_source_as_the_api_counts_them(charts_world):
    app, _root = charts_world
    c = app.test_client()
    api = c.get("/api/classes?kind=class&start=2014-01-01&end=2016-12-31").get_json()
    data = c.get("/charts.json?start=2014-01-01&end=2016-12-31").get_json()
    traces = {
        t["name"]: dict(zip(t["y"], t["x"], strict=True))
        for t in data["figures"]["top_classes"]["data"]
    }
    for row in (r for r in api if "source" in r):  # class rows (not WordNet groups)
        name = {"imagenet": "ImageNet", "coco": "COCO"}[row["source"]]
        if row["label"] in traces[name]:
            assert traces[name][row["label"]] == row["photos"]
    assert set(traces["COCO"]) == {t["label"] for t in data["pickable"][:15]}


def test_an_empty_result_still_draws(charts_world):
    app, _root = charts_world
    data = app.test_client().get("/charts.json?classes=zebra").get_json()
    assert data["photos"] == 0 and data["shown"] == []
    assert set(data["figures"]) == {
        "classes_over_time",
        "heatmap",
        "photos_per_month",
        "top_classes",
        "capture_time",
        "countries_over_time",  # where was I when (atw/present/place_charts.py)
        "photos_per_country",
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


def _rect(page: Any, selector: str) -> dict[str, float]:
    box = page.locator(selector).first.bounding_box()
    assert box, selector
    return box


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


@pytest.mark.browser
@pytest.mark.slow
def test_the_charts_page_leaves_estimated_dates_out_until_switched_on(live):
    from tests.browser import chromium, screenshot

    _app, _root, url = live
    with chromium() as page:
        open_charts(page, url + "/charts")
        # Above the fold: the capture-date chart starts within the first screen.
        assert _rect(page, "#chart-capture_time")["y"] < 400
        assert _rect(page, "#charts")["y"] < _rect(page, "#map")["y"]
        assert page.is_visible("#estimated-switch")
        assert page.inner_text("#estimated-text") == (
            "2 photos with estimated dates are not charted — show them"
        )
        names = page.evaluate(
            "() => document.getElementById('chart-capture_time').data.map(t => t.name)"
        )
        assert names == ["capture date"]
        # The mode bar, shown on hover, stays clear of every title.
        for name in ("capture_time", "classes_over_time", "top_classes", "heatmap"):
            page.hover(f"#chart-{name} .nsewdrag")
            page.locator(f"#chart-{name} .modebar-container .modebar").wait_for(state="visible")
            bar = _rect(page, f"#chart-{name} .modebar")
            title = _rect(page, f"#chart-{name} .gtitle")
            assert not _overlap(bar, title), name
        # Heatmap row labels are whole (automargin): the longest one fits inside the chart.
        labels = page.locator("#chart-heatmap .ytick text")
        chart = _rect(page, "#chart-heatmap")
        for i in range(labels.count()):
            assert labels.nth(i).bounding_box()["x"] >= chart["x"] - 0.5
        # Its month labels are not repeated.
        months = page.eval_on_selector_all(
            "#chart-heatmap .xtick text", "e => e.map(t => t.textContent)"
        )
        assert months and len(months) == len(set(months))
        screenshot(page, "charts")
        ready = int(page.get_attribute("#charts", "data-ready"))
        page.check("#chart-estimated")
        page.locator(f"#charts[data-ready='{ready + 1}']").wait_for()
        names = page.evaluate(
            "() => document.getElementById('chart-capture_time').data.map(t => t.name)"
        )
        assert names == ["capture date", "estimated date (file date)"]
        assert page.inner_text("#estimated-text").startswith(
            "2 photos with estimated dates are charted in grey"
        )
        screenshot(page, "charts-with-estimated")
        assert not page.js_errors


@pytest.mark.browser
@pytest.mark.slow
def test_the_class_chart_follows_the_filter_in_the_page(live):
    from tests.browser import chromium, screenshot

    app, _root, url = live
    everything = app.test_client().get("/charts.json").get_json()
    rare = [p["label"] for p in everything["pickable"][-2:]]
    with chromium() as page:
        open_charts(page, url + "/charts?classes=" + ",".join(rare))
        stacked = page.evaluate(
            "() => document.getElementById('chart-classes_over_time').data.map(t => t.name)"
        )
        assert stacked == rare
        rows = page.evaluate("() => document.getElementById('chart-heatmap').data[0].y")
        assert list(rows) == rare
        est = sum(
            p["time_estimated"] for p in api_photos(app, "classes=" + ",".join(rare))["photos"]
        )
        if est == 1:
            assert page.inner_text("#estimated-text") == (
                "1 photo with an estimated date is not charted — show it"
            )
        else:
            assert page.inner_text("#estimated-text").startswith(f"{est} photos with")
        ticks = page.eval_on_selector_all(
            "#chart-classes_over_time .ytick text", "e => e.map(t => t.textContent)"
        )
        assert ticks and all(t.replace(",", "").isdigit() for t in ticks), ticks
        screenshot(page, "charts-filtered")
        # One day: its axes name the day (not "23:59:59.9996 Nov 30") and count whole photos.
        open_charts(page, url + "/charts?start=2015-07-01&end=2015-07-01")
        for name in ("capture_time", "classes_over_time"):
            days = page.eval_on_selector_all(
                f"#chart-{name} .xtick text", "e => e.map(t => t.textContent)"
            )
            assert days == ["1 Jul 2015"], (name, days)
        counts = page.eval_on_selector_all(
            "#chart-capture_time .ytick text", "e => e.map(t => t.textContent)"
        )
        assert counts == ["0", "1", "2", "3"]
        screenshot(page, "charts-one-day")
        assert not page.js_errors
