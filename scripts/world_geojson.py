"""Converts the vendored world-atlas land TopoJSON into GeoJSON cut at the antimeridian (run once).

The output, atw/static/vendor/world-atlas/land-110m.geojson, is committed: the dashboard's map
(atw/static/map.js, drawn by Leaflet in its own projection) and the report's SVG outline
(atw/present/worldmap.py) both read it, so neither decodes TopoJSON nor handles the date line.

world-atlas leaves rings that cross ±180° whole (Chukotka, Fiji, Antarctica), so a flat map would
draw a line across the world: the `antimeridian` package (Apache-2.0, on shapely) splits them
there and closes Antarctica along the pole. Features: "land" (MultiPolygon, to fill) and "coast"
(MultiLineString: the rings without the cut edges along ±180° and the poles, to stroke).
Usage (dev dependencies installed): python scripts/world_geojson.py [--check]"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path
from typing import Any

import antimeridian
from shapely.geometry import MultiPolygon, Polygon, mapping

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "atw" / "static" / "vendor" / "world-atlas" / "land-110m.json"
OUTPUT = SOURCE.with_suffix(".geojson")
DIGITS = 3  # 0.001° (about 100 m): finer than the 1:110m data's quantisation (0.0036°)


def topo_rings(topo: dict[str, Any]) -> list[list[list[tuple[float, float]]]]:
    """The land polygons of the TopoJSON as lists of rings of (lon, lat)."""
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:  # delta-encoded, quantised positions
        x = y = 0
        pts = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            pts.append((x * sx + tx, y * sy + ty))
        arcs.append(pts)

    def ring(indexes: list[int]) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        for i in indexes:
            pts = arcs[i] if i >= 0 else list(reversed(arcs[~i]))
            out.extend(pts[1:] if out else pts)
        return out

    polygons = []
    for geom in topo["objects"]["land"]["geometries"]:
        polys = geom["arcs"] if geom["type"] == "MultiPolygon" else [geom["arcs"]]
        polygons.extend([ring(r) for r in poly] for poly in polys)
    return polygons


def cut_edge(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """An edge that the cut added (along the antimeridian or a pole), not a coast."""
    return (abs(a[0]) == 180.0 and a[0] == b[0]) or (abs(a[1]) == 90.0 and a[1] == b[1])


def coast_lines(land: MultiPolygon) -> list[list[tuple[float, float]]]:
    """Every ring of the cut polygons as lines, broken where an edge is a cut edge."""
    lines: list[list[tuple[float, float]]] = []
    for poly in land.geoms:
        for ring in (poly.exterior, *poly.interiors):
            pts = [(round(x, DIGITS), round(y, DIGITS)) for x, y in ring.coords]
            run: list[tuple[float, float]] = [pts[0]]
            for a, b in itertools.pairwise(pts):
                if cut_edge(a, b):
                    if len(run) > 1:
                        lines.append(run)
                    run = [b]
                else:
                    run.append(b)
            if len(run) > 1:
                lines.append(run)
    return lines


def build() -> dict[str, Any]:
    topo = json.loads(SOURCE.read_text())
    # TopoJSON from d3 winds exteriors clockwise; GeoJSON (and antimeridian) counter-clockwise.
    polys = [Polygon(r[0][::-1], [h[::-1] for h in r[1:]]) for r in topo_rings(topo)]
    land = antimeridian.fix_multi_polygon(
        MultiPolygon(polys), fix_winding=False, great_circle=False
    )
    land_geojson = json.loads(json.dumps(mapping(land)), parse_float=lambda s: round(float(s), 3))
    coast = {"type": "MultiLineString", "coordinates": coast_lines(land)}
    note = (
        "Natural Earth 1:110m land via world-atlas 2.0.2 (ISC), cut at the antimeridian by "
        "scripts/world_geojson.py"
    )
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": "land",
                "properties": {"source": note},
                "geometry": land_geojson,
            },
            {"type": "Feature", "id": "coast", "properties": {"source": note}, "geometry": coast},
        ],
    }


def main(argv: list[str]) -> int:
    text = json.dumps(build(), separators=(",", ":")) + "\n"
    if "--check" in argv:
        same = OUTPUT.exists() and OUTPUT.read_text() == text
        print(f"{OUTPUT.relative_to(ROOT)} is {'up to date' if same else 'STALE: run the script'}")
        return 0 if same else 1
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT.relative_to(ROOT)} ({len(text):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
