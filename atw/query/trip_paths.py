"""A trip's path for its map: its located photos in time order, each with its day of the trip."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy import false, func, select, true
from sqlalchemy.orm import Session

from atw.core.schema import Photo
from atw.query.travel import Trip, path_km

# The most points a path sends to a map; a longer one is thinned evenly (first and last kept).
# Its distance is always measured over every point.
PATH_MAX = 5000


def trip_path(session: Session, trip: Trip, limit: int = PATH_MAX) -> dict[str, Any]:
    """{points: [[lat, lon, day, local time "YYYY-MM-DD HH:MM", id], …], days: ["YYYY-MM-DD",
    …] (day i of the trip is days[i]), located, drawn, km}. The points are the trip's photos
    with a position in the order of atw.query.travel (UTC instant, else wall-clock time; id),
    so km equals the trip's distance."""
    order = func.coalesce(Photo.sort_time, Photo.taken_at)
    first = datetime.combine(trip.first_day, time.min)
    after = datetime.combine(trip.last_day + timedelta(days=1), time.min)
    q = (
        select(Photo.id, Photo.lat, Photo.lon, Photo.taken_at)
        .where(
            Photo.listed == true(),
            Photo.time_estimated == false(),
            Photo.taken_at >= first,
            Photo.taken_at < after,
            Photo.lat.is_not(None),
            Photo.lon.is_not(None),
        )
        .order_by(order, Photo.id)
    )
    rows = session.execute(q).all()
    lat = np.array([r.lat for r in rows], dtype=np.float64)
    lon = np.array([r.lon for r in rows], dtype=np.float64)
    keep = thin(len(rows), limit)
    points = [
        [
            rows[i].lat,
            rows[i].lon,
            (rows[i].taken_at.date() - trip.first_day).days,
            rows[i].taken_at.strftime("%Y-%m-%d %H:%M"),
            rows[i].id,
        ]
        for i in keep
    ]
    days = [(trip.first_day + timedelta(days=d)).isoformat() for d in range(trip.days)]
    return {
        "points": points,
        "days": days,
        "located": len(rows),
        "drawn": len(points),
        "km": round(path_km(lat, lon), 3),
    }


def thin(n: int, limit: int) -> list[int]:
    """Indexes of at most `limit` of n points, evenly spaced, first and last included."""
    if n <= limit:
        return list(range(n))
    if limit < 2:
        return [0][:limit]
    return sorted(set(np.linspace(0, n - 1, limit).round().astype(int).tolist()))
