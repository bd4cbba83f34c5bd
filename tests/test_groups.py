"""Class groups in filters, over a real index: hand-made label rows written through the real
Writer, queried through the real query layer and API, against a reference computed here in plain
Python from the labels and the vocabulary's member lists (atw.core.vocabulary), never from the
group rows or the SQL under test."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import func, select, update

from atw.core import group_rows, group_upkeep, vocabulary
from atw.core.group_schema import GroupCount, PhotoGroup
from atw.core.schema import Meta, Photo, PhotoClass
from atw.query import plan, search
from atw.query.filters import FilterError, PhotoFilter, describe, parse
from tests.test_query import (
    LISBON,
    SYDNEY,
    P,
    build_world,
    module_world,
    reference,
    session_of,
    write_labels,
)

V = vocabulary.load()
pytestmark = pytest.mark.databases  # on SQLite and on PostgreSQL (tests/conftest.py)


def world() -> list[P]:
    """Photos whose labels exercise the group scores (names say what each one is about)."""
    ps = [
        P("breed", "a", "2014:06:01 10:00:00", LISBON),
        P("coco_dog", "a", "2014:06:02 10:00:00", LISBON),
        P("split_dogs", "a", "2014:06:03 10:00:00", SYDNEY),
        P("cat", "a", "2014:07:01 10:00:00", SYDNEY),
        P("birds", "b", "2015:01:01 10:00:00", LISBON),
        P("cars", "b", "2015:02:01 10:00:00"),
        P("beach", "b", "2015:03:01 10:00:00", SYDNEY),
        P("nothing", "b", "2015:04:01 10:00:00"),
        P("crowd", "c", "2016:01:01 10:00:00", LISBON),
        P("cardigans", "c", "2016:02:01 10:00:00"),
        P("tv", "c", "2016:03:01 10:00:00", LISBON),
        P("undated_dog", "c", "2016:04:01 10:00:00"),  # its capture time is removed below
    ]
    labels: dict[str, tuple[list[tuple[str, float]], list[tuple[str, float]]]] = {
        "breed": ([("Sussex spaniel", 0.6), ("beagle", 0.2)], []),
        "coco_dog": ([("tennis ball", 0.9)], [("dog", 0.7), ("dog", 0.4)]),
        # Three classes of 0.3: dog 0.6 (two breeds), no breed alone reaches 0.5.
        "split_dogs": ([("beagle", 0.3), ("basset", 0.3), ("tabby", 0.3)], []),
        "cat": ([("tabby", 0.9)], [("cat", 0.8)]),
        "birds": ([("goldfinch", 0.5), ("house finch", 0.25)], [("bird", 0.3)]),
        "cars": (
            [("sports car", 0.4), ("convertible", 0.35)],
            [("car", s) for s in (0.9, 0.8, 0.7, 0.6, 0.5, 0.45)] + [("truck", 0.95)],
        ),
        "beach": ([("seashore", 0.8), ("sandbar", 0.1)], [("person", 0.9), ("person", 0.8)]),
        "nothing": ([], []),
        "crowd": (
            [("groom", 0.55)],
            [("person", s) for s in (0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.3)] + [("dog", 0.35)],
        ),
        "cardigans": ([("Cardigan", 0.5), ("cardigan", 0.45)], []),
        "tv": ([("television", 0.3)], [("tv", 0.6)]),
        "undated_dog": ([("beagle", 0.7)], [("dog", 0.65)]),
    }
    for p in ps:
        p.imagenet, p.coco = labels[p.name]
    return ps


def undate(app: Any, photo: P) -> None:
    """Make a photo one without a capture time (an index can hold such photos; a capture time
    never changes, so its copies are cleared here and the group rows rebuilt), then write its
    labels again: the writer's upkeep of a photo without a time."""
    with session_of(app) as s, s.begin():
        no_time = {"taken_at": None, "taken_at_utc": None, "sort_time": None}  # photo_time's
        s.execute(update(Photo).where(Photo.id == photo.id).values(no_time))
        cls = update(PhotoClass).where(PhotoClass.photo_id == photo.id)
        cls = cls.values(taken_at=None, sort_time=None)
        s.execute(cls.execution_options(synchronize_session=False))
        group_upkeep.rebuild(s)
    write_labels(app, [photo], model="m2")
    photo.undated = True  # type: ignore[attr-defined]


def undated(photos: list[P]) -> set[int]:
    """The ids of this world's photos without a capture time (each index, SQLite's and
    PostgreSQL's, numbers its photos its own way: never mix their ids)."""
    return {p.id for p in photos if getattr(p, "undated", False)}


@pytest.fixture(scope="module")
def gworld(
    tmp_path_factory: pytest.TempPathFactory, module_database: Any
) -> tuple[Any, Path, list[P]]:
    return make_gworld(tmp_path_factory.mktemp("groups"), module_database)


def make_gworld(base: Path, module_database: Any) -> tuple[Any, Path, list[P]]:
    """The world's index under base (also tests/test_groups_charts.py's)."""
    app, root, photos = module_world(base, module_database, world())
    undate(app, next(p for p in photos if p.name == "undated_dog"))
    return app, root, photos


# --- the reference -----------------------------------------------------------------------


def ref_entry(p: P, entry: vocabulary.Entry, flt: PhotoFilter) -> bool:
    """Does the entry alone select p: ImageNet members' probabilities summed (capped at 1),
    COCO members' best box, the larger of the two ≥ min_score; min_count: member boxes."""
    t, k = flt.min_score, flt.min_count
    use_inet = flt.source in ("any", "imagenet") and k == 1
    use_coco = flt.source in ("any", "coco")
    inet = [s for lb, s in p.imagenet if lb in entry.members["imagenet"]] if use_inet else []
    boxes = [s for lb, s in p.coco if lb in entry.members["coco"]] if use_coco else []
    if k > 1:
        return sum(b >= (t or 0.0) for b in boxes) >= k
    scores = ([min(1.0, round(sum(inet), 4))] if inet else []) + ([max(boxes)] if boxes else [])
    return bool(scores) and (t is None or max(scores) >= t)


def ref_word(p: P, word: str, flt: PhotoFilter) -> bool:
    return any(ref_entry(p, e, flt) for e in V.resolve(word))


def ref(photos: list[P], flt: PhotoFilter, root: Path) -> list[int]:
    """The filter's photos in order: the class words from here, the rest from test_query's
    reference (dates, places, order)."""
    rest = replace(flt, classes=(), min_count=1)
    by_id = {p.id: p for p in photos}
    ids = reference(photos, rest, root)
    no_time = undated(photos)
    # A photo without a capture time: no date range holds it; in time order it comes where
    # NULL sorts (after every dated photo newest first, before them oldest first).
    if flt.start or flt.end:
        ids = [i for i in ids if i not in no_time]
    elif flt.sort != "nearest":
        none = [i for i in ids if i in no_time]
        ids = [i for i in ids if i not in no_time]
        ids = ids + none if flt.sort == "newest" else none + ids
    if not flt.classes:
        return ids
    want = all if flt.match == "all" else any
    return [i for i in ids if want(ref_word(by_id[i], w, flt) for w in flt.classes)]


def run(app: Any, flt: PhotoFilter) -> list[int]:
    with session_of(app) as s:
        page = search.search(s, flt, 1, 1000)
        assert page.total == len(page.ids)
        assert search.search(s, flt, 1, 2).total == page.total  # the count query itself
        return page.ids


def names(photos: list[P], ids: list[int]) -> set[str]:
    by_id = {p.id: p.name for p in photos}
    return {by_id[i] for i in ids}


FILTERS = [
    PhotoFilter(classes=("dog",)),
    PhotoFilter(classes=("dogs",), min_score=0.5),
    PhotoFilter(classes=("dog",), min_score=0.6),
    PhotoFilter(classes=("dog",), min_score=0.555),  # off the 0.01 grid
    PhotoFilter(classes=("dog",), source="imagenet", min_score=0.5),
    PhotoFilter(classes=("dog",), source="coco"),
    PhotoFilter(classes=("beagle",), min_score=0.5),
    PhotoFilter(classes=("Sussex spaniel",)),
    PhotoFilter(classes=("birds",), min_score=0.7),
    PhotoFilter(classes=("bird",), source="coco"),
    PhotoFilter(classes=("automobile",), min_score=0.7),  # car.n.01: 0.4 + 0.35, or a box
    PhotoFilter(classes=("vehicles",), min_count=7, min_score=0.4),  # cars and a truck: boxes
    PhotoFilter(classes=("car",), min_count=6, min_score=0.45),
    PhotoFilter(classes=("car",), min_count=3, min_score=0.75),
    PhotoFilter(classes=("person",), min_count=2, min_score=0.8),
    PhotoFilter(classes=("people",), min_score=0.55),  # the groom (ImageNet) counts too
    PhotoFilter(classes=("dog", "seashore"), match="any"),
    PhotoFilter(classes=("dog", "person"), match="all"),
    PhotoFilter(classes=("animals", "tennis ball"), match="all"),
    PhotoFilter(classes=("dog", "cat"), match="all", min_score=0.3),
    PhotoFilter(classes=("CARDIGAN",)),  # ambiguous: the corgi and the sweater
    PhotoFilter(classes=("television",), source="coco"),  # COCO "tv" is the same class
    PhotoFilter(classes=("sea coast",)),
    PhotoFilter(classes=("entity",), min_score=0.9),
    PhotoFilter(classes=("dog",), start=date(2014, 6, 2), end=date(2016, 12, 31)),
    PhotoFilter(classes=("dog",), end=date(2016, 12, 31)),  # the undated photo has no date
    PhotoFilter(classes=("dog",), lat=LISBON[0], lon=LISBON[1], radius_km=50),
    PhotoFilter(
        classes=("dog",), start=date(2014, 1, 1), lat=LISBON[0], lon=LISBON[1], radius_km=50
    ),
    PhotoFilter(classes=("dog",), sort="oldest"),
    PhotoFilter(classes=("animals", "seashore"), lat=SYDNEY[0], lon=SYDNEY[1], radius_km=20),
    PhotoFilter(classes=("dog",), lat=SYDNEY[0], lon=SYDNEY[1], sort="nearest"),
]


def same(app: Any, got: list[int], want: list[int], photos: list[P]) -> bool:
    """got == want; on PostgreSQL the photo without a capture time may stand first instead of
    last (PostgreSQL sorts NULL first in DESC, group pages as every other list)."""
    if "postgresql" not in str(app.config.get("DATABASE_URL")):
        return got == want
    no_time = undated(photos)
    dated = [i for i in got if i not in no_time]
    return dated == [i for i in want if i not in no_time] and set(got) == set(want)


@pytest.mark.parametrize("flt", FILTERS, ids=describe)
def test_group_filters_match_the_reference(gworld, flt):
    app, root, photos = gworld
    assert same(app, run(app, flt), ref(photos, flt, root), photos)


def test_a_coco_dog_and_an_imagenet_breed_both_match_dog(gworld):
    app, _root, photos = gworld
    got = names(photos, run(app, PhotoFilter(classes=("dog",))))
    assert {"breed", "coco_dog", "undated_dog", "crowd", "split_dogs"} <= got
    assert "cat" not in got and "nothing" not in got
    # Only the sum reaches 0.5: beagle 0.3 + basset 0.3; neither breed alone does.
    assert "split_dogs" in names(photos, run(app, PhotoFilter(classes=("dog",), min_score=0.5)))
    for breed in ("beagle", "basset"):
        flt = PhotoFilter(classes=(breed,), min_score=0.5)
        assert "split_dogs" not in names(photos, run(app, flt))


def test_group_scores_are_stored_as_defined(gworld):
    app, _root, photos = gworld
    dog = group_rows.stored_groups().ids["dog.n.01"]
    by_name = {p.name: p.id for p in photos}
    with session_of(app) as s:
        rows = {r.photo_id: r for r in s.scalars(select(PhotoGroup).where(PhotoGroup.grp == dog))}
    crowd, cars = rows[by_name["crowd"]], rows[by_name["split_dogs"]]
    assert (crowd.score, crowd.inet, crowd.c1, crowd.c2, crowd.n) == (3500, None, 3500, None, 1)
    assert (cars.score, cars.inet, cars.c1, cars.n) == (6000, 6000, None, 0)
    undated = rows[by_name["undated_dog"]]
    assert undated.taken_at == group_rows.NO_TIME and undated.score == 7000
    vehicle = group_rows.stored_groups().ids["category:vehicles"]
    with session_of(app) as s:
        row = s.get(
            PhotoGroup,
            (vehicle, next(p for p in photos if p.name == "cars").taken_at, by_name["cars"]),
        )
    assert row is not None and (row.c1, row.c5, row.n) == (9500, 6000, 7)


@pytest.mark.databases("sqlite")  # PostgreSQL sorts NULL first in DESC (groups too)
def test_the_undated_photo_sorts_and_pages_like_any_undated_photo(gworld):
    app, _root, photos = gworld
    flt = PhotoFilter(classes=("dog",))
    ids = run(app, flt)
    undated = next(p.id for p in photos if p.name == "undated_dog")
    assert ids[-1] == undated  # newest first: no time comes last, as in photo order
    assert run(app, replace(flt, sort="oldest"))[0] == undated
    with session_of(app) as s:
        prev_id, next_id = search.neighbours(s, flt, undated)
        assert prev_id == ids[-2] and next_id is None
        assert search.position(s, flt, undated) == len(ids) - 1
        first = search.search(s, flt, 1, 2).ids
        assert first == ids[:2]


def test_plans_read_photo_group(gworld):
    app, _root, _photos = gworld
    with session_of(app) as s:
        q = plan.Query(s, PhotoFilter(classes=("dog",), min_score=0.5))
        assert q.kind == "single" and q.specs[0][0] == "group"
        assert q.fast_count(s) == s.scalar(q.count())
        assert plan.Query(s, PhotoFilter(classes=("dog", "cat"))).kind == "union"
        assert plan.Query(s, PhotoFilter(classes=("dog", "cat"), match="all")).kind == "probe"


def test_stale_group_rows_give_the_same_answers(gworld):
    """Another vocabulary version in meta: the rows are not trusted; every group filter is
    answered from photo_class, with the same results; a rebuild brings them back."""
    app, root, photos = gworld
    with session_of(app) as s, s.begin():
        s.get(Meta, group_rows.META_KEY).value = "wn3.0-older/g1"
    try:
        for flt in FILTERS:
            assert same(app, run(app, flt), ref(photos, flt, root), photos), describe(flt)
        with session_of(app) as s:
            assert plan.Query(s, PhotoFilter(classes=("dog",))).kind == "photo"
    finally:
        with session_of(app) as s, s.begin():
            assert group_upkeep.rebuild_if_stale(s)
    with session_of(app) as s:
        assert group_rows.current(s)


def test_incremental_rows_equal_a_rebuild_and_counts_agree(gworld):
    app, _root, _photos = gworld
    with session_of(app) as s:
        before = sorted(tuple(r) for r in s.execute(select(PhotoGroup.__table__)))
        counts = sorted(tuple(r) for r in s.execute(select(GroupCount.__table__)) if r[-1])
    with session_of(app) as s, s.begin():
        group_upkeep.rebuild(s)
    with session_of(app) as s:
        assert sorted(tuple(r) for r in s.execute(select(PhotoGroup.__table__))) == before
        after = sorted(tuple(r) for r in s.execute(select(GroupCount.__table__)) if r[-1])
        assert after == counts
        # GroupCount "any" = the photos of each group
        n = dict(s.execute(select(PhotoGroup.grp, func.count()).group_by(PhotoGroup.grp)).all())
        any_counts = dict(
            s.execute(
                select(GroupCount.grp, func.sum(GroupCount.photos))
                .where(GroupCount.source == "any")
                .group_by(GroupCount.grp)
            ).all()
        )
        assert n == any_counts


def test_a_relabel_moves_the_group_rows(make_app, tmp_path):
    app = make_app()
    photos = [P("one", "x", "2014:06:01 10:00:00"), P("two", "x", "2014:06:02 10:00:00")]
    photos[0].imagenet = [("beagle", 0.8)]
    photos[1].coco = [("cat", 0.9)]
    build_world(app, tmp_path / "photos", photos)
    assert names(photos, run(app, PhotoFilter(classes=("dog",)))) == {"one"}
    photos[0].imagenet, photos[1].coco = [("tabby", 0.8)], [("dog", 0.9)]
    write_labels(app, photos, model="m2")
    assert names(photos, run(app, PhotoFilter(classes=("dog",)))) == {"two"}
    assert names(photos, run(app, PhotoFilter(classes=("cat",)))) == {"one"}
    with session_of(app) as s:
        dog = group_rows.stored_groups().ids["dog.n.01"]
        assert group_rows.group_photos(s, dog) == 1


# --- words -------------------------------------------------------------------------------


def test_synonyms_and_case_name_the_same_photos(gworld):
    app, _root, _photos = gworld
    same = [
        ("automobile", "car"),
        ("Automobiles", "car"),
        ("sea coast", "seashore"),
        ("beach", "seashore"),
        ("DOG", "dog"),
        ("dog.n.01", "dog"),
        ("Dogs", "category:dogs"),
        ("domestic dog", "dog"),
    ]
    for a, b in same:
        assert run(app, PhotoFilter(classes=(a,))) == run(app, PhotoFilter(classes=(b,))), a


def test_unknown_words_are_refused_with_suggestions(gworld):
    app, _root, _photos = gworld
    with pytest.raises(FilterError) as exc:
        parse({"classes": "dog,automobil"})
    assert exc.value.param == "classes" and "automobile" in exc.value.suggestions
    c = app.test_client()
    r = c.get("/api/photos?classes=dog,sea%20cost")
    body = r.get_json()
    assert r.status_code == 400 and body["parameter"] == "classes"
    assert "sea-coast" in body["suggestions"] and "'sea cost'" in body["message"]
    body = c.get("/api/photos?classes=xyzzy").get_json()
    assert body["suggestions"][:2] == ["People", "Animals"]  # nothing close: the categories
    r = c.get("/api/classes?classes=xyzzy")
    assert r.status_code == 400 and r.get_json()["suggestions"]


def test_the_filter_in_words_names_groups():
    flt = PhotoFilter(classes=("dog", "beach", "vehicles"), min_score=0.5)
    assert describe(flt) == "dog (group), seashore or vehicles ≥ 0.5"


# --- the API -----------------------------------------------------------------------------


def test_api_classes_lists_groups_and_categories_with_counts(gworld):
    app, root, photos = gworld
    c = app.test_client()
    for q, flt in [
        ("", PhotoFilter()),
        ("min_score=0.5", PhotoFilter(min_score=0.5)),
        (
            "start=2014-01-01&end=2015-12-31",
            PhotoFilter(start=date(2014, 1, 1), end=date(2015, 12, 31)),
        ),
        ("lat=38.72&lon=-9.14&radius_km=50", PhotoFilter(lat=38.72, lon=-9.14, radius_km=50)),
        ("classes=dog&source=coco", PhotoFilter(classes=("dog",), source="coco")),
    ]:
        rows = c.get(f"/api/classes?{q}").get_json()
        assert {r["kind"] for r in rows} == {"class", "group", "category"}
        assert [r["photos"] for r in rows] == sorted((r["photos"] for r in rows), reverse=True)
        for r in rows:
            if r["kind"] == "class":
                continue
            entry = V.entries[r["key"]]
            assert r["members"] == entry.size and r["label"]
            want = ref(photos, replace(flt, classes=(r["key"],), match="any"), root)
            if flt.classes:
                inside = set(ref(photos, flt, root))
                want = [i for i in want if i in inside]
            assert r["photos"] == len(want), r
        cats = [r for r in rows if r["kind"] == "category"]
        assert cats and all(r["photos"] > 0 for r in cats)
    only = c.get("/api/classes?kind=category").get_json()
    assert only and {r["kind"] for r in only} == {"category"}
    assert c.get("/api/classes?kind=colour").status_code == 400


def test_the_autocomplete_shows_groups_with_counts_and_members(gworld):
    app, _root, _photos = gworld
    c = app.test_client()
    rows = c.get("/api/classes?q=do").get_json()
    dog = next(r for r in rows if r["key"] in ("dog.n.01", "category:dogs"))
    assert dog["kind"] in ("group", "category") and dog["members"] == 119
    assert dog["photos"] == len(run(app, PhotoFilter(classes=("dog",))))
    # Names that start with "do" first, most photos first; then names with a word that does.
    starts = [r for r in rows if r["name"].lower().startswith("do")]
    assert rows[: len(starts)] == starts and len(starts) < len(rows)
    assert [r["photos"] for r in starts] == sorted((r["photos"] for r in starts), reverse=True)
    assert c.get("/api/classes?q=dog").get_json()[0]["key"] == "dog.n.01"  # the name itself
    assert sum(r["key"] in ("dog.n.01", "category:dogs") for r in rows) == 1  # one per set
    assert all(r["photos"] > 0 for r in rows)
    # Within the rest of the filter.
    june = c.get("/api/classes?q=do&start=2014-06-01&end=2014-06-30").get_json()
    dog = next(r for r in june if r["key"] in ("dog.n.01", "category:dogs"))
    assert dog["photos"] == 3  # breed, coco_dog, split_dogs
    # The word it puts into the field names that entry.
    for r in rows:
        assert r["key"] in [e.key for e in V.resolve(r["label"])]


def test_api_class_detail_members_parents_children(gworld):
    app, _root, _photos = gworld
    c = app.test_client()
    d = c.get("/api/classes/dog").get_json()
    assert d["key"] == "dog.n.01" and d["kind"] == "group" and d["members"] == 119
    assert "dog" in d["member_classes"]["coco"] and "beagle" in d["member_classes"]["imagenet"]
    assert "canine.n.02" in [p["key"] for p in d["parents"]]
    kids = {k["key"]: k for k in d["children"]}
    assert "hunting_dog.n.01" in kids and kids["hunting_dog.n.01"]["photos"] >= 2
    cat = c.get("/api/classes/category:animals").get_json()
    assert cat["kind"] == "category" and cat["children"]
    assert c.get("/api/classes/kite").get_json()["others"]  # the other sense is listed
    r = c.get("/api/classes/dgo")
    assert r.status_code == 404 and r.get_json()["suggestions"]


@pytest.mark.parametrize("q", ["", "min_score=0.5", "start=2014-01-01&end=2015-12-31&source=coco"])
def test_the_class_browser_counts_are_what_a_click_returns(gworld, q):
    """The class browser (atw/static/classes.js): categories, then a category's and a group's
    children and own classes (COCO "bird" on the Birds category: source=coco), counted in the
    filter without its class words; each word's link (classes=label with the rest of the
    filter, and the own class's source) returns that many photos; an entry with photos opens
    to at least one child or own class with photos."""
    app, _root, _photos = gworld
    c = app.test_client()

    def total(row: dict[str, Any]) -> int:
        args = dict(kv.split("=") for kv in q.split("&") if kv)
        args["classes"] = quote(row["label"])
        if row.get("source"):
            args["source"] = row["source"]
        body = c.get("/api/photos?" + "&".join(f"{k}={v}" for k, v in args.items())).get_json()
        return body["total"]

    def opened(row: dict[str, Any]) -> list[dict[str, Any]]:
        d = c.get(f"/api/classes/{quote(row['key'])}?{q}").get_json()
        assert d["key"] == row["key"] and d["photos"] == row["photos"]
        rows = [r for r in d["own"] + d["children"] if r["photos"] > 0]
        assert rows, row
        for r in rows:
            assert total(r) == r["photos"], r
        return rows

    cats = c.get(f"/api/classes?kind=category&{q}").get_json()
    assert cats and {r["kind"] for r in cats} == {"category"}
    for cat in cats:
        assert total(cat) == cat["photos"], cat
    groups = [r for cat in cats[:4] for r in opened(cat) if r["kind"] != "class"]
    for group in groups[:4]:
        opened(group)
    assert groups


def test_the_dashboard_names_an_unknown_word_with_suggestions(gworld):
    """The page keeps the rest of the filter and says, beside the classes field, what the word
    might have been (the API's 400 carries the same suggestions)."""
    app, _root, _photos = gworld
    page = app.test_client().get("/?classes=automobil&start=2015-01-01")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    field = html[html.index('id="classes"') : html.index('id="class-suggest"')]
    assert "no class or group called &#39;automobil&#39;" in field and "automobile" in field
    assert "Left out of the filter" in html
    want = len(run(app, PhotoFilter(start=date(2015, 1, 1))))
    assert f'<strong id="total">{want}</strong>' in html
