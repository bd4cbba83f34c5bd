"""Plain rows of many photos at once, for tables (the notebook API's DataFrames): every id of a
filter in its order, streamed a chunk at a time; for a chunk of ids, the photo columns with its
first path and top labels, its labels, its boxes: one statement each, tuples in the order of the
ids given, no ORM object per row. No Flask.

The ids come from the filter's own plan (atw.query.plan.Query.ordered, as the pages' and the
API's), so a table holds exactly the photos the API lists for the same filter, in its order."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from atw.core import gazetteer
from atw.core.fspath import printable
from atw.core.schema import Detection, Label, Photo, PhotoPath
from atw.query.filters import PhotoFilter
from atw.query.plan import Query

# The photo columns a table shows, in its order (atw.core.schema says what each means). Those
# the schema lacks are left out (photo_columns), so columns of a later revision appear with it.
PHOTO_COLUMNS = (
    "id",
    "taken_at",
    "taken_at_utc",
    "utc_offset",
    "offset_source",
    "time_zone",
    "time_estimated",
    "lat",
    "lon",
    "altitude",
    "country_code",
    "region",
    "place",
    "place_km",
    "at_sea",
    "near",
    "camera_make",
    "camera_model",
    "width",
    "height",
    "orientation",
    "format",
    "bytes",
    "source",
    "damaged",
    "sha256",
)
# Added after the stored columns: the country's name (from country_code), the first path still
# on disk (else the first missing one) and whether every path is missing, the best label and
# its score, the distinct COCO classes boxed (best box first, comma-separated) and their boxes.
PHOTO_EXTRA = ("country", "path", "missing", "top_label", "top_score", "objects", "boxes")
ALL_ROWS = 2**62  # "as many rows as there are"
LABEL_COLUMNS = ("photo_id", "source", "label", "score", "model", "weights_id")
DETECTION_COLUMNS = (
    "photo_id",
    "source",
    "label",
    "score",
    "x0",
    "y0",
    "x1",
    "y1",
    "model",
    "weights_id",
)


@dataclass(frozen=True)
class Rows:
    """A table: its column names and its rows (tuples in that order)."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def ids_in_order(session: Session, flt: PhotoFilter, chunk: int = 2000) -> Iterator[list[int]]:
    """Every id of the filter in its order (the pages' ORDER BY, ties by id), `chunk` at a time,
    from one statement whose rows are streamed. search.iter_ids runs one page statement per
    chunk, which re-reads (or, without an index for the order, re-sorts) the rows before each
    chunk: right for a page, quadratic for a whole table."""
    q = Query(session, flt)
    # An "all of these classes" page is planned for the rows it needs: all of them here.
    stmt = q.ordered(0, ALL_ROWS)
    result = session.connection().execution_options(yield_per=chunk).execute(stmt)
    for part in result.partitions(chunk):
        yield [r.id for r in part]


def photo_columns() -> tuple[str, ...]:
    """PHOTO_COLUMNS that the schema has, then PHOTO_EXTRA (country only with country_code)."""
    stored = tuple(c for c in PHOTO_COLUMNS if c in Photo.__table__.c)
    extra = tuple(c for c in PHOTO_EXTRA if c != "country" or "country_code" in stored)
    return stored + extra


def photo_rows(session: Session, ids: Sequence[int]) -> Rows:
    """One row per photo (photo_columns()), in the order of ids; unknown ids are left out."""
    columns = photo_columns()
    stored = [c for c in columns if c in Photo.__table__.c]
    if not ids:
        return Rows(columns, [])
    conn = session.connection()  # Core rows: no ORM bookkeeping per row
    photo = Photo.__table__
    found = {
        r[0]: r
        for r in conn.execute(select(*(photo.c[c] for c in stored)).where(photo.c.id.in_(ids)))
    }
    paths = _first_paths(conn, ids)
    top = _top_labels(conn, ids)
    objects = _objects(conn, ids)
    code_at = stored.index("country_code") if "country_code" in stored else None
    countries: dict[str, str | None] = {}
    rows = []
    for pid in ids:
        r = found.get(pid)
        if r is None:
            continue
        extra: list[Any] = []
        if code_at is not None:
            code = r[code_at]
            if code and code not in countries:
                countries[code] = gazetteer.country_name(code)
            extra.append(countries[code] if code else None)
        path, missing = paths.get(pid, (None, True))
        label, score = top.get(pid, (None, None))
        names, boxes = objects.get(pid, ((), 0))
        extra += [path, missing, label, score, ", ".join(names) or None, boxes]
        rows.append((*r, *extra))
    return Rows(columns, rows)


def label_rows(session: Session, ids: Sequence[int]) -> Rows:
    """Every stored label of these photos (LABEL_COLUMNS): photos in the order of ids, each
    photo's labels best first."""
    if not ids:
        return Rows(LABEL_COLUMNS, [])
    q = (
        select(
            Label.photo_id, Label.source, Label.label, Label.score, Label.model, Label.weights_id
        )
        .where(Label.photo_id.in_(ids))
        .order_by(Label.score.desc(), Label.label)
    )
    return Rows(LABEL_COLUMNS, _in_order(ids, session.connection().execute(q)))


def detection_rows(session: Session, ids: Sequence[int]) -> Rows:
    """Every stored box of these photos (DETECTION_COLUMNS; source "coco", the box's corners
    as fractions of the upright image's width and height): photos in the order of ids, each
    photo's boxes best first."""
    if not ids:
        return Rows(DETECTION_COLUMNS, [])
    q = (
        select(
            Detection.photo_id,
            Detection.label,
            Detection.score,
            Detection.x0,
            Detection.y0,
            Detection.x1,
            Detection.y1,
            Detection.model,
            Detection.weights_id,
        )
        .where(Detection.photo_id.in_(ids))
        .order_by(Detection.score.desc(), Detection.label, Detection.id)
    )
    rows = ((r[0], "coco", *r[1:]) for r in session.connection().execute(q))
    return Rows(DETECTION_COLUMNS, _in_order(ids, rows))


def _in_order(ids: Sequence[int], rows: Any) -> list[tuple[Any, ...]]:
    """Rows (photo id first) regrouped by photo in the order of ids, each photo's rows in the
    order they came."""
    by_photo: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for r in rows:
        by_photo[r[0]].append(tuple(r))
    out: list[tuple[Any, ...]] = []
    for pid in ids:
        out += by_photo.get(pid, ())
    return out


def _first_paths(conn: Connection, ids: Sequence[int]) -> dict[int, tuple[str, bool]]:
    """{photo id: (path, missing)}: its first path still on disk (by path), else its first
    missing path with missing True."""
    out: dict[int, tuple[str, bool]] = {}
    q = (
        select(PhotoPath.photo_id, PhotoPath.path, PhotoPath.missing_since)
        .where(PhotoPath.photo_id.in_(ids))
        .order_by(PhotoPath.missing_since.is_not(None), PhotoPath.path)
    )
    for pid, path, gone in conn.execute(q):
        if pid not in out:
            out[pid] = (printable(path), gone is not None)
    return out


def _top_labels(conn: Connection, ids: Sequence[int]) -> dict[int, tuple[str, float]]:
    """{photo id: (label, score)} of each photo's best stored label (ranked in SQL: one row
    per photo comes back)."""
    rank = func.row_number().over(
        partition_by=Label.photo_id, order_by=(Label.score.desc(), Label.label)
    )
    ranked = (
        select(Label.photo_id, Label.label, Label.score, rank.label("rank"))
        .where(Label.photo_id.in_(ids))
        .subquery()
    )
    q = select(ranked.c.photo_id, ranked.c.label, ranked.c.score).where(ranked.c.rank == 1)
    return {pid: (label, score) for pid, label, score in conn.execute(q)}


def _objects(conn: Connection, ids: Sequence[int]) -> dict[int, tuple[tuple[str, ...], int]]:
    """{photo id: (its distinct COCO classes, best box first; how many boxes)}."""
    names: dict[int, dict[str, None]] = defaultdict(dict)
    boxes: dict[int, int] = defaultdict(int)
    q = (
        select(Detection.photo_id, Detection.label)
        .where(Detection.photo_id.in_(ids))
        .order_by(Detection.score.desc(), Detection.label)
    )
    for pid, label in conn.execute(q):
        names[pid][label] = None
        boxes[pid] += 1
    return {pid: (tuple(names[pid]), boxes[pid]) for pid in names}
