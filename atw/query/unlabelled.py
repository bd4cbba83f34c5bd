"""How many listed photos are not labelled yet: photos a class filter cannot see (yet).

A photo is listed as soon as an index run has read its metadata and made its thumbnail; a
two-phase run (INDEX_TWO_PHASE) labels it later, and a run with --no-labels never does. For each
labelling stage the index is configured with (LABELERS), the photos without its StageDone row:

    listed photos - (StageDone rows of the stage - those of unlisted photos)

three counts along indexes (every StageDone row belongs to a photo: a foreign key), where the
anti-join (a NOT EXISTS per photo) reads every listed photo: about 10 times slower, half a second
at a million photos. The answer is the largest of the stages' counts (photos missing any stage
are as many whenever each run labels its photos in every stage, as runs do).

`count` is memoised per database while the index is unchanged (atw.query.trip_store's kind of
key: photos, unlisted photos, the latest index run and its state); while a run is going on the
answer is at most MAX_AGE seconds old."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import false, func, select
from sqlalchemy.orm import Session

from atw.core.schema import IndexRun, Photo, StageDone

MAX_AGE = 5.0  # seconds an answer is kept while an index run is writing
_memo: dict[str, tuple[tuple[object, ...], float, int]] = {}
_memo_lock = threading.Lock()


def count_now(session: Session, stages: Sequence[str]) -> int:
    """Listed photos without a StageDone row of one of `stages` (the stage missing most)."""
    if not stages:
        return 0
    photos = session.scalar(select(func.count()).select_from(Photo)) or 0
    listed = photos - (session.scalar(_unlisted()) or 0)
    worst = 0
    for stage in stages:
        done = session.scalar(
            select(func.count()).select_from(StageDone).where(StageDone.stage == stage)
        )
        done_unlisted = session.scalar(
            select(func.count())
            .select_from(StageDone)
            .join(Photo, Photo.id == StageDone.photo_id)
            .where(Photo.listed == false(), StageDone.stage == stage)
        )
        worst = max(worst, listed - ((done or 0) - (done_unlisted or 0)))
    return worst


def _unlisted() -> Any:
    """Photos not listed (old versions of edited files): few, along ix_photo_unlisted."""
    return select(func.count()).select_from(Photo).where(Photo.listed == false())


def _state(session: Session) -> tuple[tuple[object, ...], bool]:
    """What the index holds, in index-only reads; and whether a run may be writing now."""
    top = session.scalar(select(func.max(Photo.id)))
    unlisted = session.scalar(_unlisted())
    run = session.execute(
        select(IndexRun.id, IndexRun.status, IndexRun.finished_at)
        .order_by(IndexRun.id.desc())
        .limit(1)
    ).first()
    last = None if run is None else tuple(run)
    running = run is not None and run.status == "running"
    return (top, unlisted, last), running


def count(session: Session, stages: Sequence[str]) -> int:
    """count_now, memoised per database while the index is unchanged (module docstring)."""
    if not stages:
        return 0
    bind = session.get_bind()
    key = f"{bind.engine.url.render_as_string(hide_password=True)} {','.join(sorted(stages))}"
    state, running = _state(session)
    now = time.monotonic()
    with _memo_lock:
        found = _memo.get(key)
    if found is not None and found[0] == state and not (running and now - found[1] > MAX_AGE):
        return found[2]
    value = count_now(session, stages)
    with _memo_lock:
        if len(_memo) > 64:
            _memo.clear()
        _memo[key] = (state, now, value)
    return value


def stages_of(labelers: object) -> list[str]:
    """The labelling stages of a LABELERS setting ("imagenet,coco")."""
    return [s.strip() for s in str(labelers or "").split(",") if s.strip()]


def words(n: int, classes: bool = False) -> str:
    """ "1,234 photos are not labelled yet", and with `classes` (a class filter is set) that
    such a filter cannot see them; "" for none."""
    if n <= 0:
        return ""
    said = f"{n:,} photo{'' if n == 1 else 's'} {'is' if n == 1 else 'are'} not labelled yet"
    if classes:
        said += f" — class filters cannot see {'it' if n == 1 else 'them'}"
    return said
