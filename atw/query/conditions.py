"""Conditions on a filter's photo rows (time, GPS, places, camera, folder, radius) and the time
window that lets the sort key's index answer local-date ranges.

Results are ordered by Photo.sort_time (the capture instant where its offset is known, else the
wall-clock time: atw.core.localtime.photo_time), while date filters read the local wall-clock
date (taken_at). The two never differ by more than localtime.SORT_SLACK, so a local-date range
[a, b) lies inside [a − SLACK, b + SLACK) on sort_time: `window` adds that range, which the
sort_time indexes seek, beside the exact test on taken_at."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, false, or_

from atw.core import geo
from atw.core.localtime import SORT_SLACK
from atw.core.schema import Photo
from atw.query import place_filter
from atw.query.filters import PhotoFilter
from atw.query.terms import under_folder


def dates(flt: PhotoFilter, col: Any, sort_col: Any = None) -> list[ColumnElement[bool]]:
    """Inclusive local dates on a taken_at column: start 00:00 ≤ col < the day after end; with
    sort_col, their window on that sort_time column too."""
    out = []
    if flt.start:
        out.append(col >= datetime.combine(flt.start, time.min))
    if flt.end:
        out.append(col < datetime.combine(flt.end + timedelta(days=1), time.min))
    return out + ([] if sort_col is None else window(flt, sort_col))


def window(flt: PhotoFilter, sort_col: Any) -> list[ColumnElement[bool]]:
    """The filter's local dates widened by SORT_SLACK on a sort_time column (always true of
    the rows the exact date test keeps; there only so that an index on sort_time is used)."""
    out = []
    if flt.start:
        out.append(sort_col >= datetime.combine(flt.start, time.min) - SORT_SLACK)
    if flt.end:
        day_after = datetime.combine(flt.end + timedelta(days=1), time.min)
        out.append(sort_col < day_after + SORT_SLACK)
    return out


def photo_conds(
    flt: PhotoFilter, centre: tuple[float, float, float] | None, dialect: str
) -> list[ColumnElement[bool]]:
    """Conditions on `photo` columns other than listed and the date."""
    out: list[ColumnElement[bool]] = []
    if not flt.estimated:
        out.append(Photo.time_estimated == false())
    if flt.has_gps is True:
        out.append(Photo.lat.is_not(None))
    elif flt.has_gps is False:
        out.append(Photo.lat.is_(None))
    out += place_filter.conditions(flt)
    if flt.camera_make:
        out.append(Photo.camera_make == flt.camera_make)
    if flt.camera_model:
        out.append(Photo.camera_model == flt.camera_model)
    if flt.folder:
        out.append(Photo.id.in_(under_folder(flt.folder, dialect)))
    if flt.radius_km is not None:
        assert flt.lat is not None and flt.lon is not None and centre is not None
        box = geo.bbox(flt.lat, flt.lon, flt.radius_km)
        out.append(Photo.lat.between(box.lat_min, box.lat_max))
        if box.lon_ranges:
            out.append(or_(*(Photo.lon.between(lo, hi) for lo, hi in box.lon_ranges)))
        out.append(dot(centre) >= geo.min_dot(flt.radius_km))
    return out


def dot(centre: tuple[float, float, float]) -> ColumnElement[float]:
    """cos(angle) between the photo and the centre (a unit vector): larger is nearer."""
    cx, cy, cz = centre
    return Photo.geo_x * cx + Photo.geo_y * cy + Photo.geo_z * cz
