"""The offline world outline (atw/present/worldmap.py and the GeoJSON that scripts/world_geojson.py
writes for it and for the dashboard's map): no outline crosses the map at the date line, the
islands and coasts on both sides of it are there, and the committed GeoJSON is the script's."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from atw.present import worldmap

ROOT = Path(__file__).resolve().parents[1]
UNITS_PER_DEGREE = worldmap.WIDTH / 360.0
Point = tuple[float, float]


def segments(d: str) -> Iterator[tuple[Point, Point]]:
    """The straight segments an SVG path of M/L/Z commands draws (Z closes to the start)."""
    for sub in re.findall(r"M[^M]*", d):
        pts = [(float(x), float(y)) for x, y in re.findall(r"(-?[\d.]+),(-?[\d.]+)", sub)]
        if sub.rstrip().endswith("Z"):
            pts.append(pts[0])
        yield from itertools.pairwise(pts)


def degrees_lon(a: Point, b: Point) -> float:
    return abs(a[0] - b[0]) / UNITS_PER_DEGREE


def test_no_coastline_segment_spans_the_date_line():
    coast = list(segments(worldmap.coast_path()))
    assert len(coast) > 4000
    widest = max(degrees_lon(a, b) for a, b in coast)
    assert widest < 20, f"a coastline segment spans {widest:.1f}° of longitude"


def test_no_land_edge_crosses_the_map_except_along_the_pole():
    land = list(segments(worldmap.land_path()))
    assert len(land) > 4000
    crossing = [
        (a, b)
        for a, b in land
        if degrees_lon(a, b) > 180 and not (a[1] == b[1] == worldmap.HEIGHT)  # Antarctica's base
    ]
    assert crossing == [], f"land edges across the map: {crossing[:5]}"
    # Antarctica is closed along the south pole (the bottom edge), not across the north.
    assert not any(a[1] == b[1] == 0 for a, b in land)


def _points_near(d: str, lat: float, lon: float, deg: float) -> list[Point]:
    x0, y0 = worldmap.xy(lat, lon)
    r = deg * UNITS_PER_DEGREE
    return [a for a, _ in segments(d) if abs(a[0] - x0) <= r and abs(a[1] - y0) <= r]


def test_fiji_and_chukotka_are_drawn_on_both_sides_of_the_date_line():
    coast = worldmap.coast_path()
    for lat in (-17.0, 66.0):  # Vanua Levu (Fiji); Chukotka (Russia)
        east = _points_near(coast, lat, 179.5, 1.5)
        west = _points_near(coast, lat, -179.5, 1.5 if lat < 0 else 10)
        assert east and west, (lat, len(east), len(west))
    # The land edge of the map at ±180° is reached, not crossed.
    xs = [x for a, b in segments(worldmap.land_path()) for x in (a[0], b[0])]
    assert min(xs) == 0.0 and max(xs) == worldmap.WIDTH


def test_the_committed_geojson_is_the_scripts_output():
    data = json.loads(worldmap.LAND.read_text())
    ids = [f["id"] for f in data["features"]]
    assert ids == ["land", "coast"]
    for f in data["features"]:
        for line in _lines(f["geometry"]):
            assert all(-180 <= lon <= 180 and -90 <= lat <= 90 for lon, lat in line)
    run = subprocess.run(
        [sys.executable, "scripts/world_geojson.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def _lines(geometry: dict) -> Iterator[list[list[float]]]:  # type: ignore[type-arg]
    if geometry["type"] == "MultiPolygon":
        for poly in geometry["coordinates"]:
            yield from poly
    else:
        yield from geometry["coordinates"]


def test_the_report_map_is_framed_on_its_photos():
    assert worldmap.frame([]) == (0.0, 0.0, worldmap.WIDTH, worldmap.HEIGHT)
    lisbon, madrid = worldmap.xy(38.72, -9.14), worldmap.xy(40.42, -3.70)
    x, y, w, h = worldmap.frame([lisbon, madrid])
    assert w == worldmap.MIN_SPAN and w / h == worldmap.WIDTH / worldmap.HEIGHT  # 20° wide
    for px, py in (lisbon, madrid):
        assert x < px < x + w and y < py < y + h
    # far apart: their extent with a margin; at the map's edges: kept inside the map
    x, y, w, h = worldmap.frame([worldmap.xy(60, -170), worldmap.xy(-40, 170)])
    assert (x, w) == (0.0, worldmap.WIDTH) and y >= 0 and y + h <= worldmap.HEIGHT
    x, y, w, h = worldmap.frame([worldmap.xy(-89, 179)])
    assert x + w == worldmap.WIDTH and y + h == worldmap.HEIGHT
