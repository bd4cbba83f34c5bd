"""Offline gazetteer: positions → places (country by polygons), names → places, countries by name.

Pure Python over packaged data (no network, no Flask, no database). Each part is built once, on
first use, and shared by every thread of the process:

    from atw.core import gazetteer
    gazetteer.reverse(38.7976, -9.3904)      # Place(country_code='PT', …, name='Sintra', …)
    gazetteer.reverse_many(lats, lons)       # batch for the indexer (cached per position)
    gazetteer.lookup("Paris")                # candidates, most populous first
    gazetteer.suggest("Lisbn")               # did you mean: [Candidate('Lisbon', 'PT', …)]
    gazetteer.country("pt")                  # Country(code='PT', name='Portugal')
    gazetteer.GAZETTEER_VERSION              # provenance string, stored with each photo's place
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from .countries import Country, CountryIndex
from .forward import Candidate, PlaceIndex
from .reverse import SHARED_ZONES, Place, ReverseGeocoder
from .sources import PlaceTable, gazetteer_version, load_places
from .text import fold

__all__ = [
    "GAZETTEER_VERSION",
    "SHARED_ZONES",
    "Candidate",
    "Country",
    "Gazetteer",
    "Place",
    "complete",
    "country",
    "country_name",
    "fold",
    "gazetteer",
    "lookup",
    "reverse",
    "reverse_many",
    "suggest",
    "suggest_countries",
]

# Names the packages and data releases that decide a place; store it with each photo's place
# so that a changed gazetteer re-runs the places stage.
GAZETTEER_VERSION = gazetteer_version()


class Gazetteer:
    """The loaded data. Parts load lazily (thread-safe), so a process that only resolves
    country names never reads the polygons."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._places: PlaceTable | None = None
        self._countries: CountryIndex | None = None
        self._reverse: ReverseGeocoder | None = None
        self._index: PlaceIndex | None = None

    @property
    def places(self) -> PlaceTable:
        with self._lock:
            if self._places is None:
                self._places = load_places()
            return self._places

    @property
    def countries(self) -> CountryIndex:
        with self._lock:
            if self._countries is None:
                self._countries = CountryIndex()
            return self._countries

    @property
    def reverse(self) -> ReverseGeocoder:
        with self._lock:
            if self._reverse is None:
                self._reverse = ReverseGeocoder(self.places, self.countries)
            return self._reverse

    @property
    def index(self) -> PlaceIndex:
        with self._lock:
            if self._index is None:
                self._index = PlaceIndex(self.places, self.countries)
            return self._index

    def load(self) -> dict[str, float]:
        """Build every part now; the seconds each took (for benchmarks and warm-up)."""
        took: dict[str, float] = {}
        for part in ("places", "countries", "reverse", "index"):
            t0 = time.perf_counter()
            getattr(self, part)
            took[part] = time.perf_counter() - t0
        return took


_default: Gazetteer | None = None
_default_lock = threading.Lock()


def gazetteer() -> Gazetteer:
    """The process-wide gazetteer."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Gazetteer()
        return _default


def reverse(lat: float, lon: float) -> Place | None:
    """The place at a position (None when it is not a valid coordinate)."""
    return gazetteer().reverse.reverse(lat, lon)


def reverse_many(lats: Iterable[float], lons: Iterable[float]) -> list[Place | None]:
    """Places for many positions in one call; repeated positions are looked up once."""
    return gazetteer().reverse.reverse_many(lats, lons)


def lookup(query: str, country: str | None = None, limit: int = 20) -> list[Candidate]:
    """Places named `query` ("Paris", "Paris, Texas", "Lisbon, PT"), most populous first."""
    return gazetteer().index.lookup(query, country=country, limit=limit)


def complete(prefix: str, limit: int = 10) -> list[Candidate]:
    """Places whose name starts with `prefix`, larger places first."""
    return gazetteer().index.complete(prefix, limit=limit)


def suggest(query: str, limit: int = 5) -> list[Candidate]:
    """Did you mean: near-miss place names for a query that matched nothing."""
    return gazetteer().index.suggest(query, limit=limit)


def country(text: str | None) -> Country | None:
    """The country a code or name designates ("pt", "PRT", "Portugal", "UK"), or None."""
    return gazetteer().countries.get(text)


def country_name(code: str | None) -> str | None:
    """English display name of an alpha-2 code."""
    return gazetteer().countries.name(code)


def suggest_countries(text: str, limit: int = 3) -> list[Country]:
    """Did you mean: countries whose names are close to `text`."""
    return gazetteer().countries.suggest(text, limit=limit)
