"""How a class or group branch joins `photo` for its photo conditions: by id (the row itself),
or, on SQLite when the only condition is estimated=exclude (a trip), by ix_photo_sort_time.

A trip is a date range + estimated=exclude (atw.query.trip_store.narrow): each class or group
row of the dates needs its photo's time_estimated. Read from the photo's table row (wide: the
EXIF text) a look-up costs ≈6 µs at 1M photos; read from the narrow covering index
ix_photo_sort_time (sort_time, id, listed, time_estimated, taken_at), seeked by the row's own
sort_time (a copy of the photo's, kept equal by atw.core.derived and pipelines/places), it
costs ≈0.6 µs, and the rows walked in sort_time order read that index forwards. The dates'
window on sort_time keeps NULL sort_times out, so the seek finds every photo. The join is
the same photo row either way: same ids, same order, same totals."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import ColumnElement, and_
from sqlalchemy.sql import Select

from atw.core.schema import Photo
from atw.query import conditions
from atw.query.filters import PhotoFilter


def by_sort_index(flt: PhotoFilter, dialect: str, centre: Any) -> bool:
    """True when the branch's photo conditions are estimated=exclude alone, with dates, on
    SQLite (PostgreSQL plans its own joins): ix_photo_sort_time then holds all they read."""
    if dialect != "sqlite" or flt.estimated or centre is not None:
        return False
    if flt.start is None and flt.end is None:
        return False  # without the dates' window a NULL sort_time would not be found
    return not conditions.photo_conds(replace(flt, estimated=True), None, dialect)


def join_photo(
    q: Select[Any], on: list[ColumnElement[bool]], photo_id: Any, sort_time: Any, sorted_: bool
) -> Select[Any]:
    """q joined to its photo: `on` (photo.id = photo_id and the keys the caller adds) or, when
    sorted_, the photo found by its sort_time in ix_photo_sort_time (`photo.id + 0` keeps
    SQLite from the rowid look-up; the id is then checked in that index)."""
    if sorted_:
        on = [Photo.sort_time == sort_time, Photo.id + 0 == photo_id, *on[1:]]
    return q.join(Photo, and_(*on))
