"""An offline world outline as SVG paths, for the report's map.

Equirectangular, from the vendored Natural Earth 1:110m land (world-atlas, ISC-licensed:
atw/static/vendor/world-atlas/LICENSE) as GeoJSON already cut at the antimeridian
(land-110m.geojson, written by scripts/world_geojson.py; the dashboard's map draws the same file),
so no ring crosses the map from one edge to the other."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

LAND = Path(__file__).parents[1] / "static" / "vendor" / "world-atlas" / "land-110m.geojson"
WIDTH, HEIGHT = 720, 360  # one unit per half degree


def xy(lat: float, lon: float) -> tuple[float, float]:
    """SVG coordinates of a position on the WIDTH × HEIGHT equirectangular map."""
    return (lon + 180.0) * WIDTH / 360.0, (90.0 - lat) * HEIGHT / 180.0


@lru_cache(maxsize=1)
def _features() -> dict[str, Any]:
    data = json.loads(LAND.read_text())
    return {f["id"]: f["geometry"] for f in data["features"]}


def _path(lines: Iterable[list[list[float]]], close: bool) -> str:
    parts = []
    for line in lines:
        pts = [xy(lat, lon) for lon, lat in line]
        if len(pts) > 1:
            d = "M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            parts.append(d + "Z" if close else d)
    return "".join(parts)


@lru_cache(maxsize=1)
def land_path() -> str:
    """The "d" attribute of one SVG path filling every land polygon (no stroke: its rings
    include the cut edges along ±180° and the south pole)."""
    polygons = _features()["land"]["coordinates"]
    return _path((ring for poly in polygons for ring in poly), close=True)


@lru_cache(maxsize=1)
def coast_path() -> str:
    """The "d" attribute of the coastlines to stroke: the land's rings without the cut edges."""
    return _path(_features()["coast"]["coordinates"], close=False)


def coastlines() -> list[list[list[float]]]:
    """The coastlines as lines of [lon, lat] points (the land's rings without the cut edges),
    for maps drawn elsewhere (atw.notebook.figures)."""
    return _features()["coast"]["coordinates"]
