"""Time series of a filtered set: photos, classes and class groups per period, top classes. No
Flask.

Built on atw.query.plan.Query(session, flt).ids() and the photo_class (photo_group for groups
and categories) summary tables; days are grouped in SQL (atw.core.dialect.day_of),
weeks/months/years are rolled up here from the days."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from atw.core import dialect, group_rows
from atw.core.group_rows import NO_TIME
from atw.core.group_schema import PhotoGroup
from atw.core.schema import PhotoClass
from atw.query import groups
from atw.query.filters import PhotoFilter, photo_conditions_empty
from atw.query.plan import Query
from atw.query.terms import allowed_sources, date_conds, score_conds

PERIODS = ("day", "week", "month", "year")


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _unfiltered(flt: PhotoFilter) -> bool:
    return not flt.classes and photo_conditions_empty(flt)


def _class_rows(session: Session, flt: PhotoFilter) -> tuple[Any, list[Any]]:
    """The photo_class alias and the conditions selecting the filtered photos' class rows, each
    counted when that class alone would select it under the filter's source/min_score/count
    (the same rule as atw.query.search.class_counts)."""
    pc = aliased(PhotoClass, name="tc")
    conds = [pc.source.in_(allowed_sources(flt)), *score_conds(pc, flt.min_score, flt.min_count)]
    if not _unfiltered(flt):
        ids = Query(session, flt).ids().subquery()
        conds.append(pc.photo_id.in_(select(ids.c.id)))
    return pc, conds


def photos_per_day(session: Session, flt: PhotoFilter) -> dict[date, int]:
    """{day: photos} of the filtered photos with a capture time."""
    ids = Query(session, flt).ids().subquery()
    day = dialect.day_of(ids.c.taken_at, session.get_bind().dialect.name)
    rows = session.execute(
        select(day.label("day"), func.count().label("n"))
        .where(ids.c.taken_at.is_not(None))
        .group_by(day)
    ).all()
    return {_as_date(r.day): int(r.n) for r in rows}


def dated_only(flt: PhotoFilter) -> PhotoFilter:
    """The filter without the photos whose time is only estimated (from the file date): what
    the time charts draw unless asked to add them."""
    return flt if not flt.estimated else replace(flt, estimated=False)


def top_classes(
    session: Session, flt: PhotoFilter, limit: int | None = 10
) -> list[tuple[str, int]]:
    """[(class, photos)] most photos first (a photo with a class in both sources counts once);
    limit None: every class of the filtered photos."""
    pc, conds = _class_rows(session, flt)
    n = func.count(func.distinct(pc.photo_id))
    q = select(pc.label, n.label("n")).where(*conds).group_by(pc.label)
    rows = [(r.label, int(r.n)) for r in session.execute(q)]
    rows.sort(key=lambda r: (-r[1], r[0]))
    return rows if limit is None else rows[:limit]


def class_days(
    session: Session, flt: PhotoFilter, labels: Iterable[str]
) -> dict[str, dict[date, int]]:
    """{class: {day: photos}} for these classes within the filtered photos (dated ones only)."""
    labels = list(labels)
    if not labels:
        return {}
    pc, conds = _class_rows(session, flt)
    day = dialect.day_of(pc.taken_at, session.get_bind().dialect.name)
    q = (
        select(pc.label, day.label("day"), func.count(func.distinct(pc.photo_id)).label("n"))
        .where(*conds, pc.label.in_(labels), pc.taken_at.is_not(None))
        .group_by(pc.label, day)
    )
    out: dict[str, dict[date, int]] = {lb: {} for lb in labels}
    for r in session.execute(q):
        out[r.label][_as_date(r.day)] = int(r.n)
    return out


def group_days(
    session: Session, flt: PhotoFilter, keys: Iterable[str]
) -> dict[str, dict[date, int]]:
    """{key: {day: photos}} for these groups or categories (vocabulary keys) within the filtered
    photos (dated ones only): each photo counted on a day when the entry alone would select it
    (its group score, atw.query.groups). One pass over their photo_group ranges; while the group
    rows are stale, each entry through the planner instead."""
    keys = list(keys)
    stored = group_rows.stored_groups()
    out: dict[str, dict[date, int]] = {k: {} for k in keys}
    if not keys:
        return out
    dialect_name = session.get_bind().dialect.name
    if not group_rows.current(session):
        for k in keys:
            ids = Query(session, replace(flt, classes=(k,), match="any")).ids().subquery()
            day = dialect.day_of(ids.c.taken_at, dialect_name)
            q = select(day, func.count()).where(ids.c.taken_at.is_not(None)).group_by(day)
            if flt.classes:
                q = q.where(ids.c.id.in_(_filtered_ids(session, flt)))
            out[k] = {_as_date(d): int(n) for d, n in session.execute(q)}
        return out
    by_grp: dict[int, list[str]] = defaultdict(list)
    for k in keys:
        by_grp[stored.ids[k]].append(k)
    pg = aliased(PhotoGroup, name="gd")
    day = dialect.day_of(pg.taken_at, dialect_name)
    conds = [pg.taken_at > NO_TIME, *date_conds(flt, pg.taken_at)]
    if not _unfiltered(flt):
        conds.append(pg.photo_id.in_(_filtered_ids(session, flt)))
    batches = [[g] for g in by_grp] if flt.min_count > group_rows.BOXES else [list(by_grp)]
    for grps in batches:  # beyond 5 boxes the count reads each group's COCO members
        q = (
            select(pg.grp, day.label("day"), func.count())
            .where(pg.grp.in_(grps), *groups.score_conds(pg, flt, grps[0]), *conds)
            .group_by(pg.grp, day)
        )
        for g, d, n in session.execute(q):
            for k in by_grp[g]:
                out[k][_as_date(d)] = int(n)
    return out


def _filtered_ids(session: Session, flt: PhotoFilter) -> Any:
    ids = Query(session, flt).ids().subquery()
    return select(ids.c.id)


def choose_period(first: date, last: date) -> str:
    """The period that gives a readable number of bars for a span of dates."""
    span = (last - first).days
    if span <= 62:
        return "day"
    if span <= 366:
        return "week"
    if span <= 366 * 15:
        return "month"
    return "year"


def period_start(d: date, period: str) -> date:
    """The first day of the period holding d (weeks start on Monday)."""
    if period == "day":
        return d
    if period == "week":
        return d - timedelta(days=d.weekday())
    if period == "month":
        return d.replace(day=1)
    if period == "year":
        return d.replace(month=1, day=1)
    raise ValueError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")


def next_start(d: date, period: str) -> date:
    """The start of the period after the one starting at d."""
    if period == "day":
        return d + timedelta(days=1)
    if period == "week":
        return d + timedelta(days=7)
    if period == "month":
        return date(d.year + d.month // 12, d.month % 12 + 1, 1)
    return date(d.year + 1, 1, 1)


def periods_between(first: date, last: date, period: str) -> list[date]:
    """Every period start from first's period to last's, in order (gaps included)."""
    out, d = [], period_start(first, period)
    end = period_start(last, period)
    while d <= end:
        out.append(d)
        d = next_start(d, period)
    return out


def rollup(days: dict[date, int], period: str) -> dict[date, int]:
    """Per-day counts summed per period (exact: each photo has one capture day)."""
    out: dict[date, int] = defaultdict(int)
    for d, n in days.items():
        out[period_start(d, period)] += n
    return dict(out)
