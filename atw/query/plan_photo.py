"""Which `photo` index a branch's photo conditions read: a class or group branch joins the photo
by id, or, on SQLite when the only condition is estimated=exclude (a trip), by
ix_photo_sort_time; a place-driven branch (window) leaves the dates' sort_time window out;
a page whose count would walk the same rows again carries that count (page); a class's rows
that are all read and joined to their photos come in photo id order (by_id); on PostgreSQL a
place's page is read from ix_photo_place and sorted, not walked in sort_time order (order_key);
and the estimates the planner chooses by (place_photos, date_share).

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
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from atw.core.schema import Photo
from atw.query import conditions, held_count
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


def window(flt: PhotoFilter, dialect: str, classes: bool) -> Any:
    """The sort_time column for the dates' window of a photo-driven branch, or None to leave
    the window out (the exact test on taken_at stays): on SQLite when a place drives the classes
    (Query._place_first, or every photo while the group rows are stale). With the window and
    its ORDER BY, SQLite walked the dates' photos by ix_photo_sort_time, reading each photo's
    row for its position (≈3 µs each: a year of 1M photos ≈ 230 ms); without it the place's
    covering index drives (ix_photo_lat_lon, ix_photo_place) as in the count that chose this
    plan, and the few matches are sorted (≈3 ms)."""
    place = flt.radius_km is not None or bool(flt.country or flt.region or flt.place)
    return None if classes and place and dialect == "sqlite" else Photo.sort_time


# A page counts its matches in the same pass (count(*) over ()) when its branch joins `photo`
# and the classes hold at most this many photos: the count would read every row again, with a
# photo look-up each (≈3–6 µs at 1M photos), and sorting this many matches costs less.
ONE_PASS_ROWS = 20_000


def one_pass(query: Any) -> bool:
    """True when a page of this Query (atw.query.plan) should carry its total: on SQLite, one
    class or group (or all of several, driven by the rarest) with photo conditions, or a place
    driving the classes, with few photos in the classes."""
    flt = query.flt
    if query.dialect != "sqlite" or not flt.classes or query.kind not in ONE_PASS_KINDS:
        return False
    if not (query.photo_conds or query.centre):
        return False  # no look-ups: the count reads only the index (or counts kept, fast_count)
    sizes = [sum(t.photos for t in w if t.sources) for w in query.words]
    bound = min(sizes) if flt.match == "all" else sum(sizes)
    if query.kind == "photo":  # a place driving: at most its photos (Query._place_first)
        bound = min(bound, getattr(query, "place_photos", bound))
    return bound <= ONE_PASS_ROWS


ONE_PASS_KINDS = ("single", "probe", "photo")


def page(query: Any, offset: int, limit: int) -> Any:
    """The statement of one page (LIMIT/OFFSET); with one_pass, every row also carries `total`
    (atw.query.search reads it instead of running the count)."""
    stmt = query.ordered(offset, limit)
    if one_pass(query):
        stmt = stmt.add_columns(func.count().over().label("total"))
    return stmt.limit(limit).offset(offset)


def order_key(query: Any, key: Any) -> Any:
    """The sort key of a page: on PostgreSQL with a place (country, region, place) and no class
    branch, sort_time + 0 seconds (the same order, by no index). Its planner otherwise walks
    ix_photo_sort_time newest first checking each photo's country in the table, counting on
    the place's share of photos every few rows; but a country's photos cluster in the weeks
    of its trips, so the walk read ~120,000 photos for one page of Japan (60–70 ms at 200,000
    photos). Without an index for the order it reads the place's rows from ix_photo_place and
    sorts them (1–8 ms)."""
    flt = query.flt
    if query.dialect != "postgresql" or query.kind != "photo":
        return key
    return key + timedelta(0) if (flt.country or flt.region or flt.place) else key


def place_photos(query: Any, cap: int) -> int:
    """The photos of a Query's place (its photo branch, no classes), counted up to cap:
    min(their number, cap), all Query._place_first needs to choose (at a million photos, a
    home circle of 100,000 photos against a class of 30,000: 30,000 index rows read, ~5 ms
    instead of ~16), and exact whenever the place drives (fewer than cap). A radius (and dates):
    from the held positions when they answer (atw.query.held_count.place_photos)."""
    held = held_count.place_photos(query.session, query.flt)
    if held is not None:
        return min(held, cap)
    sub = query._photo_branch().with_only_columns(Photo.id).limit(cap).subquery()
    return int(query.session.scalar(select(func.count()).select_from(sub)) or 0)


def date_share(session: Session, flt: PhotoFilter) -> float:
    """The share of the archive's span (first to last instant) the dates cover: 2 seeks."""
    ends = (session.scalar(select(f(Photo.sort_time))) for f in (func.min, func.max))
    first, last = ends
    if first is None or last is None or last <= first:  # no photo, or all at one instant
        return 1.0
    start = datetime.combine(flt.start, time.min) if flt.start else first
    end = datetime.combine(flt.end, time.max) if flt.end else last
    return max(0.0, min(1.0, (min(end, last) - max(start, first)) / (last - first)))


def by_id(query: Any, count: bool) -> bool:
    """True when a statement of this Query reads every row of its class (a count, or a
    one-pass page) and joins each to its photo, on SQLite: one class in one source (or the
    rarest of all words), no dates, photo conditions (a place, a radius). Its rows are then
    read from photo_class's primary key (label, source, photo_id), in photo id order, so the
    look-ups of the photos walk the table forwards: 20–35 % less than reading them in date
    order from ix_photo_class_label (which a page that stops early still walks). The branch
    asks for n > 0 (true of every row: each has a score) to that end, as n is in the primary
    key only."""
    flt = query.flt
    if query.dialect != "sqlite" or query.kind not in ("single", "probe"):
        return False
    if flt.start or flt.end or not (query.photo_conds or query.centre):
        return False
    if query.specs[0][0] != "class" or len(query.specs) != 1:
        return False
    return count or one_pass(query)
