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
place) and capture time (taken_at, the date filter's column; SQLite's text held only when all of
it has SQLAlchemy's form, whose text order is the instants'), which the same triggers cover: a
radius with dates is answered here too, and /api/places within one is a count over the held
photos. Memory: 61 bytes a photo with a position (a million: ~58 MiB)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import Any

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
    taken: np.ndarray | None = None  # taken_at (datetime64[us], NaT: none); None: not held

    @property
    def nbytes(self) -> int:
        arrays = (self.ids, self.lat, self.lon, self.x, self.y, self.z, self.estimated)
        more = (self.place, self.taken)
        return sum(a.nbytes for a in arrays) + sum(a.nbytes for a in more if a is not None)

    def answers(self, flt: PhotoFilter) -> bool:
        """Whether these positions give the filter's photos: a radius and nothing else, or
        with dates when the capture times are held (module answers)."""
        if (flt.start or flt.end) and self.taken is None:
            return False
        return answers(replace(flt, start=None, end=None))

    def place_rows(self, flt: PhotoFilter) -> list[tuple[str | None, str | None, str | None, int]]:
        """(country_code, region, place, photos) of the photos such a filter (self.answers)
        selects, one row per stored place (atw.query.place_counts' GROUP BY), in no order."""
        assert self.place is not None and self.places is not None
        per = np.bincount(self.place[self._inside(flt)], minlength=len(self.places))
        return [(*self.places[i], int(per[i])) for i in np.flatnonzero(per)]

    def within(self, flt: PhotoFilter) -> np.ndarray:
        """The ids of the photos a filter these positions answer (self.answers) selects,
        unordered."""
        return self.ids[self._inside(flt)]

    def _inside(self, flt: PhotoFilter) -> np.ndarray:
        """The positions (in these arrays) of the photos such a filter selects."""
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
        if flt.start or flt.end:  # conditions.dates: start 00:00 ≤ taken_at < the day after end
            assert self.taken is not None
            if flt.start:
                keep &= self.taken[lo:hi] >= np.datetime64(datetime.combine(flt.start, time.min))
            if flt.end:
                after = datetime.combine(flt.end + timedelta(days=1), time.min)
                keep &= self.taken[lo:hi] < np.datetime64(after)
        return lo + np.flatnonzero(keep)


def answers(flt: PhotoFilter) -> bool:
    """Whether a filter's photos are a radius and nothing else (its dates, places, folder,
    camera, trip and class words unset; `estimated` either way)."""
    if flt.radius_km is None or flt.classes:  # (a radius has its centre; rules refuse no-GPS)
        return False
    return photo_conditions_empty(replace(flt, radius_km=None, has_gps=None, estimated=True))


_POSITIONS = text(
    "SELECT id, lat, lon, geo_x, geo_y, geo_z, time_estimated, country_code, region, place, "
    "taken_at FROM photo WHERE listed "
    "AND lat IS NOT NULL AND geo_x IS NOT NULL AND geo_y IS NOT NULL AND geo_z IS NOT NULL"
)
# SQLite's DATETIME text as SQLAlchemy writes it (compared as text by the date filter: held only
# when every value has this form, whose text order is the instants' order)
_STAMP = re.compile(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")


def read(conn: Connection) -> Positions:
    """Every listed photo's position, stored place and capture time, in this connection (the
    caller checks the version)."""
    parts, codes, taken = [], [], []
    index: dict[Place, int] = {}
    for part in conn.execute(_POSITIONS).partitions(50_000):
        flat = itertools.chain.from_iterable(
            (i, la, float("nan") if lo is None else lo, x, y, z, bool(e))
            for i, la, lo, x, y, z, e, *_p in part
        )
        parts.append(np.fromiter(flat, np.float64, 7 * len(part)).reshape(-1, 7))
        at = (index.setdefault((c, r, p), len(index)) for *_n, c, r, p, _t in part)
        codes.append(np.fromiter(at, np.int32, len(part)))
        taken += [row[-1] for row in part]
    rows = np.concatenate(parts) if parts else np.empty((0, 7))
    order = np.argsort(rows[:, 1], kind="stable")
    rows = rows[order]
    place = np.concatenate(codes)[order] if codes else np.empty(0, dtype=np.int32)
    times = _times(taken)
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
        taken=None if times is None else times[order],
    )


def _times(values: list[Any]) -> np.ndarray | None:
    """The capture times as datetime64[us] (None: NaT), or None when one is neither a datetime
    (PostgreSQL's) nor SQLite's canonical text (then dates are SQL's to test)."""
    out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[us]")
    texts = [(i, v) for i, v in enumerate(values) if isinstance(v, str)]
    for i, v in enumerate(values):
        if isinstance(v, datetime) and v.tzinfo is None:
            out[i] = np.datetime64(v, "us")
        elif v is not None and not isinstance(v, str):
            return None
    if texts:
        raw = [v.encode() for _i, v in texts]
        if not all(len(b) == 26 and _STAMP.fullmatch(b) for b in raw):
            return None
        out[[i for i, _v in texts]] = np.array(raw, dtype="S26").astype("datetime64[us]")
    return out
