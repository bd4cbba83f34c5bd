"""The listed photos' positions held in memory beside their class rows (atw.query.class_memory):
the photos of a filter that is only a radius (the class picker and the class browser within
20 km of home), found without SQL.

Why: the ~85,000 photos within 20 km of home at a million photos are a scan of their bounding
box in ix_photo_lat_lon and a text of their ids: ~90 ms in SQLite on a slow machine, the most
of the picker's time once their classes are counted in memory. The same test on arrays sorted
by latitude takes a few milliseconds.

Exact: the same conditions as SQL's (atw.query.conditions.photo_conds): listed, the bounding
box (latitude between, longitude in its ranges), and x·cx + y·cy + z·cz ≥ cos(r / R) computed
in the same order on the same stored doubles (IEEE arithmetic gives the same bits); without
`estimated`, time_estimated false. Read with the class rows, at their summary_version, which
every change of these columns bumps (photo's triggers: listed, time_estimated, revision 0006;
the position, revision 0011). With them each photo's stored place (country_code, region,
place: the same triggers), so /api/places within a radius is a count over the held photos.
Memory: 53 bytes a photo with a position (a million: ~51 MiB)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection

from atw.core import geo
from atw.query.filters import PhotoFilter, photo_conditions_empty

Place = tuple[str | None, str | None, str | None]  # (country_code, region, place) as stored


@dataclass(frozen=True)
class Positions:
    """The listed photos with a position, by latitude: id, lat, lon (NaN: none), the unit
    vector (x, y, z) and time_estimated."""

    ids: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    estimated: np.ndarray
    place: np.ndarray | None = None  # each photo's stored place: an index into places
    places: list[Place] | None = None  # (country_code, region, place), each once

    @property
    def nbytes(self) -> int:
        arrays = (self.ids, self.lat, self.lon, self.x, self.y, self.z, self.estimated)
        return sum(a.nbytes for a in arrays) + (0 if self.place is None else self.place.nbytes)

    def place_rows(self, flt: PhotoFilter) -> list[tuple[str | None, str | None, str | None, int]]:
        """(country_code, region, place, photos) of the photos a radius-only filter selects,
        one row per stored place (atw.query.place_counts' GROUP BY), in no particular order."""
        assert self.place is not None and self.places is not None
        per = np.bincount(self.place[self._inside(flt)], minlength=len(self.places))
        return [(*self.places[i], int(per[i])) for i in np.flatnonzero(per)]

    def within(self, flt: PhotoFilter) -> np.ndarray:
        """The ids of the photos a radius-only filter (answers(flt)) selects, unordered."""
        return self.ids[self._inside(flt)]

    def _inside(self, flt: PhotoFilter) -> np.ndarray:
        """The positions (in these arrays) of the photos a radius-only filter selects."""
        assert flt.lat is not None and flt.lon is not None and flt.radius_km is not None
        box = geo.bbox(flt.lat, flt.lon, flt.radius_km)
        lo = int(np.searchsorted(self.lat, box.lat_min, side="left"))
        hi = int(np.searchsorted(self.lat, box.lat_max, side="right"))
        keep = np.ones(hi - lo, dtype=bool)
        if box.lon_ranges:
            lon = self.lon[lo:hi]
            keep = np.zeros(hi - lo, dtype=bool)
            for a, b in box.lon_ranges:
                keep |= (lon >= a) & (lon <= b)
        centre = geo.unit_vector(flt.lat, flt.lon)
        assert centre is not None
        cx, cy, cz = centre
        dot = self.x[lo:hi] * cx + self.y[lo:hi] * cy + self.z[lo:hi] * cz  # SQL's order
        keep &= dot >= geo.min_dot(flt.radius_km)
        if not flt.estimated:
            keep &= ~self.estimated[lo:hi]
        return lo + np.flatnonzero(keep)


def answers(flt: PhotoFilter) -> bool:
    """Whether a filter's photos are a radius and nothing else (its dates, places, folder,
    camera, trip and class words unset; `estimated` either way)."""
    if flt.radius_km is None or flt.classes:  # (a radius has its centre; rules refuse no-GPS)
        return False
    return photo_conditions_empty(replace(flt, radius_km=None, has_gps=None, estimated=True))


_POSITIONS = text(
    "SELECT id, lat, lon, geo_x, geo_y, geo_z, time_estimated, country_code, region, place "
    "FROM photo WHERE listed "
    "AND lat IS NOT NULL AND geo_x IS NOT NULL AND geo_y IS NOT NULL AND geo_z IS NOT NULL"
)


def read(conn: Connection) -> Positions:
    """Every listed photo's position and stored place, in this connection (the caller checks
    the version)."""
    parts, codes = [], []
    index: dict[Place, int] = {}
    for part in conn.execute(_POSITIONS).partitions(50_000):
        flat = itertools.chain.from_iterable(
            (i, la, float("nan") if lo is None else lo, x, y, z, bool(e))
            for i, la, lo, x, y, z, e, *_p in part
        )
        parts.append(np.fromiter(flat, np.float64, 7 * len(part)).reshape(-1, 7))
        at = (index.setdefault((c, r, p), len(index)) for *_n, c, r, p in part)
        codes.append(np.fromiter(at, np.int32, len(part)))
    rows = np.concatenate(parts) if parts else np.empty((0, 7))
    order = np.argsort(rows[:, 1], kind="stable")
    rows = rows[order]
    place = np.concatenate(codes)[order] if codes else np.empty(0, dtype=np.int32)
    return Positions(
        ids=rows[:, 0].astype(np.int64),  # ids < 2**53: exact as doubles
        lat=np.ascontiguousarray(rows[:, 1]),
        lon=np.ascontiguousarray(rows[:, 2]),
        x=np.ascontiguousarray(rows[:, 3]),
        y=np.ascontiguousarray(rows[:, 4]),
        z=np.ascontiguousarray(rows[:, 5]),
        estimated=rows[:, 6] != 0,
        place=place,
        places=list(index),
    )
