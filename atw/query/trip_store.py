"""The trips of the index: settings and home, reading the photos, the cache, a trip by its id.

Trips are computed by atw.query.travel from every listed photo with a known capture time (one
read of the photo table), and cached in the index's meta table (key "trips": the trips as JSON
with the key they were computed for). The key is cheap to check (a few seeks and sums, no
read of the photos: atw.query.day_counts) and changes whenever the result could:
- the index: its photo count, highest photo id and unlisted count (photos added, deleted,
  superseded), the latest index run's id, status and end (every run, the places stage and
  `--relabel places` included, ends by setting it), and the schema's head revision;
- the settings HOME, TRIP_MIN_KM, TRIP_MAX_GAP_DAYS; the rules (travel.TRIP_RULES) and the
  gazetteer's version (names, HOME by name).
Within one transaction of a session the check runs once (session.info). The settings travel
with the session: `use_settings(session, config)` (the web app's sessions carry them; without
it the defaults apply)."""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
from sqlalchemy import delete, false, func, insert, select, true
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from atw.core import gazetteer, migrations
from atw.core.clock import utcnow
from atw.core.schema import IndexRun, Meta, Photo
from atw.query import day_counts, placenames, travel
from atw.query.filters import PhotoFilter
from atw.query.rules import FilterError
from atw.query.travel import Home, PlaceKey, Trip, TripPhotos, TripRules

log = logging.getLogger(__name__)
_COMPUTING = threading.Lock()

META_KEY = "trips"
SETTINGS_INFO = "atw_trip_settings"  # session.info keys
MEMO_INFO = "atw_trips"
_EPOCH, _MICROSECOND = datetime(1970, 1, 1), timedelta(microseconds=1)
_EPOCH_ORDINAL = _EPOCH.toordinal()
TRIP_ID = re.compile(r"\d{4}-\d{2}-\d{2}")
_LATLON = re.compile(
    r"\s*([+-]?\d+(?:\.\d*)?|[+-]?\.\d+)\s*[,;\s]\s*([+-]?\d+(?:\.\d*)?|[+-]?\.\d+)\s*"
)


class HomeError(ValueError):
    """HOME names no place and is no "lat,lon" pair; the message says so, with suggestions."""


@dataclass(frozen=True)
class TripSettings:
    """HOME ("" = the archive's most frequent place), TRIP_MIN_KM, TRIP_MAX_GAP_DAYS."""

    home: str = ""
    min_km: float = 100.0
    max_gap_days: int = 2

    @classmethod
    def from_config(cls, config: Any) -> TripSettings:
        return cls(
            str(config.get("HOME") or "").strip(),
            float(config.get("TRIP_MIN_KM", 100.0)),
            int(config.get("TRIP_MAX_GAP_DAYS", 2)),
        )

    @property
    def rules(self) -> TripRules:
        return TripRules(self.min_km, self.max_gap_days)


@dataclass
class TripSet:
    """What was computed, for which key, when and in how long."""

    key: str
    home: Home | None
    trips: list[Trip]
    settings: dict[str, Any]
    computed_at: str = ""
    seconds: float = 0.0
    photos: int = 0
    by_id: dict[str, Trip] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.by_id = {t.id: t for t in self.trips}

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "home": None if self.home is None else self.home.__dict__,
            "trips": [t.to_json() for t in self.trips],
            "settings": self.settings,
            "computed_at": self.computed_at,
            "seconds": self.seconds,
            "photos": self.photos,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TripSet:
        home = data.get("home")
        return cls(
            key=data["key"],
            home=Home(**home) if home else None,
            trips=[Trip(**t) for t in data["trips"]],
            settings=data.get("settings", {}),
            computed_at=data.get("computed_at", ""),
            seconds=data.get("seconds", 0.0),
            photos=data.get("photos", 0),
        )


def use_settings(session: Session, config: Any) -> None:
    """Let this session's trips (the page, the API, the trip filter) follow these settings."""
    session.info[SETTINGS_INFO] = TripSettings.from_config(config)


def settings_of(session: Session) -> TripSettings:
    found = session.info.get(SETTINGS_INFO)
    return found if isinstance(found, TripSettings) else TripSettings()


# --- home -----------------------------------------------------------------------------------


def parse_latlon(text: str) -> tuple[float, float] | None:
    """ "38.72,-9.14" (or with a space or semicolon) → (lat, lon); None if it is not a pair.
    HomeError for a pair out of range."""
    m = _LATLON.fullmatch(text)
    if m is None:
        return None
    lat, lon = float(m[1]), float(m[2])
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise HomeError(f"HOME {text!r}: latitude must be within ±90 and longitude within ±180")
    return lat, lon


def resolve_home(text: str) -> Home:
    """HOME as a position: "lat,lon", or a place name resolved offline with the gazetteer
    ("Lisbon", "Paris, US", "Portland, Oregon"): the most populous place of that name."""
    pair = parse_latlon(text)
    if pair is not None:
        return Home(pair[0], pair[1], f"{pair[0]:g}, {pair[1]:g}", "setting")
    found = gazetteer.lookup(text, limit=1)
    if not found:
        near = [c.label for c in gazetteer.suggest(text.split(",")[0])]
        hint = f" — did you mean {' or '.join(near[:3])}?" if near else ""
        raise HomeError(
            f"HOME {text!r} names no place in the gazetteer and is not a 'lat,lon' pair{hint}"
        )
    c = found[0]
    label = ", ".join(p for p in (c.name, c.region, c.country) if p)
    return Home(c.lat, c.lon, label, "setting")


# --- the input ------------------------------------------------------------------------------


def read_photos(session: Session) -> TripPhotos:
    """Every listed photo with a capture time from its metadata, as travel.TripPhotos (one
    Core statement; datetimes turned into numbers in bulk, which numpy does slowly itself)."""
    order = func.coalesce(Photo.sort_time, Photo.taken_at)
    q = select(
        Photo.id,
        order,
        Photo.taken_at,
        Photo.lat,
        Photo.lon,
        Photo.country_code,
        Photo.region,
        Photo.place,
    ).where(Photo.listed == true(), Photo.time_estimated == false(), Photo.taken_at.is_not(None))
    rows = session.connection().execute(q).all()
    n = len(rows)
    ids, when, taken, lat, lon, codes, regions, names = zip(*rows, strict=True) if n else [()] * 8
    keys: dict[PlaceKey, int] = {}
    place = np.full(n, -1, dtype=np.int64)
    for i, key in enumerate(zip(codes, regions, names, strict=True)):
        if key[0] is not None or key[2] is not None:
            place[i] = keys.setdefault(PlaceKey(*key), len(keys))
    towns = _towns(keys)
    place = np.where(place >= 0, towns[0][np.maximum(place, 0)], -1)
    us = np.fromiter(((t - _EPOCH) // _MICROSECOND for t in when), np.int64, n)
    days = np.fromiter((t.toordinal() for t in taken), np.int64, n) - _EPOCH_ORDINAL
    nan = math.nan
    return TripPhotos(
        ids=np.fromiter(ids, np.int64, n),
        order=us.astype("datetime64[us]"),
        day=days.astype("datetime64[D]"),
        lat=np.fromiter((nan if v is None else v for v in lat), np.float64, n),
        lon=np.fromiter((nan if v is None else v for v in lon), np.float64, n),
        place=place,
        places=towns[1],
    )


def _towns(keys: dict[PlaceKey, int]) -> tuple[np.ndarray, list[PlaceKey]]:
    """Each stored place's town (atw.query.placenames.town_of: Lisbon for its district
    Intendente, as captions and the place filter read them): which town each key index is, and
    the towns."""
    towns: dict[PlaceKey, int] = {}
    remap = np.zeros(max(1, len(keys)), dtype=np.int64)
    for key, i in keys.items():
        town = placenames.town_of(key) if key[0] and key[2] else key  # type: ignore[arg-type]
        remap[i] = towns.setdefault(PlaceKey(*town), len(towns))
    return remap, list(towns)


def index_version(session: Session) -> str:
    """What the index holds, in a few index-only reads (module docstring)."""
    # Three statements, none reads the photos: the listed ones from photo_day_count (kept by
    # triggers), max(id) by the primary key, the unlisted count by the partial index.
    top = session.scalar(select(func.max(Photo.id)))
    unlisted = session.scalar(
        select(func.count()).select_from(Photo).where(Photo.listed == false())
    )
    run = session.execute(
        select(IndexRun.id, IndexRun.status, IndexRun.finished_at)
        .order_by(IndexRun.id.desc())
        .limit(1)
    ).first()
    last = "-" if run is None else f"{run.id}/{run.status}/{run.finished_at}"
    n = day_counts.listed(session) + (unlisted or 0)
    return f"photos {n}/{top}/{unlisted}; run {last}; schema {migrations.head()}"


def cache_key(session: Session, settings: TripSettings) -> str:
    return json.dumps(
        {
            "index": index_version(session),
            "home": settings.home,
            "min_km": settings.min_km,
            "max_gap_days": settings.max_gap_days,
            "rules": travel.TRIP_RULES,
            "gazetteer": gazetteer.GAZETTEER_VERSION,
        },
        sort_keys=True,
    )


# --- computing and caching ------------------------------------------------------------------


def compute(session: Session, settings: TripSettings, key: str = "") -> TripSet:
    """The trips now, without the cache (HomeError for a HOME that names nothing)."""
    t0 = time.perf_counter()
    photos = read_photos(session)
    home = resolve_home(settings.home) if settings.home else None
    if home is None:
        home = travel.find_home(photos, gazetteer.country_name)
    trips = [] if home is None else travel.detect(photos, home, settings.rules, _country)
    return TripSet(
        key=key,
        home=home,
        trips=trips,
        settings={
            "HOME": settings.home,
            "TRIP_MIN_KM": settings.min_km,
            "TRIP_MAX_GAP_DAYS": settings.max_gap_days,
        },
        computed_at=utcnow().isoformat(timespec="seconds") + "Z",
        seconds=round(time.perf_counter() - t0, 3),
        photos=len(photos),
    )


def _country(code: str) -> str | None:
    return gazetteer.country_name(code)


def current(session: Session, settings: TripSettings | None = None) -> TripSet:
    """The trips for the index as it is and these settings (default: the session's): from the
    cache when its key matches, else computed and stored."""
    settings = settings or settings_of(session)
    txn = session.get_transaction()
    memo = session.info.get(MEMO_INFO)
    if memo is not None and txn is not None and memo[0] is txn and memo[1] == settings:
        return memo[2]
    key = cache_key(session, settings)
    found = cached(session)
    if found is None or found.key != key:
        with _COMPUTING:  # one computation at a time in a process: the others reuse it
            found = cached(session, latest=True)
            if found is None or found.key != key:
                found = compute(session, settings, key)
                store(session, found)
    session.info[MEMO_INFO] = (session.get_transaction(), settings, found)
    return found


def cached(session: Session, latest: bool = False) -> TripSet | None:
    """The stored trips, whatever their key (None when none are stored or they do not read).
    latest: read on a connection of its own, so trips another thread stored after this
    session's transaction began are seen (SQLite's reads see the database as it was then)."""
    query = select(Meta.value).where(Meta.key == META_KEY)
    if latest:
        with _engine(session).connect() as conn:
            raw = conn.scalar(query)
    else:
        raw = session.scalar(query)
    return _parsed(raw) if raw else None


@lru_cache(maxsize=4)
def _parsed(raw: str) -> TripSet | None:
    """The stored trips read once per distinct text (shared: callers do not change them)."""
    try:
        return TripSet.from_json(json.loads(raw))
    except (ValueError, KeyError, TypeError):
        return None


def _engine(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def store(session: Session, found: TripSet) -> bool:
    """Write the trips to the cache in a transaction of their own (the session's is left as
    it is); False when the database would not take them now (busy, read-only): they are
    computed again next time."""
    try:
        with _engine(session).begin() as conn:
            conn.execute(delete(Meta).where(Meta.key == META_KEY))
            conn.execute(insert(Meta).values(key=META_KEY, value=json.dumps(found.to_json())))
    except SQLAlchemyError as exc:
        log.warning("atw: the trips were not cached: %s", exc)
        return False
    return True


# --- one trip -------------------------------------------------------------------------------


def find(session: Session, trip_id: str) -> Trip:
    """The trip with this id (its first day); FilterError("trip") naming the nearest trips
    (or saying that HOME names no place: then no trip can be found)."""
    try:
        trips = current(session)
    except HomeError as exc:
        raise FilterError("trip", f"trips cannot be found: {exc}") from None
    trip = trips.by_id.get(trip_id)
    if trip is not None:
        return trip
    day = _day(trip_id)
    near = sorted(trips.trips, key=lambda t: abs((t.first_day - day).days))[:2] if day else []
    if near:
        hint = " — did you mean " + " or ".join(f"{t.id} ({t.name})" for t in near) + "?"
    else:
        hint = "" if trips.trips else " (no trip is found in this index)"
    raise FilterError(
        "trip",
        f"trip {trip_id!r} is not a trip of this index{hint} (GET /api/trips lists them)",
        f"no trip {trip_id!r}{hint}",
        tuple(t.id for t in near),
    )


def narrow(session: Session, flt: PhotoFilter) -> PhotoFilter:
    """The filter with its trip as what it means (atw.query.plan reads this one): the trip's
    photos are those with a capture time from their metadata taken on its days (local dates),
    so the trip becomes a date range within the filter's own and estimated=exclude. A filter
    whose dates miss the trip gets an empty range (start after end, set past the checks that
    refuse it from a user: the SQL then matches nothing)."""
    if flt.trip is None:
        return flt
    trip = find(session, flt.trip)
    start = max(flt.start, trip.first_day) if flt.start else trip.first_day
    end = min(flt.end, trip.last_day) if flt.end else trip.last_day
    out = replace(flt, trip=None, estimated=False, start=trip.first_day, end=trip.first_day)
    object.__setattr__(out, "start", start)
    object.__setattr__(out, "end", end)
    return out


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def name_of(session: Session, trip_id: str | None) -> str | None:
    """The trip's name for the filter in words (None without a trip or for an unknown one)."""
    if not trip_id:
        return None
    try:
        return find(session, trip_id).name
    except FilterError:
        return None
