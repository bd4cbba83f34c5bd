"""An offline world outline as an SVG path, for the report's map.

Equirectangular, from the vendored world-atlas land-110m TopoJSON (Natural Earth data; the
package is ISC-licensed: atw/static/vendor/world-atlas/LICENSE)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

LAND = Path(__file__).parents[1] / "static" / "vendor" / "world-atlas" / "land-110m.json"
WIDTH, HEIGHT = 720, 360  # one unit per half degree


def xy(lat: float, lon: float) -> tuple[float, float]:
    """SVG coordinates of a position on the WIDTH × HEIGHT equirectangular map."""
    return (lon + 180.0) * WIDTH / 360.0, (90.0 - lat) * HEIGHT / 180.0


@lru_cache(maxsize=1)
def land_path() -> str:
    """The "d" attribute of one SVG path drawing every land polygon."""
    topo = json.loads(LAND.read_text())
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:  # delta-encoded, quantised positions
        x = y = 0
        pts = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            pts.append(xy(y * sy + ty, x * sx + tx))
        arcs.append(pts)

    def ring(indexes: list[int]) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        for i in indexes:
            pts = arcs[i] if i >= 0 else list(reversed(arcs[~i]))
            out.extend(pts[1:] if out else pts)
        return out

    parts = []
    for geom in topo["objects"]["land"]["geometries"]:
        polys = geom["arcs"] if geom["type"] == "MultiPolygon" else [geom["arcs"]]
        for poly in polys:
            for r in poly:
                pts = ring(r)
                parts.append(
                    "M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in pts) + "Z" if pts else ""
                )
    return "".join(parts)
