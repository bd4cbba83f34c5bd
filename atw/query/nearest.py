"""Nearest-first pages within a radius, read from a smaller circle around the centre when it
holds them.

A page of nearest-first photos (atw.query.plan's ORDER BY dot DESC, id DESC) reads every photo
of the circle to find the nearest: ~100,000 around home within 50 km at a million photos
(~40 ms). The photos within a smaller radius r₀ are exactly those with dot ≥ cos(r₀/R), so
every photo outside it is farther than every photo inside: when the filter with radius r₀
selects at least offset + limit photos, its page is the whole filter's page, in the same
order (the same filter otherwise, the same arithmetic for dot). The circle is tried at 1/64,
1/16 and 1/4 of the radius, each a count over a small box of the radius index."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from atw.query.plan import Query

FIRST = 1 / 64  # the first inner radius, as a share of the filter's
GROWTH = 4  # each next try: this many times the last radius


def page(session: Session, query: Query, offset: int, limit: int) -> Any | None:
    """The page statement (LIMIT/OFFSET added) from the smallest inner circle holding
    offset + limit matches, or None (not nearest-first within a radius, or no inner circle
    holds the page: the caller reads the whole circle)."""
    flt = query.flt
    if flt.sort != "nearest" or flt.radius_km is None:
        return None
    need = offset + limit
    radius = flt.radius_km * FIRST
    while radius < flt.radius_km:
        inner = Query(session, replace(flt, radius_km=radius))
        fast = inner.fast_count(session)
        n = fast if fast is not None else session.scalar(inner.count()) or 0
        if n >= need:
            return inner.ordered(offset, limit).limit(limit).offset(offset)
        radius *= GROWTH
    return None
