"""Group terms in SQL: the score conditions on photo_group rows, a photo's group row by primary
key, and the exact fallback over photo_class used while the group rows are stale.

A group's score for a photo (atw.core.group_scores) is stored in photo_group in 1/UNITS:
score (any source) = max(inet, c1); source=imagenet reads inet (the member probabilities
summed, capped at 1), source=coco c1 (the best member box); "at least k objects ≥ t" is
c_k ≥ t for k ≤ 5, and beyond 5 the photo's member detections are counted."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Numeric,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.orm import aliased

from atw.core import vocabulary
from atw.core.group_rows import BOXES, COCO, IMAGENET, NO_TIME, stored_groups, threshold
from atw.core.group_schema import PhotoGroup
from atw.core.schema import Detection, PhotoClass
from atw.query.filters import PhotoFilter


def count_source(flt: PhotoFilter) -> str:
    """The GroupCount source whose buckets count a group under this filter (for min_count > 1
    an upper bound: the photos with a member box ≥ t)."""
    if flt.min_count > 1:
        return COCO
    return "any" if flt.source == "any" else flt.source


def score_conds(pg: Any, flt: PhotoFilter, grp: int) -> list[ColumnElement[bool]]:
    """The photo_group row (alias pg) of group grp holds at the filter's source, min_score and
    min_count (module docstring)."""
    t = None if flt.min_score is None else threshold(flt.min_score)
    k = flt.min_count
    if k > 1:  # only COCO boxes can be counted (the filter refuses source=imagenet)
        floor = t or 0
        if k <= BOXES:
            return [getattr(pg, f"c{k}") >= floor]
        boxes = (
            select(func.count())
            .where(
                Detection.photo_id == pg.photo_id,
                Detection.label.in_(stored_groups().coco[grp]),
                Detection.score >= (flt.min_score or 0.0),
            )
            .scalar_subquery()
        )
        return [pg.c5 >= floor, boxes >= k]
    column = {"any": pg.score, IMAGENET: pg.inet, COCO: pg.c1}[flt.source]
    if t is None:
        return [] if flt.source == "any" else [column.is_not(None)]
    return [column >= t]


def row_key(taken: Any) -> Any:
    """The photo_group taken_at of a photo whose capture time is `taken` (NULL → NO_TIME)."""
    return func.coalesce(taken, NO_TIME)


def output_time(pg: Any) -> Any:
    """pg.taken_at as the photo's capture time again (NO_TIME → NULL), for results mixed with
    other tables' rows or read by the caller."""
    return case((pg.taken_at == NO_TIME, null()), else_=pg.taken_at)


def has_group(
    photo_id: Any, taken_key: Any, flt: PhotoFilter, grp: int, name: str
) -> ColumnElement[bool]:
    """EXISTS: the photo (id, photo_group taken_at) has group grp under the filter: one seek by
    photo_group's primary key."""
    pg = aliased(PhotoGroup, name=name)
    return exists().where(
        pg.grp == grp,
        pg.taken_at == taken_key,
        pg.photo_id == photo_id,
        *score_conds(pg, flt, grp),
    )


# --- stale rows: the same semantics from photo_class -------------------------------------


def has_group_stale(photo_id: Any, flt: PhotoFilter, key: str, name: str) -> ColumnElement[bool]:
    """EXISTS: the photo has the group with this entry key under the filter, computed from its
    photo_class rows (the members' rows of one photo, aggregated): exact, no photo_group row
    needed, one photo at a time."""
    members = vocabulary.load().members(key)
    pc = aliased(PhotoClass, name=name)
    sources = [s for s in (IMAGENET, COCO) if flt.source in ("any", s) and members[s]]
    if flt.min_count > 1:
        sources = [s for s in sources if s == COCO]
    if not sources:
        return false()
    where = or_(*(and_(pc.source == s, pc.label.in_(members[s])) for s in sources))
    t = flt.min_score
    k = flt.min_count
    if k > 1:
        floor = t or 0.0
        cols = (pc.score, pc.s2, pc.s3, pc.s4, pc.s5)
        hits = sum((case((c >= floor, 1), else_=0) for c in cols), start=literal(0))
        cond = func.sum(hits) >= min(k, BOXES)  # beyond 5 boxes, the detections decide
        if k > BOXES:
            boxes = (
                select(func.count())
                .where(
                    Detection.photo_id == photo_id,
                    Detection.label.in_(members[COCO]),
                    Detection.score >= floor,
                )
                .scalar_subquery()
            )
            cond = and_(cond, boxes >= k)
    elif t is None:
        cond = func.count() > 0
    else:
        inet = func.sum(case((pc.source == IMAGENET, pc.score), else_=None))
        best = func.max(case((pc.source == COCO, pc.score), else_=None))
        parts = []
        if IMAGENET in sources:  # the sum to 4 decimals, like the stored integer units
            parts.append(func.round(cast(inet, Numeric(12, 4)), 4) >= t)
        if COCO in sources:
            parts.append(best >= t)
        cond = or_(*parts)
    return exists(
        select(pc.photo_id).where(pc.photo_id == photo_id, where).group_by(pc.photo_id).having(cond)
    )
