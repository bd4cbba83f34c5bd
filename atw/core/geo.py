"""Great-circle geometry for radius search: unit vectors, bounding boxes, haversine distance."""

from __future__ import annotations

import math
from dataclasses import dataclass

from haversine import Unit, haversine
from haversine.haversine import get_avg_earth_radius

# The mean Earth radius (IUGG, 6371.0088 km), taken from the `haversine` package so that the
# radius search (unit vectors, boxes) and the distances it reports use one sphere.
EARTH_RADIUS_KM = get_avg_earth_radius(Unit.KILOMETERS)
# Widen bounding boxes by this much (degrees, ~1 cm) so float rounding never cuts a point off;
# the exact test decides.
_BOX_MARGIN_DEG = 1e-7


def unit_vector(lat: float | None, lon: float | None) -> tuple[float, float, float] | None:
    """The point on the unit sphere (x, y, z) for a latitude/longitude in degrees.

    Stored with each photo, so "within r km of c" is the plain-arithmetic test
    x·cx + y·cy + z·cz ≥ cos(r / R): the haversine formula in Cartesian form (the chord between
    two points is 2·sin(d / 2R)), exact on the sphere, with no trigonometry in SQL."""
    if lat is None or lon is None:
        return None
    la, lo = math.radians(lat), math.radians(lon)
    c = math.cos(la)
    return (c * math.cos(lo), c * math.sin(lo), math.sin(la))


def min_dot(radius_km: float) -> float:
    """The smallest dot product of two unit vectors at most radius_km apart (−1 = whole sphere)."""
    theta = radius_km / EARTH_RADIUS_KM
    return -1.0 if theta >= math.pi else math.cos(theta)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two positions in degrees (the `haversine` package;
    a latitude beyond ±90 or a longitude beyond ±180 is a ValueError)."""
    return haversine((lat1, lon1), (lat2, lon2), unit=Unit.KILOMETERS)


@dataclass(frozen=True)
class BBox:
    """Degrees enclosing a circle on the sphere. lon_ranges is empty when every longitude can
    be inside (the circle reaches a pole), else one range, or two when it crosses ±180°."""

    lat_min: float
    lat_max: float
    lon_ranges: tuple[tuple[float, float], ...]


def bbox(lat: float, lon: float, radius_km: float) -> BBox:
    """The smallest latitude/longitude box holding every point within radius_km of (lat, lon).

    Method of J. P. Matuschek, "Finding Points Within a Distance of a Latitude/Longitude Using
    Bounding Coordinates": the longitude half-width is asin(sin r / cos lat); when the latitude
    band reaches a pole every longitude is possible; ranges past ±180° wrap around."""
    r = radius_km / EARTH_RADIUS_KM
    m = _BOX_MARGIN_DEG
    if r >= math.pi:
        return BBox(-90.0, 90.0, ())
    la = math.radians(lat)
    lat_min, lat_max = la - r, la + r
    if lat_min <= -math.pi / 2 or lat_max >= math.pi / 2:
        return BBox(max(-90.0, math.degrees(lat_min) - m), min(90.0, math.degrees(lat_max) + m), ())
    dlon = math.degrees(math.asin(min(1.0, math.sin(r) / math.cos(la)))) + m
    lo, hi = lon - dlon, lon + dlon
    lat_lo, lat_hi = math.degrees(lat_min) - m, math.degrees(lat_max) + m
    if hi - lo >= 360.0:
        return BBox(lat_lo, lat_hi, ())
    if lo < -180.0:
        return BBox(lat_lo, lat_hi, ((lo + 360.0, 180.0), (-180.0, hi)))
    if hi > 180.0:
        return BBox(lat_lo, lat_hi, ((lo, 180.0), (-180.0, hi - 360.0)))
    return BBox(lat_lo, lat_hi, ((lo, hi),))
