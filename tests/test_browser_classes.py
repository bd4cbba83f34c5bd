"""Class words in a real, offline Chromium (issue 14), over tests/test_groups.py's hand-made index
(labels written through the real Writer): the class browser opens categories to groups and
classes with the counts of the API, and a click sets the class filter to a word that returns
that many photos; the autocomplete shows groups with their photos and member classes, groups
first; the charts' "classes over time" switches between categories and top classes. Network
blocked (loopback only), the pages' Content-Security-Policy enforced; screenshots in
test-artifacts/."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from atw.core import vocabulary
from tests.browser import chromium, live_server, screenshot, wait_until
from tests.test_groups import make_gworld

pytestmark = [pytest.mark.browser, pytest.mark.slow]
V = vocabulary.load()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, module_database: Any) -> Any:
    app, _root, _photos = make_gworld(tmp_path_factory.mktemp("browser-classes"), module_database)
    with live_server(app) as url:
        yield app, url


def rows(page: Any, under: str) -> list[dict[str, Any]]:
    """The browser's entries directly under a list: key, kind, name, count, link."""
    return page.evaluate(
        """(sel) => Array.from(document.querySelectorAll(sel + ' > li[data-kind]')).map(li => ({
             key: li.dataset.key, kind: li.dataset.kind,
             name: li.querySelector('a.word').textContent,
             n: Number(li.querySelector('.n').textContent.replace(/,/g, '')),
             href: li.querySelector('a.word').getAttribute('href'),
             opens: !!li.querySelector(':scope > .row-entry > button.open')}))""",
        under,
    )


def open_entry(page: Any, key: str) -> str:
    """Open an entry of the browser; the selector of its list of children."""
    li = f'li[data-key="{key}"]'
    page.click(f"{li} > .row-entry > button.open")
    wait_until(page, "(sel) => document.querySelector(sel).dataset.loaded === '1'", li)
    return f"{li} > ul"


def test_the_class_browser_drills_down_and_a_click_sets_the_filter(site):
    app, url = site
    api = app.test_client()
    with chromium() as page:
        page.goto(url + "/?min_score=0.3")
        assert page.is_hidden("#class-tree")
        page.click("#class-browser summary")
        wait_until(page, "() => document.getElementById('class-tree').dataset.loaded === '1'")
        top = rows(page, "#class-tree")
        want = api.get("/api/classes?kind=category&min_score=0.3").get_json()
        want = [w for w in want if not w["parents"]]  # the top level; Dogs is under Animals
        assert [(r["key"], r["n"]) for r in top] == [(w["key"], w["photos"]) for w in want]
        assert {r["key"] for r in top} <= set(V.top_categories) and all(r["opens"] for r in top)
        assert {"category:animals", "category:people"} <= {r["key"] for r in top}
        # Animals → Dogs → a group of breeds → a breed.
        dogs = rows(page, open_entry(page, "category:animals"))
        assert "category:dogs" in [r["key"] for r in dogs]
        kids = rows(page, open_entry(page, "category:dogs"))
        detail = api.get("/api/classes/category:dogs?min_score=0.3").get_json()
        shown = [k for k in detail["own"] + detail["children"] if k["photos"]]
        assert [(r["key"], r["n"]) for r in kids] == [(k["key"], k["photos"]) for k in shown]
        group = next(r for r in kids if r["opens"])
        breeds = rows(page, open_entry(page, group["key"]))
        assert breeds and all(r["n"] > 0 for r in breeds)
        screenshot(page, "classes-browser")
        leaf = next(r for r in breeds if r["kind"] == "class")
        with page.expect_navigation():
            page.click(f'li[data-key="{leaf["key"]}"] a.word')
        args = parse_qs(urlparse(page.url).query)
        assert args["min_score"] == ["0.3"] and len(args["classes"]) == 1
        assert int(page.text_content("#total").replace(",", "")) == leaf["n"]
        assert page.input_value("#classes") == args["classes"][0]
        # The browser stays open on the next page, the chosen word marked.
        wait_until(page, "() => document.getElementById('class-tree').dataset.loaded === '1'")
        assert page.evaluate("() => document.getElementById('class-browser').open")
        assert page.js_errors == []


def test_the_autocomplete_shows_groups_with_photos_and_members(site):
    app, url = site
    with chromium() as page:
        page.goto(url + "/")
        page.click("#classes")
        page.keyboard.type("do")
        wait_until(page, "() => document.querySelectorAll('#class-suggest li').length > 0")
        items = page.evaluate(
            """() => Array.from(document.querySelectorAll('#class-suggest li')).map(li => ({
                 label: li.dataset.label, kind: li.dataset.kind, text: li.textContent}))"""
        )
        want = app.test_client().get("/api/classes?q=do").get_json()
        assert [i["label"] for i in items] == [w["label"] for w in want]
        dog = next(i for i in items if i["label"].lower() in ("dog", "dogs"))
        photos = next(w["photos"] for w in want if w["label"] == dog["label"])
        assert re.fullmatch(
            rf"{dog['label']} — {photos} photos · 119 classes (group|category)", dog["text"]
        ), dog
        # Names that start with "do", most photos first: only larger ones come before dog.
        before = [w["photos"] for w in want[: items.index(dog)]]
        assert all(n >= photos for n in before) and want[0]["name"].lower().startswith("do")
        screenshot(page, "classes-autocomplete")
        for _ in range(items.index(dog) + 1):
            page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        assert page.input_value("#classes") == dog["label"]
        with page.expect_navigation():
            page.click("#apply")
        assert int(page.text_content("#total").replace(",", "")) == photos
        assert page.js_errors == []


def test_the_charts_switch_between_categories_and_top_classes(site):
    app, url = site
    api = app.test_client()

    def traces() -> list[str]:
        return page.evaluate(
            "() => document.getElementById('chart-classes_over_time').data.map(t => t.name)"
        )

    with chromium() as page:
        page.goto(url + "/charts?period=month")
        wait_until(page, "() => Number(document.getElementById('charts').dataset.ready) >= 1")
        assert page.input_value("#chart-by") == "categories"
        cats = api.get("/charts.json?period=month").get_json()["shown"]
        assert traces() == cats and "People" in cats
        page.select_option("#chart-by", "classes")
        wait_until(page, "() => document.getElementById('charts').dataset.by === 'classes'")
        top = api.get("/charts.json?period=month&by=classes").get_json()["shown"]
        assert traces() == top and not set(top) & set(cats)
        screenshot(page, "classes-chart-by-classes")
        page.select_option("#chart-by", "categories")
        wait_until(page, "() => document.getElementById('charts').dataset.by === 'categories'")
        assert traces() == cats
        screenshot(page, "classes-chart-by-category")
        # With class words in the filter the chart shows them: nothing to switch.
        page.goto(url + "/charts?classes=dog")
        wait_until(page, "() => Number(document.getElementById('charts').dataset.ready) >= 1")
        assert page.is_disabled("#chart-by") and traces() == ["dog"]
        assert page.js_errors == []
