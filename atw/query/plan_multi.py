"""Several class words without other conditions: "all" of words that are each one class or
group, by a merge of their date-ordered ranges or (SQLite) by the rarest one checked in date
order, page and count (a word of several terms: checked in any of them, _several); and the
count of "any" over photo ids alone.

A class's rows in ix_photo_class_label (label, source, sort_time, photo_id, …) and a group's in
ix_photo_group_sort (grp, sort_time, photo_id, …) are each one range already in the pages' order
(sort_time, id). "All of these words" is then the INTERSECT of those ranges ORDER BY the page's
keys: SQLite merges them side by side (MERGE (INTERSECT), no sort, no look-up), a page stops
after its rows, and the count reads every range once. The copies of sort_time in both tables
follow photo.sort_time (atw.core.derived.set_sort_times), so a photo has one (sort_time, id) pair
everywhere: the intersection of the pairs is the intersection of the photos, exact.

When one word is rare, reading its range and checking each of its photos in the other words
reads less. The planner (atw.query.plan) checks a class by its primary key (label, source,
photo_id): from rows in date order those seeks land at random. On SQLite the "sorted" way checks
a class by its date index instead, seeking the row's own sort_time: the seeks then walk the
checked range forwards with the driver (a group: its key (grp, taken_at, photo_id), in nearly
date order already). Measured at 1,000,000 photos (bench/query_latency.py), warm, one core: a
row of a range ≈ 0.1–0.17 µs; a check in order ≈ 0.7 µs when the checks fall densely on the
checked range's pages, ≈ 2 µs when each lands on a new page; a check at random ≈ 3–4 µs. The
constants below are these costs in rows; way() takes the cheapest count (a page stops early
either way)."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from typing import Any

from sqlalchemy import ColumnElement, func, intersect, literal_column, or_, select, union
from sqlalchemy.sql import Select

from atw.core.dialect import keep_order
from atw.core.group_schema import PhotoGroup
from atw.core.schema import PhotoClass
from atw.query import groups
from atw.query.terms import Term, score_conds

# q below is an atw.query.plan.Query (which imports this module): its flt, words, kind,
# photo_conds, centre, dialect, branches and sort_keys.
Query = Any

# Costs in rows of a range scan (module docstring): a merged row; a check by key in order (a
# seek, and a new page of the checked range unless the checks are denser than its pages); a
# check at random (a new page each).
MERGE_ROW = 1.1
SEEK = 6
NEW_PAGE = 14
ROWS_PER_PAGE = 50
RANDOM_CHECK = 35
# A class in two sources is read as two ranges and sorted into one for the merge (per row).
SORT_ROW = 1.0


def way(q: Query) -> tuple[str, list[Any]] | None:
    """How to read "all" of several words with nothing else (no dates, place or photo
    conditions): ("merge", terms), ("sorted", [driver, *others]) (on SQLite: the rarest word in
    date order, each photo checked in the others by their date index), or None (the planner's
    own plan), whichever reads least (costs()), when each word is one class or group; with a
    word of several terms, the sorted checks or the plan (_several)."""
    if "_multi_way" not in vars(q):  # once per Query: its page and its count both ask
        q._multi_way = _choose(q)
    return q._multi_way


def _choose(q: Query) -> tuple[str, list[Any]] | None:
    flt = q.flt
    if flt.match != "all" or len(q.words) < 2 or q.kind not in ("intersect", "probe", "union"):
        return None
    if q.photo_conds or q.centre is not None or flt.start or flt.end or flt.sort == "nearest":
        return None
    words = [[t for t in word if t.sources] for word in q.words]
    if any(not word for word in words):
        return None
    if any(len(word) > 1 for word in words):
        return _several(q, words)
    terms = [word[0] for word in words]
    cost = costs(q, terms)
    best = min(cost, key=lambda k: cost[k])
    if best == "merge":
        return "merge", terms
    driver = _driver(terms)
    others = [t for t in terms if t is not driver]
    if q.kind == "probe" and all(t.grp is not None for t in others):
        return None  # the plan's own branch is the same statement, and already built
    return ("sorted", [driver, *others]) if best == "sorted" else None


def _several(q: Query, words: list[list[Term]]) -> tuple[str, list[Any]] | None:
    """A word of several terms ("stop sign": the ImageNet street sign or the COCO stop sign; a
    class in both sources is one term): no merge, but on SQLite, when the rarest word is one
    term, its range in date order with each photo checked in any term of each other word by
    the terms' date indexes, if that reads less than the plan's checks (at random by key).
    ("sorted", [driver, *other words]) or None."""
    driver_word = min(words, key=lambda w: (sum(t.photos for t in w), len(w)))
    if q.dialect != "sqlite" or len(driver_word) != 1:
        return None
    driver, others = driver_word[0], [w for w in words if w is not driver_word]
    flat = [t for w in others for t in w]
    if q.kind == "probe" and all(t.grp is not None for t in flat):
        return None  # the plan's own branch is the same statement
    if _check_rows("sorted", driver, flat) >= _check_rows(q.kind, driver, flat):
        return None
    return "sorted", [driver, *others]


def costs(q: Query, terms: list[Term]) -> dict[str, float]:
    """The rows each way's count reads (in range-row units), in the order ties are settled: on
    SQLite the sorted checks cost no more than the plan's for a count, and their page walked in
    date order checks its rows in order too (the plan's page checks a class at random)."""
    out = {"merge": merge_cost(terms)}
    if q.dialect == "sqlite":
        out["sorted"] = check_cost("sorted", terms)
    out["plan"] = check_cost(q.kind, terms)
    return out


def merge_terms(q: Query) -> list[Term] | None:
    """The terms when way() is the merge."""
    chosen = way(q)
    return chosen[1] if chosen and chosen[0] == "merge" else None


def page(q: Query) -> Any | None:
    """The page statement of way() (the caller adds LIMIT/OFFSET), or None."""
    chosen = way(q)
    if chosen is None:
        return None
    if chosen[0] == "merge":
        return merged(q, chosen[1])
    branches = _sorted_branches(q, chosen[1])
    if len(branches) > 1:  # a driver in two sources: its two ranges merged (UNION: once each)
        keys = q.sort_keys(literal_column("id"), literal_column("sort_time"), None)
        return union(*branches).order_by(*keys)
    cols = {c.name: getattr(c, "element", c) for c in branches[0].selected_columns}
    return branches[0].order_by(*q.sort_keys(cols["id"], cols["sort_time"], None))


def count(q: Query) -> Select[Any] | None:
    """The count statement of way(), or None."""
    chosen = way(q)
    if chosen is None:
        return None
    if chosen[0] == "merge":
        return merged_count(q, chosen[1])
    branches = _sorted_branches(q, chosen[1])
    if len(branches) > 1:
        sub = keep_order(page(q), q.dialect).subquery()
        return select(func.count()).select_from(sub)
    return branches[0].with_only_columns(func.count(), maintain_column_froms=True)


def _driver(terms: list[Term]) -> Term:
    return min(terms, key=lambda t: (t.photos, len(t.sources)))


def merge_cost(terms: list[Term]) -> float:
    """Rows read by the merge: every range whole (a class in two sources also sorted)."""
    return sum(t.rows * (MERGE_ROW + (SORT_ROW if len(t.sources) > 1 else 0)) for t in terms)


def check_cost(kind: str, terms: list[Term]) -> float:
    """Rows read (in range-row units) by a count that checks the rarest word's photos in the
    others: its range, and per photo of it one check in each other word. "probe" reads the
    driver in date order, so checks of a group (its key: grp, taken_at, photo_id) come in
    order; "intersect" reads classes in id order, checked by their keys in id order; "sorted"
    checks every word by its date index in date order; the rest come at random."""
    driver = _driver(terms)
    return _check_rows(kind, driver, [t for t in terms if t is not driver])


def _check_rows(kind: str, driver: Term, others: list[Term]) -> float:
    """check_cost for this driver and the terms each of its photos is checked in."""
    checks = 0.0
    for t in others:
        if (kind == "probe" and t.grp is not None) or kind in ("intersect", "sorted"):
            dense = min(1.0, t.rows / ROWS_PER_PAGE / max(1, driver.photos))
            checks += driver.photos * (SEEK + NEW_PAGE * dense)
        else:
            checks += driver.photos * RANDOM_CHECK
    return driver.rows + checks


def merged(q: Query, terms: list[Term]) -> Any:
    """The matching photos (id, sort_time) in the pages' order: the INTERSECT of the terms'
    ranges (the caller adds LIMIT/OFFSET)."""
    branches = [_range(q, t) for t in terms]
    keys = q.sort_keys(literal_column("id"), literal_column("sort_time"), None)
    return intersect(*branches).order_by(*keys)


def merged_count(q: Query, terms: list[Term]) -> Select[Any]:
    """The count of the same merge (its order kept: the merge needs no sort)."""
    sub = keep_order(merged(q, terms), q.dialect).subquery()
    return select(func.count()).select_from(sub)


def _range(q: Query, term: Term) -> Select[Any]:
    """A term's photos (id, sort_time) above the filter's scores: one index range."""
    flt = q.flt
    if term.grp is not None:
        pg = _alias(PhotoGroup, "pg")
        cols = (pg.photo_id.label("id"), pg.sort_time.label("sort_time"))
        return select(*cols).where(pg.grp == term.grp, *groups.score_conds(pg, flt, term.grp))
    pc = _alias(PhotoClass, "pc")
    cols = (pc.photo_id.label("id"), pc.sort_time.label("sort_time"))
    return select(*cols).where(
        pc.label == term.label, _sources(pc, term), *score_conds(pc, flt.min_score, flt.min_count)
    )


def _alias(model: Any, name: str) -> Any:
    """A Core alias of the model's table with its columns as attributes (what score_conds and
    groups.score_conds read): the same SQL as orm.aliased, a fraction of its build time (~1 ms
    a statement, at a 50 ms budget)."""
    table = model.__table__.alias(name)
    return SimpleNamespace(**{c.key: c for c in table.c})


def _sources(pc: Any, term: Term) -> ColumnElement[bool]:
    return pc.source == term.sources[0] if len(term.sources) == 1 else pc.source.in_(term.sources)


def _sorted_branches(q: Query, terms: list[Any]) -> list[Select[Any]]:
    """The driver's range (terms[0]; one per source) in date order, each row checked in the
    other terms (an entry may be a word's terms: any of them): a class by its date index
    (label, source, sort_time, …), seeking the row's own sort_time (IS: a photo without a time
    has NULL in every copy), then its id ("photo_id + 0" keeps SQLite off the primary key, whose
    seeks would land at random); a group by its primary key (grp, taken_at, photo_id), in
    nearly the same order. Either walks the checked range
    forwards with the driver, and finds the same photos as a check by id: a photo's sort_time
    and taken_at are one value in every table (module docstring)."""
    driver = terms[0]
    sources = [(s,) for s in driver.sources] if driver.grp is None else [driver.sources]
    out = []
    for source in sources:
        branch = _range(q, replace(driver, sources=source))
        table = branch.get_final_froms()[0]
        photo_id, sort_time = table.c.photo_id, table.c.sort_time
        taken_key = table.c.taken_at if driver.grp is not None else groups.row_key(table.c.taken_at)
        for i, word in enumerate(terms[1:]):  # a Term, or a word's terms (any of them)
            checks = [
                _sorted_check(q, t, photo_id, sort_time, taken_key, f"x{i}_{j}")
                for j, t in enumerate(word if isinstance(word, list) else [word])
            ]
            branch = branch.where(or_(*checks))
        out.append(branch)
    return out


def _sorted_check(
    q: Query, t: Term, photo_id: Any, sort_time: Any, taken_key: Any, name: str
) -> ColumnElement[bool]:
    """EXISTS: the photo has term t (_sorted_branches)."""
    if t.grp is not None:
        return groups.has_group(photo_id, taken_key, q.flt, t.grp, name)
    x = _alias(PhotoClass, name)
    same = [x.sort_time.is_not_distinct_from(sort_time), x.photo_id + 0 == photo_id]
    conds = [x.label == t.label, _sources(x, t), *score_conds(x, q.flt.min_score, q.flt.min_count)]
    # SELECT 1: the date index holds every column the check reads (SELECT * would also need
    # n, which only the primary key holds, and SQLite would scan that instead).
    return select(literal_column("1")).where(*conds, *same).exists()


def union_count(q: Query) -> Select[Any]:
    """The count of a "union" plan over photo ids alone: each branch read in id order (a class
    by its primary key) and merged; without the other columns SQLite needs no sort to tell
    equal rows (a photo's taken_at and sort_time are the same in every branch)."""
    ids = [
        b.with_only_columns(b.selected_columns.id, maintain_column_froms=True) for b in q.branches
    ]
    merged_ids = union(*ids).order_by(literal_column("id"))
    sub = keep_order(merged_ids, q.dialect).subquery()
    return select(func.count()).select_from(sub)
