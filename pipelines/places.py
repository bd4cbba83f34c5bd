"""The places stage: positions → country, region, place, time zone, and the offset resolved again.

A pass over the index alone (no file is read, nothing decoded), run by every index run after its
files are written (pipelines/run.py), over the photos under its roots whose places are missing or
were computed by another gazetteer or other time rules:

1. read each photo's position, wall-clock time and time facts (exif_offset, gps_at, the file
   offset of an estimated time) from its row;
2. reverse-geocode the positions in batches (atw.core.gazetteer.reverse_many);
3. write the place columns and the time columns (atw.core.localtime.photo_time with the zone at
   the position: exif → gps → zone → none), copy a changed sort_time into PhotoClass;
4. record StageDone(stage "places", model "gazetteer", weights_id = weights_id()), like the
   labellers, so the next run skips the photo until the gazetteer or the rules change.

Bad input never stops it: a position the gazetteer cannot place (no time zone, not a number)
gets no place and falls to the next time step; an impossible GPS clock or an offset beyond
±14:00 falls through as localtime says, and offset_source records the step that answered.
One transaction per batch: an interrupted pass loses at most one batch, redone next time."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from atw.core import derived, gazetteer
from atw.core.clock import utcnow
from atw.core.localtime import TIME_RULES, photo_time
from atw.core.schema import Photo, PhotoPath, StageDone

STAGE = "places"
MODEL = "gazetteer"
BATCH = 2000  # photos per transaction (and per reverse_many call)


def version() -> str:
    """What decides a stored place and time: the gazetteer's data and code, and the time rules."""
    return f"{gazetteer.GAZETTEER_VERSION}; atw-time/{TIME_RULES}"


def weights_id() -> str:
    """12 hex digits of sha256(version()): stored in StageDone.weights_id (like a model's)."""
    return hashlib.sha256(version().encode("utf-8")).hexdigest()[:12]


def tag() -> str:
    """ "places:gazetteer:<weights_id>", as an index run records each stage it ran with."""
    return f"{STAGE}:{MODEL}:{weights_id()}"


@dataclass
class PlacesDone:
    """What a pass did: photos written, seconds in all (wall clock, and this process's CPU
    time) and for loading the gazetteer (wall clock)."""

    photos: int = 0
    with_position: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    load_seconds: float = 0.0


def pending(session: Session, paths: ColumnElement[bool] | None, redo: bool) -> list[int]:
    """Ids of photos with a present path matching `paths` (None: every photo) whose places are
    missing or stale; with redo, all of them."""
    q = select(PhotoPath.photo_id).where(PhotoPath.missing_since.is_(None)).distinct()
    if paths is not None:
        q = q.where(paths)
    if not redo:
        done = select(StageDone.photo_id).where(
            StageDone.stage == STAGE, StageDone.model == MODEL, StageDone.weights_id == weights_id()
        )
        q = q.where(PhotoPath.photo_id.not_in(done))
    ids = sorted(session.scalars(q))
    session.rollback()
    return ids


def run_places(
    session: Session,
    paths: ColumnElement[bool] | None = None,
    *,
    redo: bool = False,
    bar: Callable[..., Any] | None = None,
) -> PlacesDone:
    """The stage over the pending photos (see `pending`); `bar(total=n)` makes a progress bar
    (tqdm-like: update(k), set_description, close)."""
    t0, cpu0 = time.monotonic(), time.process_time()
    out = PlacesDone()
    ids = pending(session, paths, redo)
    if not ids:
        return out
    progress = bar(total=len(ids)) if bar is not None else None
    wid, load = weights_id(), _Loader(progress)
    try:
        for i in range(0, len(ids), BATCH):
            part = ids[i : i + BATCH]
            with session.begin():
                out.with_position += place_batch(session, part, wid, load)
            out.photos += len(part)
            if progress is not None:
                progress.update(len(part))
    finally:
        if progress is not None:
            progress.close()
    out.load_seconds = load.seconds
    out.seconds, out.cpu_seconds = time.monotonic() - t0, time.process_time() - cpu0
    return out


class _Loader:
    """Loads the gazetteer's reverse geocoder on first need, saying so on the progress bar."""

    def __init__(self, progress: Any) -> None:
        self.progress, self.seconds, self.ready = progress, 0.0, False

    def __call__(self) -> None:
        if self.ready:
            return
        t = time.monotonic()
        if self.progress is not None:
            self.progress.set_description("places (loading the gazetteer)")
        gazetteer.gazetteer().reverse  # noqa: B018 (builds it)
        if self.progress is not None:
            self.progress.set_description("places")
        self.seconds, self.ready = time.monotonic() - t, True


_SET = (
    "time_zone",
    "country_code",
    "region",
    "place",
    "place_km",
    "at_sea",
    "near",
    "utc_offset",
    "offset_source",
    "taken_at_utc",
    "sort_time",
)
_PHOTO_UPDATE = (
    update(Photo.__table__)
    .where(Photo.__table__.c.id == bindparam("b_id"))
    .values({c: bindparam(f"b_{c}") for c in _SET})
)


def place_batch(session: Session, ids: Sequence[int], wid: str, load: Callable[[], None]) -> int:
    """Place and re-time these photos, record the stage; returns how many have a position."""
    rows = session.execute(
        select(
            Photo.id,
            Photo.lat,
            Photo.lon,
            Photo.taken_at,
            Photo.time_estimated,
            Photo.utc_offset,
            Photo.exif_offset,
            Photo.gps_at,
            Photo.sort_time,
        ).where(Photo.id.in_(ids))
    ).all()
    located = [r for r in rows if r.lat is not None and r.lon is not None]
    found: dict[int, gazetteer.Place | None] = {}
    if located:
        load()
        places = gazetteer.reverse_many([r.lat for r in located], [r.lon for r in located])
        found = {r.id: p for r, p in zip(located, places, strict=True)}
    params, moved = [], []
    for r in rows:
        cols = place_columns(found.get(r.id))
        times = photo_time(
            r.taken_at,
            estimated=bool(r.time_estimated),
            file_offset=r.utc_offset if r.time_estimated else None,
            exif_offset=r.exif_offset,
            gps_at=r.gps_at,
            time_zone=cols["time_zone"],
        )
        params.append({"b_id": r.id, **{f"b_{k}": v for k, v in (cols | times).items()}})
        if times["sort_time"] != r.sort_time:
            moved.append(r.id)
    conn = session.connection()
    if params:
        conn.execute(_PHOTO_UPDATE, params)
    derived.set_sort_times(session, moved)  # after the photos': it copies theirs
    conn.execute(delete(StageDone).where(StageDone.stage == STAGE, StageDone.photo_id.in_(ids)))
    now = utcnow()
    conn.execute(
        insert(StageDone),
        [
            {"photo_id": r.id, "stage": STAGE, "model": MODEL, "weights_id": wid, "done_at": now}
            for r in rows
        ],
    )
    return len(located)


def place_columns(place: gazetteer.Place | None) -> dict[str, Any]:
    """Photo's place columns for a gazetteer Place (all None without one)."""
    if place is None:
        return dict.fromkeys(
            ("time_zone", "country_code", "region", "place", "place_km", "near"), None
        ) | {"at_sea": False}
    return {
        "time_zone": place.time_zone,
        "country_code": place.country_code,
        "region": _clip(place.region, 128),
        "place": _clip(place.name, 128),
        "place_km": place.distance_km,
        "at_sea": place.at_sea,
        "near": _clip(place.near, 200),
    }


def _clip(text: str | None, n: int) -> str | None:
    return text[:n] if text else text
