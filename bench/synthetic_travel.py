"""Makes the synthetic index travel: its photos' positions reordered into home days and trips.

bench/synthetic_index.py draws each photo's position on its own (300 cities, Zipf weights, some
anywhere on Earth), so every day holds photos from all over the world and trip detection finds
one "trip" spanning the whole archive. Here the same positions (the same multiset: every
place, country and radius query counts the same photos) are dealt out again in time order:
the dated photos with a position, oldest first, get runs of positions from one region at a
time, trips (runs away from the home region, one or a few regions each) between short stays
at home. Dates, times, labels and everything else stay as they were."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import numpy as np
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.engine import Connection

from atw.core.schema import Meta, Photo

# The position columns moved together (a photo's place goes with its position).
MOVED = (
    "lat",
    "lon",
    "altitude",
    "geo_x",
    "geo_y",
    "geo_z",
    "country_code",
    "region",
    "place",
    "place_km",
    "at_sea",
    "near",
    "time_zone",
)
DAYS_PER_TRIP = 15  # one trip per this many days of the archive, on average


def travel(conn: Connection, seed: int) -> dict[str, Any]:
    """Deal the dated photos' positions out again as home stays and trips (in the caller's
    transaction); returns what it did."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed + 1_000_003)
    dated = Photo.taken_at.is_not(None) & Photo.lat.is_not(None)
    ids = [
        r.id for r in conn.execute(select(Photo.id).where(dated).order_by(Photo.taken_at, Photo.id))
    ]
    if not ids:
        return {"photos": 0, "trips": 0, "seconds": 0.0}
    cols = [Photo.__table__.c[c] for c in MOVED]
    rows = conn.execute(select(Photo.id, *cols).where(dated).order_by(Photo.id)).all()
    # Countries group the positions (home: the region with most photos, e.g. Lisbon's); points
    # at sea (no country) form one group, west to east so that a trip's are near each other.
    by_region: dict[tuple[Any, Any], list[int]] = defaultdict(list)
    regions: dict[tuple[Any, Any], int] = defaultdict(int)
    for r in rows:
        regions[(r.country_code, r.region)] += 1
    home_key = max((k for k in regions if k[0]), key=lambda k: (regions[k], str(k)))
    for i, r in enumerate(rows):
        key = (
            (r.country_code, r.region) if r.country_code == home_key[0] else (r.country_code, None)
        )
        by_region[key].append(i)
    by_region[(None, None)].sort(key=lambda i: rows[i].lon)
    home = list(by_region[home_key])
    rng.shuffle(home)
    away_keys = [k for k in by_region if k != home_key]
    away_keys.sort(key=str)  # a fixed order before the seeded shuffle
    away: list[int] = []
    for j in rng.permutation(len(away_keys)):
        away += by_region[away_keys[int(j)]]
    first, last = (
        conn.scalar(select(f(Photo.taken_at)).where(dated)) for f in (func.min, func.max)
    )
    days = max(1, (last - first).days + 1)
    trips = max(1, min(len(away), days // DAYS_PER_TRIP))
    order: list[int] = []
    home_cuts = _cuts(rng, len(home), trips + 1)
    away_cuts = _cuts(rng, len(away), trips)
    for k in range(trips):
        order += home[home_cuts[k] : home_cuts[k + 1]]
        order += away[away_cuts[k] : away_cuts[k + 1]]
    order += home[home_cuts[trips] :]
    assert len(order) == len(rows)
    params = [
        {"pid": pid, **{f"v_{c}": getattr(rows[src], c) for c in MOVED}}
        for pid, src in zip(ids, order, strict=True)
    ]
    stmt = update(Photo.__table__).where(Photo.__table__.c.id == bindparam("pid"))
    conn.execute(stmt.values({c: bindparam(f"v_{c}") for c in MOVED}), params)
    conn.execute(delete(Meta.__table__).where(Meta.__table__.c.key == "trips"))  # recomputed
    return {
        "photos": len(rows),
        "trips": trips,
        "home": home_key,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def _cuts(rng: np.random.Generator, n: int, parts: int) -> list[int]:
    """parts + 1 increasing offsets from 0 to n: block sizes of random lengths (gamma-spread)."""
    w = rng.gamma(2.0, 1.0, parts)
    ends = np.round(np.cumsum(w) / w.sum() * n).astype(int)
    return [0, *(int(e) for e in ends[:-1]), n]
