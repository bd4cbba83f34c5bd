"""Newest-first pages of a big circle (a radius search around home) read from the newest photos
of the archive when they hold the page.

Without classes the plan reads a circle's photos from ix_photo_lat_lon and sorts them all for
a page: ~100,000 photos within 50 km of home at a million photos (~25 ms, beside the count's
~16 ms). When the circle holds a large share of the archive its newest photos are found sooner
by walking ix_photo_sort_time newest first, which holds the position since revision 0009
(~0.2 µs a photo, no row look-up), within a window: the photos at or after the instant of the
K-th newest listed photo. Every photo outside the window is older than every photo inside (or
as old with a smaller id, or without a time), so when the window holds offset + limit matches
its first rows are the whole filter's page, in the same order. K starts at SLACK times the
page over the circle's share of the archive (its count, which the page needs anyway) and
grows GROWTH times while that misses (a circle's photos come in bursts: home between trips),
up to WALK_ROWS; past it the caller sorts the circle as before."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Row, select, true
from sqlalchemy.orm import Session

from atw.core.schema import Photo
from atw.query import day_counts, plan_photo

# At most this many photos in a window (≈0.25 µs each at 1M photos: ~6 ms when every try misses).
WALK_ROWS = 20_000
# Walk only circles of at least this many photos: below it the sort costs about as little.
WALK_MIN = 10_000
# The first window holds this many times the page at the circle's average share; then GROWTH×.
SLACK = 2
GROWTH = 4


def page(
    session: Session, query: Any, offset: int, limit: int
) -> tuple[list[Row[Any]] | None, int | None]:
    """(the page's rows, or None when no window was tried or held them; the filter's total
    when it was counted to decide, else None). query: an atw.query.plan.Query."""
    flt = query.flt
    if query.dialect != "sqlite" or query.kind != "photo" or flt.sort != "newest":
        return None, None
    if flt.radius_km is None or flt.start or flt.end or plan_photo.one_pass(query):
        return None, None  # dates bound the walk already; a one-pass page counts itself
    fast = query.fast_count(session)
    total = fast if fast is not None else int(session.scalar(query.count()) or 0)
    need, listed = offset + limit, day_counts.listed(session)
    if total < max(WALK_MIN, need) or not listed:
        return None, total
    walk = math.ceil(SLACK * need * listed / total)
    while walk <= WALK_ROWS:
        since = session.scalar(
            select(Photo.sort_time)
            .where(Photo.listed == true(), Photo.sort_time.is_not(None))
            .order_by(Photo.sort_time.desc(), Photo.id.desc())
            .offset(walk - 1)
            .limit(1)
        )
        if since is None:
            return None, total  # fewer photos with a time than the window
        stmt = query.ordered(offset, limit).where(Photo.sort_time >= since)
        stmt = stmt.with_hint(Photo, "INDEXED BY ix_photo_sort_time", "sqlite")
        rows = session.execute(stmt.limit(need)).all()
        if len(rows) == need:
            return rows[offset:], total
        walk *= GROWTH
    return None, total
