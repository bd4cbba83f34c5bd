"""Prints how long trips take on a synthetic archive that travels: computed, then cached.

The archive (built once, cached in bench/out/): one person living in Lisbon from 2013 to 2024
who takes photos most days (about 230 a day on average, so 1,000,000 photos over 12 years), and
travels: trips of 1-21 days every 1-8 weeks, each to one to four real GeoNames cities (the
gazetteer's own table, so names and countries are real) visited in turn, with photos a few km
around each city, local times with that city's offset (UTC instants stored), 10 % without a
position, 2 % with estimated times; day trips under 100 km (Sintra, Setúbal) now and then.
Only the photo table is written (trips read nothing else), with place columns filled as the
places stage would (the city's country, region and name) and the app's indexes.

Then, with the app's own engine (atw.core.engine.make_engine):
- compute: atw.query.trip_store.compute (read every photo with a capture time + detect), best
  of --repeat, with its parts (read, home, detect);
- cache: store once, then trip_store.current in a fresh session each time (the index check +
  reading the cached trips), median of 20;
- the trip filter: a page and the count of the longest trip through atw.query.search.

    python bench/trips.py                  # 1,000,000 photos
    python bench/trips.py --photos 100000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert
from sqlalchemy.orm import Session

from atw.core import gazetteer
from atw.core.engine import make_engine
from atw.core.geo import EARTH_RADIUS_KM
from atw.core.schema import Meta, Photo
from atw.query import search, travel, trip_store
from atw.query.filters import PhotoFilter
from bench.synthetic_index import fresh_engine

OUT = Path(__file__).resolve().parent / "out"
DATA_VERSION = "1"  # bump when the generator changes, so cached files are rebuilt
FIRST, LAST = datetime(2013, 1, 1), datetime(2024, 12, 31)
HOME = ("PT", "Lisbon", "Lisbon", 38.7223, -9.1393, 0)
DAY_TRIPS = [
    ("PT", "Lisbon", "Sintra", 38.7976, -9.3904),
    ("PT", "Setúbal", "Setúbal", 38.5244, -8.8882),
]


def destinations(rng: np.random.Generator, n: int = 400) -> list[tuple[Any, ...]]:
    """n real cities of 200,000 people or more (GeoNames, through the gazetteer), at least
    150 km from Lisbon: (country, region, name, lat, lon, offset hours from the longitude)."""
    places = gazetteer.gazetteer().places
    big = np.flatnonzero(places.population >= 200_000)
    rng.shuffle(big)
    out = []
    for i in big.tolist():
        lat, lon = float(places.lat[i]), float(places.lon[i])
        if travel.path_km(np.array([HOME[3], lat]), np.array([HOME[4], lon])) < 150:
            continue
        code = places.country_codes[i]
        out.append((code, places.regions[i], places.names[i], lat, lon, round(lon / 15)))
        if len(out) == n:
            break
    return out


def timeline(
    rng: np.random.Generator, n_photos: int
) -> list[tuple[datetime, tuple[Any, ...], bool]]:
    """(day, where, away) for every day of the period: home, day trips, trips."""
    cities = destinations(rng)
    days: list[tuple[datetime, tuple[Any, ...], bool]] = []
    day = FIRST
    while day <= LAST:
        home_for = int(rng.integers(7, 56))
        for _ in range(home_for):
            if rng.random() < 0.03:
                c = DAY_TRIPS[int(rng.integers(len(DAY_TRIPS)))]
                days.append((day, (*c, 0), False))
            else:
                days.append((day, HOME, False))
            day += timedelta(days=1)
        stops = [cities[int(i)] for i in rng.integers(0, len(cities), int(rng.integers(1, 5)))]
        length = int(rng.integers(1, 22))
        for k in range(length):
            days.append((day, stops[k * len(stops) // length], True))
            day += timedelta(days=1)
    return [d for d in days if d[0] <= LAST]


def photo_rows(rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
    days = timeline(rng, n)
    weight = np.array([2.5 if away else 1.0 for _d, _w, away in days])
    per_day = rng.multinomial(n, weight / weight.sum())
    rows: list[dict[str, Any]] = []
    now = datetime(2025, 6, 1)
    for (day, where, _away), k in zip(days, per_day.tolist(), strict=True):
        if k == 0:
            continue
        code, region, name, lat0, lon0, offset = where
        secs = np.sort(rng.integers(8 * 3600, 22 * 3600, k))
        km = rng.exponential(3.0, k)
        bearing = rng.uniform(0, 2 * np.pi, k)
        dlat = np.degrees(km * np.cos(bearing) / EARTH_RADIUS_KM)
        dlon = np.degrees(km * np.sin(bearing) / EARTH_RADIUS_KM) / max(
            0.05, np.cos(np.radians(lat0))
        )
        located = rng.random(k) >= 0.10
        estimated = rng.random(k) < 0.02
        for j in range(k):
            taken = day + timedelta(seconds=int(secs[j]))
            pid = len(rows) + 1
            has = bool(located[j])
            lat = float(lat0 + dlat[j]) if has else None
            lon = float((lon0 + dlon[j] + 180) % 360 - 180) if has else None
            utc = taken - timedelta(hours=offset)
            rows.append(
                {
                    "id": pid,
                    "sha256": f"{pid:064x}",
                    "bytes": 1,
                    "taken_at": taken,
                    "time_estimated": bool(estimated[j]),
                    "utc_offset": f"{'-' if offset < 0 else '+'}{abs(offset):02d}:00",
                    "offset_source": "zone" if has else "exif",
                    "taken_at_utc": utc,
                    "sort_time": utc,
                    "lat": lat,
                    "lon": lon,
                    "country_code": code if has else None,
                    "region": region if has else None,
                    "place": name if has else None,
                    "indexed_at": now,
                    "listed": True,
                    "source": "scan",
                }
            )
    return rows


def build(path: Path, n: int, seed: int) -> float:
    t = time.perf_counter()
    tmp, engine = fresh_engine(path)
    indexes = list(Photo.__table__.indexes)
    with engine.begin() as conn:
        for ix in indexes:
            ix.drop(conn)
    rows = photo_rows(np.random.default_rng(seed), n)
    print(f"  {len(rows):,} photos generated  {time.perf_counter() - t:6.1f} s", flush=True)
    for i in range(0, len(rows), 50_000):
        with engine.begin() as conn:
            conn.execute(insert(Photo.__table__), rows[i : i + 50_000])
    with engine.begin() as conn:
        conn.execute(insert(Meta.__table__), [{"key": "schema_version", "value": "bench"}])
        for ix in indexes:
            ix.create(conn)
    engine.dispose()
    tmp.rename(path)
    return time.perf_counter() - t


def timed(fn: Any, repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--repeat", type=int, default=2, help="computations timed (best is kept)")
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    path = OUT / f"trips-{args.photos}-s{args.seed}-v{DATA_VERSION}.sqlite"
    if not path.exists():
        print(f"building {path.name} …", flush=True)
        print(f"  built in {build(path, args.photos, args.seed):.0f} s")
    engine = make_engine(f"sqlite:///{path}")
    settings = trip_store.TripSettings()
    with Session(engine) as s:
        s.execute(Meta.__table__.delete().where(Meta.key == trip_store.META_KEY))
        s.commit()
        t_read, photos = timed(lambda: trip_store.read_photos(s), 1)
        t_home, home = timed(lambda: travel.find_home(photos, gazetteer.country_name), 1)
        t_detect, trips = timed(
            lambda: travel.detect(photos, home, settings.rules, gazetteer.country_name), 1
        )
        s.rollback()
        t_all, found = timed(lambda: trip_store.compute(s, settings), args.repeat)
        found.key = trip_store.cache_key(s, settings)
        trip_store.store(s, found)
    print(f"photos with a capture time: {len(photos):,}; home {home.label}; {len(trips)} trips")
    print(f"compute (read + home + detect), best of {args.repeat}: {t_all:.2f} s")
    print(f"  read {t_read:.2f} s, home {t_home:.2f} s, detect {t_detect:.2f} s (one run each)")
    cached = []
    for _ in range(20):
        with Session(engine) as s:
            t = time.perf_counter()
            again = trip_store.current(s, settings)
            cached.append(time.perf_counter() - t)
        assert again.key == found.key and len(again.trips) == len(found.trips)
    print(
        f"cached lookup (index check + cached trips, fresh session), median of 20: "
        f"{statistics.median(cached) * 1000:.1f} ms (max {max(cached) * 1000:.1f} ms)"
    )
    longest = max(found.trips, key=lambda t: t.photos)
    with Session(engine) as s:
        trip_store.use_settings(s, {})
        flt = PhotoFilter(trip=longest.id)
        t_page, page = timed(lambda: search.search(s, flt, 1, 100), 3)
    assert page.total == longest.photos, (page.total, longest.photos)
    print(
        f"trip filter ({longest.name}: {longest.photos:,} photos), first page + count: "
        f"{t_page * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
