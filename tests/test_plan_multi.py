"""Several class words by atw.query.plan_multi: "all" by the date-ordered merge of the words'
ranges or the rarest word checked in date order, and the count of "any" over ids alone,
against the plain Python references of test_query and test_groups (never the SQL under test),
each way forced in turn: the same ids, the same order, the same totals, page by page."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from atw.query import plan, plan_multi, search
from atw.query.filters import PhotoFilter, describe
from tests.test_groups import make_gworld, same
from tests.test_groups import ref as group_ref
from tests.test_query import LISBON, P, module_world, reference, session_of, world

pytestmark = pytest.mark.databases  # on SQLite and on PostgreSQL (tests/conftest.py)


@pytest.fixture(scope="module")
def gworld(tmp_path_factory: pytest.TempPathFactory, module_database: Any) -> Any:
    return make_gworld(tmp_path_factory.mktemp("multi-groups"), module_database)


@pytest.fixture(scope="module")
def cworld(tmp_path_factory: pytest.TempPathFactory, module_database: Any) -> Any:
    return module_world(tmp_path_factory.mktemp("multi-classes"), module_database, world())


@pytest.fixture(params=["merge", "sorted", "plan"])
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Force one way whenever the filter allows it: the merge, the sorted checks (SQLite only:
    elsewhere the merge is taken instead), or the planner's own plan."""
    real = plan_multi.costs

    def forced(q: Any, terms: Any) -> dict[str, float]:
        return {k: 0.0 if k == request.param else 1.0 for k in real(q, terms)}

    monkeypatch.setattr(plan_multi, "costs", forced)
    return str(request.param)


def pages_of(app: Any, flt: PhotoFilter, per_page: int) -> list[search.Page]:
    with session_of(app) as s:
        first = search.search(s, flt, 1, per_page)
        return [first] + [search.search(s, flt, n, per_page) for n in range(2, first.pages + 1)]


def taken(app: Any, flt: PhotoFilter) -> str | None:
    """The way plan_multi reads the filter (None: the planner's own plan)."""
    with session_of(app) as s:
        chosen = plan_multi.way(plan.Query(s, flt))
        return chosen[0] if chosen else None


def check(app: Any, flt: PhotoFilter, want: list[int], equal: Any) -> None:
    """The whole list, pages of 2 and of 1 (each with the count statement), and their totals."""
    for per_page in (1000, 2, 1):
        pages = pages_of(app, flt, per_page)
        got = [i for pg in pages for i in pg.ids]
        assert equal(got, want), (describe(flt), per_page, got, want)
        assert {pg.total for pg in pages} == {len(want)}, (describe(flt), per_page)


GROUP_FILTERS = [
    PhotoFilter(classes=("dog", "person"), match="all"),
    PhotoFilter(classes=("animals", "tennis ball"), match="all"),
    PhotoFilter(classes=("dog", "cat"), match="all", min_score=0.3),
    PhotoFilter(classes=("dog", "tennis ball"), match="all", sort="oldest"),
    PhotoFilter(classes=("dog", "beagle"), match="all"),  # the undated photo is in both
    PhotoFilter(classes=("dog", "beagle"), match="all", sort="oldest"),
    PhotoFilter(classes=("animals", "dog", "beagle"), match="all", min_score=0.5),
    PhotoFilter(classes=("vehicles", "car"), match="all", min_count=3, min_score=0.5),
    PhotoFilter(classes=("beagle", "tabby"), match="all"),
    PhotoFilter(classes=("beagle", "tennis ball", "dog"), match="all", sort="oldest"),
    PhotoFilter(classes=("dog", "seashore"), match="all", source="imagenet"),
    PhotoFilter(classes=("people", "seashore"), match="all", min_score=0.55),
]


@pytest.mark.parametrize("flt", GROUP_FILTERS, ids=describe)
def test_groups_and_classes_all_each_way(gworld, way, flt):
    app, root, photos = gworld
    want = group_ref(photos, flt, root)
    check(app, flt, want, lambda got, ref: same(app, got, ref, photos))


def test_the_forced_way_is_taken(gworld, cworld, way, db_backend):
    """The forced way is really the path under test."""
    want = {"plan": None, "sorted": "sorted" if db_backend == "sqlite" else "merge"}.get(way, way)
    for app, flt in [
        (gworld[0], PhotoFilter(classes=("beagle", "tabby"), match="all")),
        (cworld[0], PhotoFilter(classes=("seashore", "alp"), match="all", sort="oldest")),
    ]:
        assert taken(app, flt) == want, describe(flt)
    # Only groups checked (from a class or a group): the sorted checks would be the plan's own
    # statement, which is taken instead.
    for flt in (GROUP_FILTERS[0], GROUP_FILTERS[3]):
        only_groups = None if way == "sorted" and db_backend == "sqlite" else want
        assert taken(gworld[0], flt) == only_groups, describe(flt)
    # Dates, places and words of several terms keep the planner's plan.
    for flt in [
        PhotoFilter(classes=("dog", "person"), match="all", start=date(2014, 1, 1)),
        PhotoFilter(classes=("dog", "person"), match="all", lat=38.7, lon=-9.1, radius_km=50),
        PhotoFilter(classes=("CARDIGAN", "dog"), match="all"),
    ]:
        assert taken(gworld[0], flt) is None, describe(flt)


CLASS_FILTERS = [
    PhotoFilter(classes=("seashore", "person"), match="all"),
    PhotoFilter(classes=("seashore", "person"), match="all", min_score=0.5, sort="oldest"),
    PhotoFilter(classes=("person", "umbrella"), match="all"),
    PhotoFilter(classes=("person", "dog", "seashore"), match="all"),
    PhotoFilter(classes=("person", "car"), match="all", min_count=2),
    PhotoFilter(classes=("person", "dog"), match="all", source="coco", min_score=0.5),
    PhotoFilter(classes=("zebra", "person"), match="all"),
]


@pytest.mark.parametrize("flt", CLASS_FILTERS, ids=describe)
def test_classes_all_each_way(cworld, way, flt):
    app, root, photos = cworld
    check(app, flt, reference(photos, flt, root), lambda got, ref: got == ref)


ANY_FILTERS = [
    PhotoFilter(classes=("seashore", "alp"), match="any"),
    PhotoFilter(classes=("umbrella",)),  # one class in both sources: a union of two
    PhotoFilter(classes=("person", "umbrella"), match="any", min_score=0.5),
    PhotoFilter(classes=("seashore", "person", "dog"), match="any", sort="oldest"),
    PhotoFilter(classes=("seashore", "person"), match="any", start=date(2012, 1, 1)),
]


@pytest.mark.parametrize("flt", ANY_FILTERS, ids=describe)
def test_any_counts_over_ids(cworld, flt):
    app, root, photos = cworld
    with session_of(app) as s:
        assert plan.Query(s, flt).kind == "union", describe(flt)
    check(app, flt, reference(photos, flt, root), lambda got, ref: got == ref)


@pytest.mark.parametrize(
    "flt",
    [
        PhotoFilter(classes=("dog", "seashore"), match="any"),
        PhotoFilter(classes=("dog", "cat", "tennis ball"), match="any", min_score=0.3),
    ],
    ids=describe,
)
def test_any_with_groups_counts_over_ids(gworld, flt):
    app, root, photos = gworld
    check(app, flt, group_ref(photos, flt, root), lambda got, ref: same(app, got, ref, photos))


# (filter, how many words the planner keeps): a group word is left out when another word's
# classes are all its members (atw.query.terms.word_terms); the rest keep every word.
IMPLIED = [
    (PhotoFilter(classes=("dog", "beagle"), match="all"), 1),
    (PhotoFilter(classes=("beagle", "animals"), match="all", min_score=0.5, sort="oldest"), 1),
    (PhotoFilter(classes=("dog", "beagle"), match="all", source="imagenet", min_score=0.3), 1),
    (PhotoFilter(classes=("tabby", "cat", "animals"), match="all"), 1),
    (PhotoFilter(classes=("sports car", "cars", "vehicles"), match="all", min_score=0.35), 1),
    (PhotoFilter(classes=("tv", "electronics"), match="all", source="coco", min_score=0.5), 1),
    (PhotoFilter(classes=("tv", "electronics"), match="all", min_count=2), 1),
    (PhotoFilter(classes=("dog", "beagle"), match="all", start=date(2014, 1, 1)), 1),
    (PhotoFilter(classes=("dog", "beagle"), match="all", lat=38.7, lon=-9.1, radius_km=50), 1),
    (PhotoFilter(classes=("dog", "tabby"), match="all"), 2),  # a tabby is no dog
    (PhotoFilter(classes=("dog", "beagle"), match="any"), 2),  # any: every word counts
]


@pytest.mark.parametrize(("flt", "kept"), IMPLIED, ids=[describe(f) for f, _ in IMPLIED])
def test_a_word_another_implies_is_left_out(gworld, monkeypatch, flt, kept):
    """The photos, order and totals are the reference's, and those of the plan that checks
    every word."""
    app, root, photos = gworld
    want = group_ref(photos, flt, root)
    with session_of(app) as s:
        assert len(plan.Query(s, flt).words) == kept, describe(flt)
    check(app, flt, want, lambda got, ref: same(app, got, ref, photos))
    every = lambda terms, f: [[t for t in terms if t.word == i] for i in range(len(f.classes))]  # noqa: E731
    monkeypatch.setattr(plan, "word_terms", every)
    with session_of(app) as s:
        assert len(plan.Query(s, flt).words) == len(flt.classes)
    check(app, flt, want, lambda got, ref: same(app, got, ref, photos))
    assert want or flt.min_count > 1, describe(flt)  # (no tv photo has two boxes)


def tv_world() -> list[P]:
    """Seashores and televisions: "tv" is one word of two terms (the ImageNet television, the
    COCO tv), "seashore" one class, rarer."""
    labels = [
        ([("seashore", 0.8), ("television", 0.6)], []),
        ([("seashore", 0.7)], [("tv", 0.7)]),
        ([("seashore", 0.6)], []),
        ([("television", 0.5)], []),
        ([], [("tv", 0.9)]),
        ([("seashore", 0.4), ("television", 0.3)], [("tv", 0.35)]),
        ([("television", 0.9)], [("tv", 0.8), ("tv", 0.7)]),
        ([("seashore", 0.55), ("television", 0.2)], [("tv", 0.6), ("tv", 0.5)]),
    ]
    out = []
    for i, (inet, coco) in enumerate(labels):
        p = P(f"tv{i}", "tv", f"201{4 + i % 3}:0{1 + i}:0{1 + i} 10:00:00", LISBON)
        p.imagenet, p.coco = inet, coco
        out.append(p)
    return out


@pytest.fixture(scope="module")
def tworld(tmp_path_factory: pytest.TempPathFactory, module_database: Any) -> Any:
    return module_world(tmp_path_factory.mktemp("multi-terms"), module_database, tv_world())


WORD_OF_TERMS = [
    PhotoFilter(classes=("seashore", "tv"), match="all"),
    PhotoFilter(classes=("tv", "seashore"), match="all", min_score=0.5, sort="oldest"),
    PhotoFilter(classes=("seashore", "tv"), match="all", min_score=0.58),
]


@pytest.mark.parametrize("flt", WORD_OF_TERMS, ids=describe)
def test_a_word_of_several_terms_is_checked_in_date_order(tworld, monkeypatch, db_backend, flt):
    """plan_multi._several: the rarest word in date order, each photo checked in any term of
    the other word by their date indexes (SQLite); the same pages and totals as the plan's
    checks by key, and the reference's."""
    app, root, photos = tworld
    want = group_ref(photos, flt, root)
    assert want, describe(flt)
    with session_of(app) as s:
        q = plan.Query(s, flt)
        assert [len(w) for w in q.words] == ([1, 2] if flt.classes[0] == "seashore" else [2, 1])
    assert taken(app, flt) == ("sorted" if db_backend == "sqlite" else None)
    check(app, flt, want, lambda got, ref: got == ref)
    monkeypatch.setattr(plan_multi, "_several", lambda *a: None)
    assert taken(app, flt) is None
    check(app, flt, want, lambda got, ref: got == ref)
