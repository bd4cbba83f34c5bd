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


MIN_SPAN = 40.0  # a framed map is at least this many units wide (20°): a city is not a blur
MARGIN = 0.15  # of the points' extent, on each side


def frame(points: Iterable[tuple[float, float]]) -> tuple[float, float, float, float]:
    """The part of the map that shows these (x, y) points: (x, y, width, height) in map units,
    their extent widened by MARGIN on each side, at least MIN_SPAN wide, in the map's 2:1
    proportions, inside the map. The whole map without points."""
    pts = list(points)
    if not pts:
        return 0.0, 0.0, float(WIDTH), float(HEIGHT)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    ratio = WIDTH / HEIGHT
    w = max((x1 - x0) * (1 + 2 * MARGIN), (y1 - y0) * (1 + 2 * MARGIN) * ratio, MIN_SPAN)
    w = min(w, float(WIDTH))
    h = w / ratio
    x = min(max((x0 + x1) / 2 - w / 2, 0.0), WIDTH - w)
    y = min(max((y0 + y1) / 2 - h / 2, 0.0), HEIGHT - h)
    return x, y, w, h
