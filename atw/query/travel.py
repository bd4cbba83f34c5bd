"""Trips found in photos (pure: arrays in, trips out): home, days away, spans, names, distances.

The rules (README, "Trips"; TRIP_RULES names their version):
- Input: every listed photo with a capture time from its metadata (an estimated time, the file's
  date, is left out: it says when a file was copied, not where its owner was). Each has its
  local calendar day (the wall-clock `taken_at`'s date), its order key (`sort_time`: the UTC
  instant, else the wall-clock time), and maybe a position and a place.
- Home: the HOME setting, else the most frequent place of the archive. A "place" here is the
  town of the GeoNames populated place the places stage gave a photo (country, region, name;
  its town as captions and the place filter name it, atw.query.placenames: a district such as
  Intendente counts for Lisbon), so every photo of one town counts for that town whatever its
  street, and home has a name ("Lisbon, Portugal"). A located photo without a place yet (the
  places stage has not run) counts in a 0.25° grid cell instead. Home's position is the mean
  position of that place's photos, where the photos actually are. (The reading side,
  atw.query.trip_store, gives this module the towns.)
- A photo is away when it lies at least `min_km` (TRIP_MIN_KM) from home, great-circle.
- A day is away when it has an away photo; at home when it has photos with positions and none
  away; otherwise (no photo, or photos without positions) it is a gap day.
- A trip is a run of away days: two away days belong to one trip when no day at home lies
  between them and at most `max_gap_days` (TRIP_MAX_GAP_DAYS) calendar days between them are
  not away. A day at home always ends a trip. A trip may last one day.
- A trip's photos are all input photos taken on its days, first to last (by local date): the
  departure day's photos at home and photos without a position included, by time.
- Its countries and places are those of its away photos, with counts; its distance is the
  great-circle length of the path through its located photos in time order (UTC instants;
  photos without an instant by wall-clock time; ties by id), summed with haversine_vector.
- Its id is its first day ("2014-10-03": two trips never share a day); its name is its
  countries by photos, the months, and its top places: "Japan, Oct 2014 — Tokyo, Kyoto, Osaka".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, NamedTuple

import numpy as np
from haversine import Unit, haversine_vector

TRIP_RULES = 1  # bump when the rules above change what is found: cached trips are recomputed
CELL_DEG = 0.25  # the grid cell of a located photo without a place, for finding home
MAX_NAMED_COUNTRIES = 3
MAX_NAMED_PLACES = 3
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class PlaceKey(NamedTuple):
    """A photo's place as the places stage stored it."""

    country_code: str | None
    region: str | None
    name: str | None


@dataclass(frozen=True)
class TripRules:
    """TRIP_MIN_KM and TRIP_MAX_GAP_DAYS."""

    min_km: float = 100.0
    max_gap_days: int = 2


@dataclass(frozen=True)
class Home:
    """Where home is: a position, its words, and where it came from ("setting": HOME;
    "archive": the most frequent place, with its photo count)."""

    lat: float
    lon: float
    label: str
    source: str
    photos: int = 0


@dataclass
class TripPhotos:
    """The input, one entry per photo (parallel arrays). order: the time-order key (UTC instant,
    else wall-clock time) as datetime64; day: the local date as datetime64[D]; lat/lon NaN
    without a position; place: an index into `places`, -1 without one."""

    ids: np.ndarray
    order: np.ndarray
    day: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    place: np.ndarray
    places: list[PlaceKey] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.ids.size)

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[Any]]) -> TripPhotos:
        """From (id, order datetime, local day or datetime, lat, lon, country_code, region,
        place) tuples, e.g. a test's hand-built photos."""
        keys: dict[PlaceKey, int] = {}
        place = []
        for r in rows:
            key = PlaceKey(r[5], r[6], r[7])
            place.append(-1 if key == (None, None, None) else keys.setdefault(key, len(keys)))
        return cls(
            ids=np.array([r[0] for r in rows], dtype=np.int64),
            order=np.array([r[1] for r in rows], dtype="datetime64[us]"),
            day=np.array([r[2] for r in rows], dtype="datetime64[D]"),
            lat=np.array([np.nan if r[3] is None else r[3] for r in rows], dtype=np.float64),
            lon=np.array([np.nan if r[4] is None else r[4] for r in rows], dtype=np.float64),
            place=np.array(place, dtype=np.int64),
            places=list(keys),
        )


@dataclass(frozen=True)
class Trip:
    """One trip. countries: [{code, name, photos}]; places: [{name, region, country_code,
    photos}], most photos first; km: distance along its located photos in time order."""

    id: str
    name: str
    start: str  # first local day, YYYY-MM-DD
    end: str  # last local day
    days: int
    photos: int
    located: int
    away: int
    km: float
    countries: list[dict[str, Any]]
    places: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def first_day(self) -> date:
        return date.fromisoformat(self.start)

    @property
    def last_day(self) -> date:
        return date.fromisoformat(self.end)


CountryName = Callable[[str], str | None]


def located(photos: TripPhotos) -> np.ndarray:
    return ~(np.isnan(photos.lat) | np.isnan(photos.lon))


def km_from(lat: float, lon: float, photos: TripPhotos) -> np.ndarray:
    """Great-circle km from (lat, lon) to each photo (NaN without a position)."""
    out = np.full(len(photos), np.nan)
    ok = located(photos)
    if ok.any():
        pts = np.column_stack((photos.lat[ok], photos.lon[ok]))
        out[ok] = haversine_vector([(lat, lon)], pts, Unit.KILOMETERS, comb=True).ravel()
    return out


def path_km(lat: np.ndarray, lon: np.ndarray) -> float:
    """Length of the great-circle path through these positions, in this order."""
    if lat.size < 2:
        return 0.0
    pts = np.column_stack((lat, lon))
    return float(haversine_vector(pts[:-1], pts[1:], Unit.KILOMETERS).sum())


def find_home(photos: TripPhotos, country_name: CountryName) -> Home | None:
    """The most frequent place of the photos (module docstring), or None without positions.
    Ties: the place seen first in the input."""
    ok = located(photos)
    if not ok.any():
        return None
    n_places = len(photos.places)
    cell = np.floor((photos.lat + 90.0) / CELL_DEG) * (360.0 / CELL_DEG) + np.floor(
        (np.where(ok, photos.lon, 0.0) + 180.0) / CELL_DEG
    )
    keys = np.where(photos.place >= 0, photos.place, n_places + np.nan_to_num(cell))[ok]
    keys = keys.astype(np.int64)
    values, first, counts = np.unique(keys, return_index=True, return_counts=True)
    best = np.lexsort((first, -counts))[0]
    mine = np.flatnonzero(ok)[keys == values[best]]
    lat, lon = mean_position(photos.lat[mine], photos.lon[mine])
    if values[best] < n_places:
        key = photos.places[int(values[best])]
        label = ", ".join(p for p in (key.name, country_name(key.country_code or "")) if p)
    else:
        label = f"{lat:.2f}, {lon:.2f}"
    return Home(lat, lon, label or f"{lat:.2f}, {lon:.2f}", "archive", int(counts[best]))


def mean_position(lat: np.ndarray, lon: np.ndarray) -> tuple[float, float]:
    """The mean of positions on the sphere (across the antimeridian too)."""
    la, lo = np.radians(lat), np.radians(lon)
    x, y, z = (np.cos(la) * np.cos(lo)).mean(), (np.cos(la) * np.sin(lo)).mean(), np.sin(la).mean()
    return float(np.degrees(np.arctan2(z, np.hypot(x, y)))), float(np.degrees(np.arctan2(y, x)))


def away_spans(
    days: np.ndarray, away: np.ndarray, home: np.ndarray, max_gap_days: int
) -> list[tuple[int, int]]:
    """Trips as (first, last) indexes into `days` (sorted distinct datetime64[D] days with
    photos; away/home: that day is away / at home), per the module's rules."""
    spans: list[tuple[int, int]] = []
    homes_before = np.concatenate(([0], np.cumsum(home)))  # home days among days[:i]
    start = prev = -1
    for i in np.flatnonzero(away).tolist():
        if prev >= 0:
            gap = int((days[i] - days[prev]).astype(int)) - 1
            at_home = homes_before[i] - homes_before[prev + 1] > 0
            if at_home or gap > max_gap_days:
                spans.append((start, prev))
                start = i
        else:
            start = i
        prev = i
    if prev >= 0:
        spans.append((start, prev))
    return spans


def detect(
    photos: TripPhotos, home: Home, rules: TripRules, country_name: CountryName
) -> list[Trip]:
    """The trips of these photos around this home, oldest first."""
    if len(photos) == 0:
        return []
    dist = km_from(home.lat, home.lon, photos)
    far = dist >= rules.min_km  # NaN (no position) is never away
    near = dist < rules.min_km
    by_day = np.argsort(photos.day, kind="stable")
    day_sorted = photos.day[by_day]
    days, first = np.unique(day_sorted, return_index=True)
    bounds = np.append(first, day_sorted.size)
    away_day = np.add.reduceat(far[by_day].astype(np.int64), first) > 0
    home_day = (np.add.reduceat(near[by_day].astype(np.int64), first) > 0) & ~away_day
    trips = []
    for a, b in away_spans(days, away_day, home_day, rules.max_gap_days):
        rows = by_day[bounds[a] : bounds[b + 1]]
        trips.append(_trip(photos, rows, far[rows], days[a], days[b], country_name))
    return trips


def _trip(
    photos: TripPhotos,
    rows: np.ndarray,
    far: np.ndarray,
    first: np.datetime64,
    last: np.datetime64,
    country_name: CountryName,
) -> Trip:
    """One trip from its photos' rows (in day order) and which of them are away."""
    when = np.lexsort((photos.ids[rows], photos.order[rows]))
    ordered = rows[when]
    ok = located(photos)[ordered]
    km = path_km(photos.lat[ordered][ok], photos.lon[ordered][ok])
    countries: dict[str, int] = {}
    places: dict[PlaceKey, int] = {}
    idx, n = np.unique(photos.place[rows][far], return_counts=True)
    for i, c in zip(idx.tolist(), n.tolist(), strict=True):
        if i < 0:
            continue
        key = photos.places[i]
        if key.country_code:
            countries[key.country_code] = countries.get(key.country_code, 0) + c
        if key.name:
            places[key] = places.get(key, 0) + c
    country_rows = [
        {"code": code, "name": country_name(code) or code, "photos": c}
        for code, c in sorted(countries.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    place_rows = [
        {"name": k.name, "region": k.region, "country_code": k.country_code, "photos": c}
        for k, c in sorted(places.items(), key=lambda kv: (-kv[1], str(kv[0])))
    ]
    start, end = first.astype(date), last.astype(date)
    return Trip(
        id=start.isoformat(),
        name=trip_name(country_rows, place_rows, start, end),
        start=start.isoformat(),
        end=end.isoformat(),
        days=(end - start).days + 1,
        photos=int(rows.size),
        located=int(ok.sum()),
        away=int(far.sum()),
        km=round(km, 3),
        countries=country_rows,
        places=place_rows,
    )


def month_span(start: date, end: date) -> str:
    """ "Oct 2014", "Oct–Nov 2014", "Dec 2014 – Jan 2015"."""
    a, b = f"{MONTHS[start.month - 1]} {start.year}", f"{MONTHS[end.month - 1]} {end.year}"
    if (start.year, start.month) == (end.year, end.month):
        return a
    if start.year == end.year:
        return f"{MONTHS[start.month - 1]}–{b}"
    return f"{a} – {b}"


def trip_name(
    countries: list[dict[str, Any]], places: list[dict[str, Any]], start: date, end: date
) -> str:
    """ "Japan, Oct 2014 — Tokyo, Kyoto, Osaka": its countries by photos (three at most, then
    "+N"), its months, its top places (distinct names). "Trip, Oct 2014" when no away photo
    has a country (at sea, or places not computed yet)."""
    names = [c["name"] for c in countries[:MAX_NAMED_COUNTRIES]]
    more = len(countries) - len(names)
    where = ", ".join(names) + (f" +{more}" if more else "") if names else "Trip"
    text = f"{where}, {month_span(start, end)}"
    tops: list[str] = []
    for p in places:
        if p["name"] not in tops:
            tops.append(p["name"])
        if len(tops) == MAX_NAMED_PLACES:
            break
    return f"{text} — {', '.join(tops)}" if tops else text
