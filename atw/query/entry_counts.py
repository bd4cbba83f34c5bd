"""The counts of catalogue entries (classes, WordNet groups, categories) within a filter, for
atw.query.catalog: the fewest statements that give them exactly.

An entry's count is the number of photos of the filter (its class words included) that the entry
alone would select with the filter's source, min_score and min_count: a group by its group
score (atw.core.group_scores), a class by its own. Groups from their photo_group rows (GroupCount
without a filter), classes from their photo_class rows (ClassCount without a filter): one
statement for every one-class entry, |A| + |B| - |A and B| for a class in both sources. Within a
filter on the photos (a radius, a country, a folder) and min_count 1, groups and one-class entries
are counted from the class rows held in memory when they are (atw.query.class_memory,
atw.query.group_memory): photo_group's ranges, led by the group, hold every photo's rows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from atw.core import group_rows
from atw.core.group_rows import NO_TIME
from atw.core.group_schema import GroupCount, PhotoGroup
from atw.core.schema import ClassCount, PhotoClass
from atw.core.vocabulary import Entry
from atw.query import class_memory, conditions, group_memory, groups
from atw.query.filters import PhotoFilter, photo_conditions_empty
from atw.query.plan import Query
from atw.query.terms import allowed_sources, date_conds, grid_bucket, on_grid, score_conds

MANY = 200  # entries from which the held rows count a filter of dates alone (the browser)


def _only_dates(flt: PhotoFilter) -> bool:
    """No condition but (maybe) dates: counted on the rows' own date copies, no photo list
    (class and group rows are those of listed photos, with their taken_at)."""
    return not flt.classes and photo_conditions_empty(replace(flt, start=None, end=None))


def _filtered_ids(session: Session, flt: PhotoFilter) -> Any:
    ids = Query(session, flt).ids().subquery()
    return select(ids.c.id)


def counts(session: Session, flt: PhotoFilter, entries: Iterable[Entry]) -> dict[str, int]:
    """{entry key: photos} for these entries within the filtered photos (module docstring)."""
    entries = list(entries)
    stored = group_rows.stored_groups()
    fresh = group_rows.current(session)
    out: dict[str, int] = {}
    grps = {e.key: stored.ids[e.key] for e in entries if e.key in stored.ids}
    held = None  # many photos' class rows, from memory (atw.query.class_memory)
    # Dates alone: SQL counts a few entries (the autocomplete's 40) in their date windows
    # faster than the held rows count every photo of the dates (a year: 41 vs 175 ms).
    dates_only = _only_dates(flt)
    many = len(entries) >= MANY and bool(flt.start or flt.end)
    if entries and flt.min_count <= 1 and (not dates_only or many):
        held = class_memory.held(session, _filtered_ids(session, flt), flt)
    if grps and held is not None:  # stale group rows or not: from the class rows
        found = group_memory.counts(*held, set(grps.values()), flt.source, flt.min_score)
        out.update({key: found.get(g, 0) for key, g in grps.items()})
    elif grps and fresh:
        by_grp = _group_counts(session, flt, sorted(set(grps.values())))
        out.update({key: by_grp.get(g, 0) for key, g in grps.items()})
    rest = [e for e in entries if e.key not in out]
    pairs = {e.key: _pairs(flt, e) for e in rest if e.key not in grps}
    wanted = {p for ps in pairs.values() if len(ps) <= 2 for p in ps}
    if held is not None:
        rows, ids = held
        each = rows.count(ids, allowed_sources(flt), flt.min_score)
        by_pair = {(lb, s): each.get((s, lb), 0) for lb, s in wanted}
    else:
        by_pair = _single_counts(session, flt, wanted)
    for e in rest:
        if e.key in grps:  # stale group rows: the planner's exact fallback
            out[e.key] = _query_count(session, flt, e.key)
        elif len(pairs[e.key]) <= 1:
            out[e.key] = sum(by_pair[p] for p in pairs[e.key])
        elif len(pairs[e.key]) == 2:  # a class in both sources: |A| + |B| - |A and B|
            a, b = sorted(pairs[e.key], key=lambda p: (by_pair[p], p))
            if not by_pair[a]:
                both = 0
            elif held is not None:  # (label, source) pairs; the rows key (source, label)
                both = held[0].both(held[1], a[::-1], b[::-1], flt.min_score)
            else:
                both = _both_count(session, flt, a, b)
            out[e.key] = by_pair[a] + by_pair[b] - both
        else:
            out[e.key] = _class_count(session, flt, e)
    return out


def _group_counts(session: Session, flt: PhotoFilter, grps: list[int]) -> dict[int, int]:
    """{grp: photos} in one pass over these groups' photo_group ranges (dates narrow them)."""
    if not grps:
        return {}
    t, k = flt.min_score, flt.min_count
    if _only_dates(flt) and not (flt.start or flt.end) and k == 1 and on_grid(t):
        source = groups.count_source(flt)
        q = (
            select(GroupCount.grp, func.sum(GroupCount.photos))
            .where(
                GroupCount.grp.in_(grps),
                GroupCount.source == source,
                GroupCount.bucket >= grid_bucket(t),
            )
            .group_by(GroupCount.grp)
        )
        return {g: int(n) for g, n in session.execute(q)}
    if k > group_rows.BOXES:  # the box count depends on the group's COCO members
        out: dict[int, int] = {}
        for g in grps:
            out.update(_group_counts_with(session, flt, [g], g))
        return out
    return _group_counts_with(session, flt, grps, grps[0])


def _group_counts_with(
    session: Session, flt: PhotoFilter, grps: list[int], any_grp: int
) -> dict[int, int]:
    pg = aliased(PhotoGroup, name="gc")
    conds = [*groups.score_conds(pg, flt, any_grp)]
    dates = date_conds(flt, pg.taken_at)
    # Undated rows (NO_TIME) are out of any date range: a start after it already leaves them
    # out, and a second lower bound on the key made SQLite test it row by row (6x slower).
    dated = [] if flt.start and flt.start > NO_TIME.date() else [pg.taken_at > NO_TIME]
    conds += [*dated, *dates] if dates else []
    if _only_dates(flt):  # one count per group's range (a third cheaper than a GROUP BY)
        out: dict[int, int] = {}
        for part in (grps[i : i + 500] for i in range(0, len(grps), 500)):  # columns per row
            each = [select(func.count()).where(pg.grp == g, *conds).scalar_subquery() for g in part]
            out.update(zip(part, map(int, session.execute(select(*each)).one()), strict=True))
        return out
    conds += [pg.grp.in_(grps), pg.photo_id.in_(_filtered_ids(session, flt))]
    q = select(pg.grp, func.count()).where(*conds).group_by(pg.grp)
    return {g: int(n) for g, n in session.execute(q)}


def _pairs(flt: PhotoFilter, entry: Entry) -> list[tuple[str, str]]:
    """The entry's (label, source) classes in the filter's sources."""
    allowed = allowed_sources(flt)
    return [(lb, s) for s, labels in entry.members.items() if s in allowed for lb in labels]


def _single_counts(
    session: Session, flt: PhotoFilter, pairs: set[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """{(label, source): photos} of entries with one stored class each, in one statement (a
    statement per entry cost more to build than to run): _class_count's counts. The labels and
    sources are two IN lists (ranges of the label index); pairs outside `pairs` are dropped."""
    if not pairs:
        return {}
    labels = sorted({lb for lb, _ in pairs})
    sources = sorted({s for _, s in pairs})
    t, k = flt.min_score, flt.min_count
    if _only_dates(flt) and not (flt.start or flt.end) and k == 1 and on_grid(t):
        rows = class_memory.current(session)
        if rows is not None and rows.totals is not None:  # ClassCount held (class_totals)
            found = rows.totals.of([(s, lb) for lb, s in pairs], grid_bucket(t))
            return {(lb, s): n for (s, lb), n in found.items()}
        cc = ClassCount
        q = (
            select(cc.label, cc.source, func.sum(cc.photos))
            .where(cc.label.in_(labels), cc.source.in_(sources), cc.bucket >= grid_bucket(t))
            .group_by(cc.label, cc.source)
        )
    else:
        pc = aliased(PhotoClass, name="ec")
        conds = [pc.label.in_(labels), pc.source.in_(sources), *score_conds(pc, t, k)]
        conds += conditions.dates(flt, pc.taken_at, pc.sort_time)
        if not _only_dates(flt):
            conds.append(pc.photo_id.in_(_filtered_ids(session, flt)))
        q = select(pc.label, pc.source, func.count()).where(*conds).group_by(pc.label, pc.source)
    found = {(lb, s): int(n) for lb, s, n in session.execute(q)}
    return {p: found.get(p, 0) for p in pairs}


def _both_count(session: Session, flt: PhotoFilter, a: tuple[str, str], b: tuple[str, str]) -> int:
    """Photos that both classes a and b (two (label, source) pairs) would select within the
    filter: a's rows (the fewer) with a row of b for the same photo, one primary-key look-up
    each. A photo has one row per pair, and both rows share its date."""
    t, k = flt.min_score, flt.min_count
    pa, pb = aliased(PhotoClass, name="ea"), aliased(PhotoClass, name="eb")
    also_b = (
        select(pb.photo_id)
        .where(pb.label == b[0], pb.source == b[1], pb.photo_id == pa.photo_id)
        .where(*score_conds(pb, t, k))
        .exists()
    )
    conds = [pa.label == a[0], pa.source == a[1], *score_conds(pa, t, k), also_b]
    conds += conditions.dates(flt, pa.taken_at, pa.sort_time)
    if not _only_dates(flt):
        conds.append(pa.photo_id.in_(_filtered_ids(session, flt)))
    return int(session.scalar(select(func.count()).where(*conds)) or 0)


def _class_count(session: Session, flt: PhotoFilter, entry: Entry) -> int:
    """Photos with one of the entry's stored labels (a class in one or two sources, or a group
    of one class), counted once."""
    pairs = _pairs(flt, entry)
    if not pairs:
        return 0
    t, k = flt.min_score, flt.min_count
    plain = _only_dates(flt) and not (flt.start or flt.end)
    if len(pairs) == 1 and plain and k == 1 and on_grid(t):
        ((label, source),) = pairs
        n = func.coalesce(func.sum(ClassCount.photos), 0)
        q = select(n).where(
            ClassCount.label == label,
            ClassCount.source == source,
            ClassCount.bucket >= grid_bucket(t),
        )
        return int(session.scalar(q) or 0)
    pc = aliased(PhotoClass, name="ec")
    # One range of ix_photo_class_label per pair (an OR of equalities: SQLite reads a row-value
    # IN over (label, source) as a scan of the whole table), dates as a sort_time window there.
    one = [and_(pc.label == lb, pc.source == s) for lb, s in pairs]
    conds = [or_(*one) if len(one) > 1 else one[0], *score_conds(pc, t, k)]
    conds += conditions.dates(flt, pc.taken_at, pc.sort_time)
    if not _only_dates(flt):
        conds.append(pc.photo_id.in_(_filtered_ids(session, flt)))
    n = func.count(func.distinct(pc.photo_id)) if len(pairs) > 1 else func.count()
    return int(session.scalar(select(n).where(*conds)) or 0)


def _query_count(session: Session, flt: PhotoFilter, key: str) -> int:
    """The planner's count of the filter with the entry as its only class word, within the
    filter's own photos when it has class words."""
    q = Query(session, replace(flt, classes=(key,), match="any"))
    if not flt.classes:
        fast = q.fast_count(session)
        return int(fast if fast is not None else session.scalar(q.count()) or 0)
    sub = q.ids().subquery()
    inner = select(func.count()).select_from(sub).where(sub.c.id.in_(_filtered_ids(session, flt)))
    return int(session.scalar(inner) or 0)
