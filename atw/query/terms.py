"""The class terms of a filter (which sources hold each class at the threshold, how many photos)
and the SQL conditions shared by every plan: scores, the ClassCount grid, folders."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from atw.core import dialect
from atw.core.derived import COCO, TOP_SCORES, bucket
from atw.core.schema import ClassCount, Detection, PhotoPath
from atw.query.filters import PhotoFilter

ALL_SOURCES = ("imagenet", COCO)


@dataclass(frozen=True)
class Term:
    """One requested class, the sources where listed photos have it at the threshold's bucket
    (from ClassCount), how many such photos, and how many summary rows its index range holds
    (any score): the sizes that choose the driver and the strategy."""

    label: str
    sources: tuple[str, ...]
    photos: int
    rows: int = 0


def allowed_sources(flt: PhotoFilter) -> tuple[str, ...]:
    if flt.min_count > 1:
        return (COCO,)  # only COCO boxes can be counted
    return ALL_SOURCES if flt.source == "any" else (flt.source,)


def class_terms(session: Session, flt: PhotoFilter) -> list[Term]:
    """The requested classes with the sources where they occur at the threshold (ClassCount:
    exact, so a source without any such photo can be left out of the SQL)."""
    lo = bucket(flt.min_score) if flt.min_score is not None else 0
    above = func.sum(case((ClassCount.bucket >= lo, ClassCount.photos), else_=0))
    rows = session.execute(
        select(
            ClassCount.label,
            ClassCount.source,
            above.label("photos"),
            func.sum(ClassCount.photos).label("rows"),
        )
        .where(ClassCount.label.in_(flt.classes), ClassCount.source.in_(allowed_sources(flt)))
        .group_by(ClassCount.label, ClassCount.source)
        .having(above > 0)
    ).all()
    found: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    for r in rows:
        found[r.label][r.source] = (int(r.photos), int(r.rows))
    return [
        Term(
            c,
            tuple(sorted(found[c])),
            sum(p for p, _ in found[c].values()),
            sum(n for _, n in found[c].values()),
        )
        for c in flt.classes
    ]


def score_conds(pc: Any, t: float | None, k: int) -> list[ColumnElement[bool]]:
    """A summary row counts when its best score ≥ t, or for k objects its k-th best ≥ t
    (k > 5: the k-th is not stored, the photo's boxes are counted)."""
    if k <= 1:
        return [] if t is None else [pc.score >= t]
    floor = 0.0 if t is None else t
    if k <= TOP_SCORES:
        return [pc.source == COCO, getattr(pc, f"s{k}") >= floor]
    boxes = (
        select(func.count())
        .where(
            # taken_at is copied to both (it never changes): with it the detection label
            # index finds this photo's boxes directly.
            Detection.label == pc.label,
            Detection.taken_at.is_not_distinct_from(pc.taken_at),
            Detection.photo_id == pc.photo_id,
            Detection.score >= floor,
        )
        .scalar_subquery()
    )
    return [pc.source == COCO, pc.s5 >= floor, boxes >= k]


def on_grid(t: float | None) -> bool:
    """True when t is None or a multiple of 0.01 (the ClassCount buckets)."""
    return t is None or math.isclose(t * 100, round(t * 100), abs_tol=1e-9)


def grid_bucket(t: float | None) -> int:
    return 0 if t is None else round(t * 100)


def under_folder(folder: str, dialect_name: str) -> Select[Any]:
    """Photo ids with a path under folder: the exact, case-sensitive prefix test of
    atw.core.dialect.path_under (the one used for index roots too)."""
    return select(PhotoPath.photo_id).where(
        dialect.path_under(PhotoPath.path, folder, dialect_name)
    )
