"""Plotly figures for the notebook that work offline: a world map of photos (Scattergeo over the
vendored coastlines, no base-map download), with a radius query's circle."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go

from atw.core import geo
from atw.present.charts import SOURCE_COLOURS
from atw.present.worldmap import coastlines

if TYPE_CHECKING:
    import pandas as pd

POINT_COLOUR = SOURCE_COLOURS["coco"]
OTHER_COLOUR = "#8a8f98"
COAST_COLOUR = "#6b7280"
CIRCLE_POINTS = 181


def world_map(
    photos: pd.DataFrame,
    centre: tuple[float, float] | None = None,
    radius_km: float | None = None,
    others: pd.DataFrame | None = None,
    title: str | None = None,
) -> go.Figure:
    """The photos of a frame (Archive.photos) with a position, as dots on an equirectangular
    world map; `others` (another frame, e.g. every located photo) in grey beneath them; with a
    centre and radius_km, the circle, and the view fitted to it. The coastlines are atw's own
    (atw.present.worldmap) and plotly's base layers are off, so plotly.js fetches nothing."""
    fig = go.Figure()
    lons: list[float | None] = []
    lats: list[float | None] = []
    for line in coastlines():
        lons += [p[0] for p in line] + [None]
        lats += [p[1] for p in line] + [None]
    fig.add_trace(
        go.Scattergeo(
            lon=lons,
            lat=lats,
            mode="lines",
            line={"width": 0.8, "color": COAST_COLOUR},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    if others is not None:
        _dots(fig, others, OTHER_COLOUR, "other photos", 5)
    located = _dots(fig, photos, POINT_COLOUR, "photos", 8)
    if centre is not None:
        lat, lon = centre
        if radius_km is not None:
            c_lat, c_lon = circle(lat, lon, radius_km)
            fig.add_trace(
                go.Scattergeo(
                    lon=c_lon,
                    lat=c_lat,
                    mode="lines",
                    line={"width": 2, "color": "#4fa3ff"},
                    name=f"{radius_km:g} km",
                    hoverinfo="skip",
                )
            )
            _fit(fig, lat, lon, radius_km)
        fig.add_trace(
            go.Scattergeo(
                lon=[lon],
                lat=[lat],
                mode="markers",
                marker={"symbol": "x", "size": 10, "color": "#4fa3ff"},
                name="centre",
            )
        )
    fig.update_geos(visible=False, showframe=True, projection_type="equirectangular")
    fig.update_layout(
        title=title or f"{located} photos with a position",
        height=460,
        margin={"l": 10, "r": 10, "t": 48, "b": 10},
    )
    return fig


def circle(lat: float, lon: float, radius_km: float) -> tuple[list[Any], list[Any]]:
    """(lats, lons) of the points radius_km from (lat, lon), all round (the last = the first),
    longitudes in −180…180; where the line jumps across the antimeridian, a None breaks it."""
    d = radius_km / geo.EARTH_RADIUS_KM
    p1, l1 = math.radians(lat), math.radians(lon)
    lats: list[float | None] = []
    lons: list[float | None] = []
    previous = None
    for i in range(CIRCLE_POINTS):
        b = 2 * math.pi * i / (CIRCLE_POINTS - 1)
        p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
        y = math.sin(b) * math.sin(d) * math.cos(p1)
        x = math.cos(d) - math.sin(p1) * math.sin(p2)
        l2 = (math.degrees(l1 + math.atan2(y, x)) + 540) % 360 - 180
        if previous is not None and abs(l2 - previous) > 180:
            lats.append(None)
            lons.append(None)
        lats.append(math.degrees(p2))
        lons.append(l2)
        previous = l2
    return lats, lons


def _dots(fig: go.Figure, df: Any, colour: str, name: str, size: int) -> int:
    """Add df's located photos as dots (hover: file, time, best label); returns how many."""
    df = df[df["lat"].notna() & df["lon"].notna()]
    text = [
        f"{str(p).rsplit('/', 1)[-1]}<br>{t}<br>{lb if isinstance(lb, str) else ''}"
        for p, t, lb in zip(df["path"], df["taken_at"], df["top_label"], strict=True)
    ]
    fig.add_trace(
        go.Scattergeo(
            lon=df["lon"],
            lat=df["lat"],
            mode="markers",
            marker={"size": size, "color": colour, "line": {"width": 0.5, "color": "#222"}},
            name=f"{len(df)} {name}",
            text=text,
            hoverinfo="text",
        )
    )
    return len(df)


def _fit(fig: go.Figure, lat: float, lon: float, radius_km: float) -> None:
    """Show the circle with a margin of a quarter of its size (the whole world when it
    reaches a pole or spans the antimeridian)."""
    box = geo.bbox(lat, lon, radius_km * 1.25)
    if len(box.lon_ranges) != 1:
        return
    (lo, hi) = box.lon_ranges[0]
    fig.update_geos(lataxis_range=[box.lat_min, box.lat_max], lonaxis_range=[lo, hi])
