"""Counts read from the summary tables the database keeps (atw.core.summary_counts): the total
of a filter that is only dates (and estimated=exclude: a trip's form), every listed photo, and
the listed photos per stored place. Exact: the triggers count what the date filter and
/api/places count (listed photos; the local day of taken_at; the stored place)."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import false, func, select
from sqlalchemy.orm import Session

from atw.core import summary_counts
from atw.core.summary_counts import UNDATED, PhotoDayCount, PlaceCount
from atw.query.filters import PhotoFilter, photo_conditions_empty


def only_dates(flt: PhotoFilter) -> bool:
    """No condition but local dates and estimated (no class, place, camera, folder, trip)."""
    if flt.classes:
        return False
    bare = copy.copy(flt)  # not dataclasses.replace: that would check the filter again
    for name, value in (("start", None), ("end", None), ("estimated", True)):
        object.__setattr__(bare, name, value)
    return photo_conditions_empty(bare)


def total(session: Session, flt: PhotoFilter) -> int | None:
    """The number of listed photos the filter selects, from photo_day_count (a few thousand
    rows at most); None when the filter has other conditions."""
    if not only_dates(flt):
        return None
    t = PhotoDayCount
    q = select(func.coalesce(func.sum(t.photos), 0))
    if not flt.estimated:
        q = q.where(t.estimated == false())
    if flt.start is not None or flt.end is not None:
        q = q.where(t.day > UNDATED)  # a date excludes photos without a time
    if flt.start is not None:
        q = q.where(t.day >= flt.start)
    if flt.end is not None:
        q = q.where(t.day <= flt.end)
    return int(session.scalar(q) or 0)


def listed(session: Session) -> int:
    """Every listed photo."""
    return int(session.scalar(select(func.coalesce(func.sum(PhotoDayCount.photos), 0))) or 0)


def version(session: Session) -> tuple[str, int] | None:
    """What the tables hold, as summary_counts.version: changes whenever their rows may have."""
    return summary_counts.version(session.connection())


def place_rows(session: Session) -> list[tuple[Any, ...]]:
    """(country_code, region, place, photos) of the listed photos, one row per stored place
    (None for a missing part), places without a listed photo left out."""
    t = PlaceCount.__table__.c  # Core rows: ~20,000 at a million photos
    q = select(t.country_code, t.region, t.place, t.photos).where(t.photos > 0)
    rows = session.connection().execute(q.order_by(t.country_code, t.region, t.place)).all()
    return [(c or None, r or None, p or None, n) for c, r, p, n in rows]
