"""Places in words: a photo's caption ("Sintra, Portugal"), a point's description ("Lisbon,
Portugal", "a point at sea, 120 km from …") and the forward lookup of the map's place box; the
towns that captions, the place filter and the place counts share.

Captions name the town, not the neighbourhood. GeoNames lists districts inside big cities as
populated places of their own (Lisbon's "Intendente", Berlin's "Kreuzberg"), and a photo's
nearest place (the stored one) is often one of them. The rule, a function of the stored place
alone, so that a caption, the place filter and /api/places always agree: a place's town is the
most populous place of its country within TOWN_KM of it that has at least TOWN_POPULATION
people and TOWN_FACTOR times its own; a place without such a neighbour is its own town. So
Intendente (5,392 people, 0.9 km from Lisbon's 517,802) belongs to Lisbon: its photos read
"Lisbon, Portugal" and place=Lisbon selects them; Sintra, 25 km away, is a town of its own. The
stored place (and the photo JSON's place.name) stays the nearest one; the viewer names it too."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from atw.core import gazetteer
from atw.core.gazetteer.reverse import unit_vectors
from atw.core.geo import distance_km

TOWN_KM = 5.0
TOWN_POPULATION = 100_000
TOWN_FACTOR = 5
# A point within this distance of its place's town is "at" it; farther, "a point N km from" it.
AT_KM = 10.0
EARTH_KM = 6371.0088
_CHORD = 2 * math.sin(TOWN_KM / EARTH_KM / 2)  # TOWN_KM as a chord of the unit sphere

Key = tuple[str, str | None, str]  # a stored place: (country_code, region, place)


@dataclass(frozen=True)
class _Places:
    """The gazetteer's places in a k-d tree (unit vectors), with each stored key's index (the
    most populous place of that key)."""

    tree: Any
    xyz: np.ndarray
    keys: list[Key]
    population: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    index: dict[Key, int]


_places: _Places | None = None
_lock = threading.Lock()


def _load() -> _Places:
    global _places
    with _lock:
        if _places is None:
            from scipy.spatial import cKDTree

            p = gazetteer.gazetteer().places
            keys: list[Key] = list(zip(p.country_codes, p.regions, p.names, strict=True))
            index: dict[Key, int] = {}
            for i in np.argsort(p.population, kind="stable").tolist():
                index[keys[i]] = i  # ascending: the most populous of a key is written last
            xyz = unit_vectors(p.lat, p.lon)
            _places = _Places(cKDTree(xyz), xyz, keys, p.population, p.lat, p.lon, index)
        return _places


@lru_cache(maxsize=200_000)
def town_of(key: Key) -> Key:
    """The town of a stored place (see the module docstring); the place itself when it is one,
    or when the gazetteer does not know it."""
    t = _load()
    i = t.index.get(key)
    if i is None:
        return key
    floor = max(TOWN_POPULATION, TOWN_FACTOR * int(t.population[i]))
    best = -1
    for j in t.tree.query_ball_point(t.xyz[i], _CHORD):
        big = t.population[j] >= floor and t.keys[j][0] == key[0]
        if big and (best < 0 or t.population[j] > t.population[best]):
            best = j
    return key if best < 0 else t.keys[best]


@lru_cache(maxsize=10_000)
def parts_of(key: Key) -> tuple[Key, ...]:
    """The stored places whose town is this place (itself first when it is a town of its own):
    what the place filter selects for a town's name. () for a place that belongs to a town."""
    if town_of(key) != key:
        return ()
    t = _load()
    i = t.index.get(key)
    if i is None or t.population[i] < TOWN_POPULATION:
        return (key,)
    near = t.tree.query_ball_point(t.xyz[i], _CHORD)
    parts = {t.keys[j] for j in near if t.keys[j][0] == key[0] and t.keys[j] != key}
    return (key, *sorted((k for k in parts if town_of(k) == key), key=str))


def town(key: Key) -> tuple[str, float | None, float | None]:
    """A stored place's town: (name, lat, lon) of its point (None, None when unknown)."""
    found = town_of(key)
    t = _load()
    i = t.index.get(found)
    if i is None:
        return found[2], None, None
    return found[2], float(t.lat[i]), float(t.lon[i])


def caption(rec: dict[str, Any]) -> str | None:
    """A photo record's place in a few words: "Sintra, Portugal", "at sea", "Antarctica";
    None without a place."""
    pl = rec.get("place")
    if not pl:
        return None
    if pl.get("at_sea"):
        return "at sea"
    name = pl.get("name")
    if pl.get("country_code") and name:
        name = town_of((pl["country_code"], pl.get("region"), name))[2]
    parts = [p for p in (name, pl.get("country") or pl.get("country_code")) if p]
    return ", ".join(parts) or None


def detail(rec: dict[str, Any]) -> str | None:
    """What lies behind a caption, for the viewer: "nearest populated place: Intendente (Lisbon,
    Portugal), 0.2 km"; at sea, "120 km from Santa Cruz das Flores, Portugal"."""
    pl = rec.get("place")
    if not pl:
        return None
    km = pl.get("distance_km")
    far = f", {km:.1f} km" if km is not None else ""
    if pl.get("at_sea"):
        return f"at sea{far} from {pl['near']}" if pl.get("near") else "at sea"
    if not pl.get("name"):
        return None
    around = ", ".join(p for p in (pl.get("region"), pl.get("country")) if p)
    return f"nearest populated place: {pl['name']}" + (f" ({around})" if around else "") + far


def point_words(lat: float, lon: float) -> str:
    """A point as a place: "Lisbon, Portugal" (within AT_KM of it), "a point 23 km from
    Sintra, Portugal", "a point in Antarctica", "a point at sea, 120 km from Santa Cruz das
    Flores, Portugal"; coordinates when the gazetteer cannot place it."""
    found = gazetteer.reverse(lat, lon)
    if found is None:
        return f"{lat:.4f}, {lon:.4f}"
    if found.at_sea:
        if found.near and found.distance_km is not None:
            return f"a point at sea, {found.distance_km:.0f} km from {found.near}"
        return "a point at sea"
    country = found.country or found.country_code
    if found.name is None:
        return f"a point in {country}" if country else f"{lat:.4f}, {lon:.4f}"
    assert found.country_code is not None
    name, town_lat, town_lon = town((found.country_code, found.region, found.name))
    km = found.distance_km
    if town_lat is not None and town_lon is not None:
        km = distance_km(lat, lon, town_lat, town_lon)
    label = ", ".join(p for p in (name, country) if p)
    if km is not None and km > AT_KM:
        return f"a point {km:.0f} km from {label}"
    return label


def geocode(query: str, limit: int = 10) -> list[dict[str, Any]]:
    """Places named `query` for the map's place box, most populous first (completion on the
    name's start when no place has that exact name): name, country, region, population,
    lat/lon, and a label telling twins apart: the country, and the region where the same
    country has two ("Paris, France", "Paris, Texas, United States")."""
    found = gazetteer.lookup(query, limit=limit)
    if not found:
        found = gazetteer.complete(query.split(",")[0], limit=limit)
    names = [(c.name, c.country_code) for c in found]
    out = []
    for c in found:
        twin = names.count((c.name, c.country_code)) > 1 and c.region != c.name
        parts = [c.name, c.region if twin else None, c.country or c.country_code]
        out.append(
            {
                "name": c.name,
                "country_code": c.country_code,
                "country": c.country,
                "region": c.region,
                "population": c.population,
                "lat": round(c.lat, 5),
                "lon": round(c.lon, 5),
                "label": ", ".join(p for p in parts if p),
            }
        )
    return out
