"""The "classes over time" chart by everyday category (atw.present.charts, atw.query.series
group_days) over tests/test_groups.py's hand-made index: each stack equals, period by period,
what the API returns for that category's word, and a reference counted here from the photos'
labels and the vocabulary's member lists; a photo in two categories counts in both; by=classes
still stacks the top classes. The page's switch between the two: tests/test_browser_classes.py."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from atw.core import group_rows, group_upkeep, vocabulary
from atw.core.schema import Meta
from atw.notebook import Archive
from atw.query.filters import PhotoFilter, parse
from tests.test_groups import make_gworld, ref_entry
from tests.test_query import P, session_of

V = vocabulary.load()
pytestmark = pytest.mark.databases  # on SQLite and on PostgreSQL (tests/conftest.py)


@pytest.fixture(scope="module")
def gworld(
    tmp_path_factory: pytest.TempPathFactory, module_database: Any
) -> tuple[Any, Path, list[P]]:
    return make_gworld(tmp_path_factory.mktemp("groups-charts"), module_database)


def month_of(p: P) -> str:
    """The first day of the photo's month, as the chart's x values are ("2014-06-01")."""
    assert p.taken is not None
    return p.taken[:7].replace(":", "-") + "-01"


def dated(photos: list[P]) -> list[P]:
    """The photos the time charts count: with a capture time of their own (make_gworld removes
    the undated dog's time)."""
    return [p for p in photos if p.taken is not None and p.name != "undated_dog"]


def traces(data: dict[str, Any]) -> dict[str, dict[str, int]]:
    """{stack name: {period start: photos}} of the classes-over-time figure (zeros left out)."""
    out: dict[str, dict[str, int]] = {}
    for t in data["figures"]["classes_over_time"]["data"]:
        out[t["name"]] = {x[:10]: y for x, y in zip(t["x"], t["y"], strict=True) if y}
    return out


@pytest.mark.parametrize("extra", ["", "&min_score=0.5", "&source=coco", "&classes=dog"])
def test_classes_over_time_stacks_by_category_as_the_filter_counts(gworld, extra):
    """By default one stack per top-level category; each bar is what the filter with that
    category gives for the period (dated photos: the charts leave estimated ones out)."""
    app, _root, _photos = gworld
    c = app.test_client()
    data = c.get(f"/charts.json?period=month{extra}").get_json()
    if "classes=" in extra:  # the filter's own class words are charted, as before
        assert data["by"] == "classes" and data["shown"] == ["dog"]
        return
    assert data["by"] == "categories" and data["shown"]
    # Each stack is named by a word that gives its category in a filter (a click adds it).
    keys = [[e.key for e in V.resolve(name)] for name in data["shown"]]
    assert all(len(k) == 1 and k[0] in V.top_categories for k in keys), keys
    names = set(data["shown"])
    figure = {t["name"]: t for t in data["figures"]["classes_over_time"]["data"]}
    assert list(figure) == data["shown"]
    totals = []
    for name, trace in figure.items():
        for x, y in zip(trace["x"], trace["y"], strict=True):
            month = date.fromisoformat(x[:10])
            last = (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
            q = f"classes={quote(name)}&start={month}&end={last}&estimated=exclude{extra}"
            body = c.get(f"/api/photos?{q}").get_json()
            assert body.get("total") == y, (name, x, body)
        totals.append(sum(trace["y"]))
    assert totals == sorted(totals, reverse=True) and totals[0] > 0  # largest first
    by_classes = c.get(f"/charts.json?period=month&by=classes{extra}").get_json()
    assert by_classes["by"] == "classes" and not set(by_classes["shown"]) & names
    assert c.get("/charts.json?by=colour").status_code == 400


@pytest.mark.parametrize("extra", ["", "min_score=0.5", "source=coco", "start=2015-01-01"])
def test_each_stack_counts_the_photos_with_a_label_of_its_category(gworld, extra):
    """Against the labels: a photo is in a category's stack when the category alone selects it
    (its members' scores, atw.core.vocabulary); a photo in two categories is in both."""
    app, _root, photos = gworld
    flt = parse(dict(kv.split("=") for kv in extra.split("&") if kv))
    data = app.test_client().get(f"/charts.json?period=month&{extra}").get_json()
    got = {V.resolve(name)[0].key: months for name, months in traces(data).items()}
    want: dict[str, Counter[str]] = {}
    rest = [p for p in dated(photos) if flt.start is None or month_of(p) >= str(flt.start)]
    for key in V.top_categories:
        cat = V.entries[key]
        n = Counter(month_of(p) for p in rest if ref_entry(p, cat, PhotoFilter(**_args(flt))))
        if n:
            want[key] = dict(n)
    assert got == want and got


def _args(flt: PhotoFilter) -> dict[str, Any]:
    return {"source": flt.source, "min_score": flt.min_score}


def test_a_photo_in_two_categories_counts_in_both(gworld):
    """The crowd (a groom, people and a dog: January 2016, alone in its month) stands in People
    and in Animals; the beach (a seashore and people, March 2015) in Landscape and People."""
    app, _root, photos = gworld
    assert sum(month_of(p) == "2016-01-01" for p in dated(photos)) == 1
    data = app.test_client().get("/charts.json?period=month").get_json()
    by_key = {V.resolve(name)[0].key: months for name, months in traces(data).items()}
    in_jan = {k for k, months in by_key.items() if months.get("2016-01-01")}
    assert {"category:people", "category:animals"} <= in_jan
    assert all(by_key[k]["2016-01-01"] == 1 for k in in_jan)
    in_march = {k for k, months in by_key.items() if months.get("2015-03-01")}
    assert "category:people" in in_march and len(in_march) >= 2


def test_by_classes_still_stacks_the_top_classes(gworld):
    app, _root, photos = gworld
    data = app.test_client().get("/charts.json?period=year&by=classes").get_json()
    assert data["by"] == "classes" and data["shown"]
    for name, years in traces(data).items():
        want = Counter(
            month_of(p)[:4] + "-01-01"
            for p in dated(photos)
            if name in {lb for lb, _ in p.imagenet} | {lb for lb, _ in p.coco}
        )
        assert years == dict(want), name
    picked = app.test_client().get("/charts.json?period=year&show=beagle,seashore").get_json()
    assert picked["by"] == "classes" and picked["shown"] == ["beagle", "seashore"]


def test_stale_group_rows_give_the_same_stacks(gworld):
    """Another vocabulary version in meta: the category stacks are counted through the planner
    (photo_class) instead of photo_group, with the same numbers; a rebuild brings the rows back."""
    app, _root, _photos = gworld
    c = app.test_client()
    queries = ["period=month", "period=month&min_score=0.5", "period=year&source=coco"]
    fresh = [c.get(f"/charts.json?{q}").get_json() for q in queries]
    with session_of(app) as s, s.begin():
        s.get(Meta, group_rows.META_KEY).value = "wn3.0-older/g1"
    try:
        with session_of(app) as s:
            assert not group_rows.current(s)
        for q, want in zip(queries, fresh, strict=True):
            got = c.get(f"/charts.json?{q}").get_json()
            assert got["shown"] == want["shown"] and traces(got) == traces(want), q
    finally:
        with session_of(app) as s, s.begin():
            assert group_upkeep.rebuild_if_stale(s)


@pytest.mark.parametrize("by", ["categories", "classes"])
def test_the_notebook_per_period_follows_the_breakdown(gworld, by):
    """atw.notebook's per_period is the dashboard's classes over time, by category by default."""
    app, _root, _photos = gworld
    data = app.test_client().get(f"/charts.json?period=month&by={by}").get_json()
    with Archive(app.config["DATABASE_URL"]) as a:
        got = a.per_period("month", by=by) if by != "categories" else a.per_period("month")
    assert list(got["label"].drop_duplicates()) == data["shown"]
    rows = {(lb, p.strftime("%Y-%m-01")): n for p, lb, n in got.itertuples(index=False) if n}
    assert rows == {
        (name, m): n for name, months in traces(data).items() for m, n in months.items()
    }
