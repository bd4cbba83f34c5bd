"""Prints the places stage's throughput (photos/s) on random and clustered land, and load times."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from atw.core.gazetteer import GAZETTEER_VERSION, Gazetteer


def random_land(g: Gazetteer, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n points uniform on the sphere (60°S–84°N) that the gazetteer puts on land."""
    lats: list[np.ndarray] = []
    lons: list[np.ndarray] = []
    have = 0
    while have < n:
        m = 4 * n
        lat = np.degrees(np.arcsin(rng.uniform(np.sin(np.radians(-60)), np.sin(np.radians(84)), m)))
        lon = rng.uniform(-180, 180, m)
        land = np.array([p is not None and not p.at_sea for p in g.reverse.reverse_many(lat, lon)])
        lats.append(lat[land])
        lons.append(lon[land])
        have += int(land.sum())
    return np.concatenate(lats)[:n], np.concatenate(lons)[:n]


def clustered(g: Gazetteer, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n photos as a traveller takes them: 1 cluster per 100 photos around a random GeoNames
    place, each photo within a few hundred metres, a third of them repeating the previous
    position exactly (bursts)."""
    p = g.places
    centres = rng.integers(0, len(p), max(1, n // 100))
    which = np.sort(rng.integers(0, len(centres), n))
    lat = p.lat[centres][which] + rng.normal(0, 0.003, n)
    lon = p.lon[centres][which] + rng.normal(0, 0.004, n)
    burst = rng.random(n) < 1 / 3
    burst[0] = False
    for i in np.flatnonzero(burst):
        lat[i], lon[i] = lat[i - 1], lon[i - 1]
    return np.clip(lat, -90, 90), lon


def timed_batches(g: Gazetteer, lat: np.ndarray, lon: np.ndarray, batch: int) -> float:
    t0 = time.perf_counter()
    for s in range(0, len(lat), batch):
        g.reverse.reverse_many(lat[s : s + batch], lon[s : s + batch])
    return len(lat) / (time.perf_counter() - t0)


def timed_single(g: Gazetteer, lat: np.ndarray, lon: np.ndarray) -> float:
    t0 = time.perf_counter()
    for a, b in zip(lat.tolist(), lon.tolist(), strict=True):
        g.reverse.reverse(a, b)
    return len(lat) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=20_000, help="photos per case (default 20000)")
    ap.add_argument("--batch", type=int, default=500, help="positions per reverse_many call")
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    print(GAZETTEER_VERSION)

    t0 = time.perf_counter()
    fresh = Gazetteer()
    took = fresh.load()
    total = time.perf_counter() - t0
    parts = ", ".join(f"{k} {v:.2f} s" for k, v in took.items())
    print(f"load: {total:.2f} s in all ({parts})")

    # The test points are made with one instance; each case is timed on a fresh one, so no
    # position is in the cache when its case starts.
    lat_r, lon_r = random_land(fresh, args.n, rng)
    lat_c, lon_c = clustered(fresh, args.n, rng)
    distinct = len(set(zip(lat_c.tolist(), lon_c.tolist(), strict=True)))

    for label, lat, lon in (
        (f"random land, {args.n} distinct", lat_r, lon_r),
        (f"clustered, {args.n} photos ({distinct} distinct)", lat_c, lon_c),
    ):
        g = Gazetteer()
        g.load()
        cold = timed_batches(g, lat, lon, args.batch)
        warm = timed_batches(g, lat, lon, args.batch)
        print(
            f"{label}: {cold:,.0f} photos/s in batches of {args.batch} "
            f"(again, all cached: {warm:,.0f} photos/s)"
        )
    g = Gazetteer()
    g.load()
    k = min(args.n, 5000)
    print(
        f"random land, one reverse() call per photo: {timed_single(g, lat_r[:k], lon_r[:k]):,.0f}/s"
    )


if __name__ == "__main__":
    main()
