"""Derived index rows: per-(photo, source, class) summaries, class counts, a photo's geo columns.

The derivations are pure functions (used by the writer and by the synthetic benchmark index);
the upkeep functions apply them inside the writer's transaction, so the summary and the counts
always match the Label/Detection rows of listed photos."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, insert, inspect, select, update
from sqlalchemy.orm import Session

from atw.core import group_upkeep
from atw.core.geo import unit_vector
from atw.core.schema import ClassCount, Detection, Label, Photo, PhotoClass, PhotoPath

TOP_SCORES = 5  # PhotoClass keeps the best five scores of a class: score, s2 … s5
COCO = "coco"  # the stage whose results are Detection rows; every other stage writes Label rows


def bucket(score: float) -> int:
    """ClassCount bucket of a stored score (4 decimals): ⌊score × 100⌋, in integer arithmetic."""
    return min(100, max(0, round(score * 10_000) // 100))


def class_rows(items: Iterable[tuple[str, float]]) -> list[dict[str, Any]]:
    """One stage's results for one photo, as (class, stored score) pairs → one summary row per
    class: its best score, the 2nd…5th best (None when fewer) and how many there are."""
    by_class: dict[str, list[float]] = defaultdict(list)
    for label, score in items:
        by_class[label].append(score)
    rows = []
    for label in sorted(by_class):
        scores = sorted(by_class[label], reverse=True)
        top: list[float | None] = [*scores[:TOP_SCORES]]
        top += [None] * (TOP_SCORES - len(top))
        rows.append(
            {
                "label": label,
                "score": top[0],
                "s2": top[1],
                "s3": top[2],
                "s4": top[3],
                "s5": top[4],
                "n": len(scores),
            }
        )
    return rows


def photo_class_rows(
    photo_id: int,
    taken_at: datetime | None,
    source: str,
    items: Iterable[tuple[str, float]],
    sort_time: datetime | None = None,
) -> list[dict[str, Any]]:
    """class_rows with the photo's id, the stage (source) and the copies of its capture time
    (wall clock) and sort key (Photo.sort_time: the instant where known)."""
    return [
        {
            "photo_id": photo_id,
            "source": source,
            "taken_at": taken_at,
            "sort_time": sort_time,
            **row,
        }
        for row in class_rows(items)
    ]


def count_deltas(rows: Iterable[dict[str, Any]], sign: int = 1) -> Counter[tuple[str, str, int]]:
    """What adding (sign=1) or removing (sign=-1) summary rows does to ClassCount."""
    out: Counter[tuple[str, str, int]] = Counter()
    for r in rows:
        out[(r["source"], r["label"], bucket(r["score"]))] += sign
    return out


def geo_columns(lat: float | None, lon: float | None) -> dict[str, float | None]:
    """Photo.geo_x/y/z for a position (None without one)."""
    v = unit_vector(lat, lon)
    return dict(zip(("geo_x", "geo_y", "geo_z"), v or (None, None, None), strict=True))


# --- upkeep, inside the writer's transaction ------------------------------------------------


def replace_stage(
    session: Session,
    photo_id: int,
    taken_at: datetime | None,
    source: str,
    items: Iterable[tuple[str, float]],
    sort_time: datetime | None = None,
) -> None:
    """Replace a listed photo's summary rows of one stage by those of these results."""
    rows = photo_class_rows(photo_id, taken_at, source, items, sort_time)
    _replace(session, photo_id, source, rows)


def set_sort_times(session: Session, photo_ids: Sequence[int]) -> None:
    """These photos' sort_time changed (the places stage resolved an offset): copy it into
    their summary rows (PhotoClass.sort_time, in one statement) and their class-group rows."""
    if photo_ids:
        own = select(Photo.sort_time).where(Photo.id == PhotoClass.photo_id).scalar_subquery()
        session.execute(
            update(PhotoClass)
            .where(PhotoClass.photo_id.in_(photo_ids))
            .values(sort_time=own)
            .execution_options(synchronize_session=False)
        )
        group_upkeep.set_sort_times(session, photo_ids)


def unlist(session: Session, photo: Photo) -> None:
    """The last path of this photo now holds other content: drop it from every listing."""
    photo.listed = False
    _replace(session, photo.id, None, [])


def relist(session: Session, photo: Photo) -> None:
    """A path holds this (known, unlisted) content again: list it with its stored labels."""
    photo.listed = True
    by_source: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for source, label, score in session.execute(
        select(Label.source, Label.label, Label.score).where(Label.photo_id == photo.id)
    ):
        by_source[source].append((label, score))
    for label, score in session.execute(
        select(Detection.label, Detection.score).where(Detection.photo_id == photo.id)
    ):
        by_source[COCO].append((label, score))
    rows = [
        row
        for source, items in sorted(by_source.items())
        for row in photo_class_rows(photo.id, photo.taken_at, source, items, photo.sort_time)
    ]
    _replace(session, photo.id, None, rows)


def _replace(
    session: Session, photo_id: int, source: str | None, rows: list[dict[str, Any]]
) -> None:
    """Delete the photo's summary rows (of one source, or all), insert rows, fix the counts;
    then its class-group rows follow, when the transaction commits (atw.core.group_upkeep)."""
    where = [PhotoClass.photo_id == photo_id]
    if source is not None:
        where.append(PhotoClass.source == source)
    cols = [getattr(PhotoClass, c) for c in ("source", "label", "taken_at", "sort_time")]
    cols += [getattr(PhotoClass, c) for c in _SCORES]
    every = [r._asdict() for r in session.execute(select(*cols).where(where[0]))]
    old = [r for r in every if source is None or r["source"] == source]
    if old:
        session.execute(delete(PhotoClass).where(*where))
    if rows:
        session.execute(insert(PhotoClass), rows)
    deltas = count_deltas(rows)
    deltas.subtract(count_deltas(old))
    _apply_counts(session, deltas)
    kept = [r for r in every if source is not None and r["source"] != source]
    group_upkeep.replace(session, photo_id, every, kept + rows)


_SCORES = ("score", "s2", "s3", "s4", "s5", "n")


def _apply_counts(session: Session, deltas: Counter[tuple[str, str, int]]) -> None:
    """Add deltas to ClassCount (portable update-else-insert; the writer is the only writer)."""
    for (source, label, b), d in sorted(deltas.items()):
        if d == 0:
            continue
        res = session.execute(
            update(ClassCount)
            .where(ClassCount.source == source, ClassCount.label == label, ClassCount.bucket == b)
            .values(photos=ClassCount.photos + d)
            .execution_options(synchronize_session=False)
        )
        if res.rowcount == 0:  # type: ignore[attr-defined]
            if d < 0:
                raise RuntimeError(f"class_count out of step for {source}/{label}/{b}")
            session.execute(
                insert(ClassCount).values(source=source, label=label, bucket=b, photos=d)
            )


# --- rebuilding everything (an upgrade from schema 1, or a repair) ---------------------------

REBUILD_CHUNK = 2000


def rebuild(session: Session, progress: Callable[[int, int], None] | None = None) -> None:
    """Recompute every derived row from the base rows: Photo.listed and geo_*, PhotoClass and
    ClassCount (idempotent). Runs inside the caller's transaction; progress(done, total) is
    called after each chunk of photos.

    Migration 0001 runs it on an index of schema 1 (atw/core/migrations), before any later
    revision: it must touch only columns that exist at schema 3 (tests/test_migrations.py
    upgrades a schema-1 index to head, and fails if it does not). So the sort_time copies
    (revision 0002) are written only where the column exists; 0002 fills them itself."""
    columns = {c["name"] for c in inspect(session.connection()).get_columns("photo_class")}
    with_sort = "sort_time" in columns
    has_path = exists().where(PhotoPath.photo_id == Photo.id)
    session.execute(
        update(Photo).values(listed=has_path).execution_options(synchronize_session=False)
    )
    session.execute(delete(PhotoClass))
    session.execute(delete(ClassCount))
    ids = list(session.scalars(select(Photo.id).order_by(Photo.id)))
    counts: Counter[tuple[str, str, int]] = Counter()
    for i in range(0, len(ids), REBUILD_CHUNK):
        part = ids[i : i + REBUILD_CHUNK]
        cols = [Photo.id, Photo.lat, Photo.lon, Photo.taken_at, Photo.listed]
        cols += [Photo.sort_time] if with_sort else []
        photos = session.execute(select(*cols).where(Photo.id.in_(part))).all()
        geo = [{"id": p.id, **geo_columns(p.lat, p.lon)} for p in photos]
        session.execute(update(Photo), geo)
        items: dict[tuple[int, str], list[tuple[str, float]]] = defaultdict(list)
        for pid, source, label, score in session.execute(
            select(Label.photo_id, Label.source, Label.label, Label.score).where(
                Label.photo_id.in_(part)
            )
        ):
            items[(pid, source)].append((label, score))
        for pid, label, score in session.execute(
            select(Detection.photo_id, Detection.label, Detection.score).where(
                Detection.photo_id.in_(part)
            )
        ):
            items[(pid, COCO)].append((label, score))
        taken = {p.id: p.taken_at for p in photos if p.listed}
        order = {p.id: p.sort_time for p in photos} if with_sort else {}
        rows = [
            row
            for (pid, source), its in sorted(items.items())
            if pid in taken
            for row in photo_class_rows(pid, taken[pid], source, its, order.get(pid))
        ]
        if not with_sort:
            for row in rows:
                del row["sort_time"]
        if rows:
            session.execute(insert(PhotoClass), rows)
        counts.update(count_deltas(rows))
        if progress is not None:
            progress(min(i + REBUILD_CHUNK, len(ids)), len(ids))
    if counts:
        session.execute(
            insert(ClassCount),
            [
                {"source": s, "label": lb, "bucket": b, "photos": n}
                for (s, lb, b), n in sorted(counts.items())
            ],
        )
