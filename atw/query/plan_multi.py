"""Several class words without other conditions: "all" by a merge of the words' date-ordered
ranges (page and count), and the count of "any" over photo ids alone.

A class's rows in ix_photo_class_label (label, source, sort_time, photo_id, …) and a group's in
ix_photo_group_sort (grp, sort_time, photo_id, …) are each one range already in the pages' order
(sort_time, id). "All of these words" is then the INTERSECT of those ranges ORDER BY the page's
keys: SQLite merges them side by side (MERGE (INTERSECT), no sort, no look-up), a page stops
after its rows, and the count reads every range once. The copies of sort_time in both tables
follow photo.sort_time (atw.core.derived.set_sort_times), so a photo has one (sort_time, id) pair
everywhere: the intersection of the pairs is the intersection of the photos, exact.

The planner's other way (atw.query.plan: the rarest word's rows, each checked in the other words
by key) reads fewer rows when that word is rare; each check costs a seek. Measured at 1,000,000
photos (bench/query_latency.py), warm, one core: a row of a range ≈ 0.1–0.17 µs; a check of a
group by its key from a class read in date order ≈ 0.7 µs when the checks fall densely on its
pages, ≈ 2 µs when each lands on a new page; a check of a class by its key from a group ≈ 3–4 µs
(random pages of a big range). The constants below are these costs in rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, intersect, literal_column, select, union
from sqlalchemy.orm import aliased
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
MERGE_ROW = 1.3
SEEK = 6
NEW_PAGE = 14
ROWS_PER_PAGE = 50
RANDOM_CHECK = 35
# A class in two sources is read as two ranges and sorted into one (per row).
SORT_ROW = 1.0


def merge_terms(q: Query) -> list[Term] | None:
    """The terms to merge when the filter is "all" of several words, each one class or group,
    with nothing else (no dates, place or photo conditions) and the merge reads less than the
    plan's checks would; else None."""
    flt = q.flt
    if flt.match != "all" or len(q.words) < 2 or q.kind not in ("intersect", "probe", "union"):
        return None
    if q.photo_conds or q.centre is not None or flt.start or flt.end or flt.sort == "nearest":
        return None
    terms = []
    for word in q.words:
        live = [t for t in word if t.sources]
        if len(live) != 1:
            return None
        terms.append(live[0])
    return terms if merge_cost(terms) < check_cost(q.kind, terms) else None


def merge_cost(terms: list[Term]) -> float:
    """Rows read by the merge: every range whole (a class in two sources also sorted)."""
    return sum(t.rows * (MERGE_ROW + (SORT_ROW if len(t.sources) > 1 else 0)) for t in terms)


def check_cost(kind: str, terms: list[Term]) -> float:
    """Rows read (in range-row units) by the planner's count: the rarest word's range, and per
    photo of it one check in each other word. "probe" reads the driver in date order, so checks
    of a group (its key: grp, taken_at, photo_id) come in order; "intersect" reads classes in
    id order, checked by their keys in id order; the rest come at random."""
    driver = min(terms, key=lambda t: (t.photos, len(t.sources)))
    checks = 0.0
    for t in terms:
        if t is driver:
            continue
        if (kind == "probe" and t.grp is not None) or kind == "intersect":
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
        pg = aliased(PhotoGroup, name="pg")
        cols = (pg.photo_id.label("id"), pg.sort_time.label("sort_time"))
        return select(*cols).where(pg.grp == term.grp, *groups.score_conds(pg, flt, term.grp))
    pc = aliased(PhotoClass, name="pc")
    source = pc.source == term.sources[0] if len(term.sources) == 1 else pc.source.in_(term.sources)
    cols = (pc.photo_id.label("id"), pc.sort_time.label("sort_time"))
    return select(*cols).where(
        pc.label == term.label, source, *score_conds(pc, flt.min_score, flt.min_count)
    )


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
