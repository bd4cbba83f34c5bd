"""The class terms of a filter (each word's classes and groups; which sources hold each class at
the threshold, how many photos) and the SQL conditions shared by every plan: scores, the
ClassCount grid, folders."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from atw.core import dialect, group_rows, vocabulary
from atw.core.derived import COCO, TOP_SCORES, bucket
from atw.core.group_schema import GroupCount
from atw.core.schema import ClassCount, Detection, PhotoPath
from atw.query import groups, words
from atw.query.filters import PhotoFilter

ALL_SOURCES = ("imagenet", COCO)


@dataclass(frozen=True)
class Term:
    """One thing a class word looks for, with its sizes: a class (label) in the sources where
    listed photos have it at the threshold's bucket (from ClassCount), or a stored group (grp,
    label = the entry key; sources ("group",) when it has photos at the threshold, from
    GroupCount). photos: how many such photos; rows: how many rows its index range holds (any
    score): the sizes that choose the driver and the strategy. word: which filter word it is
    for (a word's terms are alternatives: "kite" the bird or the toy)."""

    label: str
    sources: tuple[str, ...]
    photos: int
    rows: int = 0
    grp: int | None = None
    word: int = 0


GROUP = "group"  # Term.sources of a group with photos at the threshold


def allowed_sources(flt: PhotoFilter) -> tuple[str, ...]:
    if flt.min_count > 1:
        return (COCO,)  # only COCO boxes can be counted
    return ALL_SOURCES if flt.source == "any" else (flt.source,)


def class_terms(session: Session, flt: PhotoFilter) -> list[Term]:
    """The terms of the filter's class words (atw.query.words), in word order: classes with the
    sources where they occur at the threshold (ClassCount: exact, so a source without any such
    photo can be left out of the SQL), groups with their photos (GroupCount, or while the group
    rows are stale an upper bound from their members' ClassCount at any score)."""
    lo = bucket(flt.min_score) if flt.min_score is not None else 0
    pairs = {
        (a.label, a.source): i
        for i, w in enumerate(flt.classes)
        for a in words.atoms(w)
        if a.grp is None and a.source in allowed_sources(flt)
    }
    found = _class_counts(session, {lb for lb, _ in pairs}, lo, allowed_sources(flt))
    fresh = group_rows.current(session)
    out: list[Term] = []
    for i, w in enumerate(flt.classes):
        by_label: dict[str, list[str]] = defaultdict(list)
        for a in words.atoms(w):
            if a.grp is not None:
                out.append(_group_term(session, flt, a.grp, i, lo, fresh))
            elif a.source in allowed_sources(flt) and a.label is not None:
                by_label[a.label].append(a.source)
        for label, sources in by_label.items():
            got = {s: found[(label, s)] for s in sources if (label, s) in found}
            out.append(
                Term(
                    label,
                    tuple(sorted(s for s, (p, _) in got.items() if p > 0)),
                    sum(p for p, _ in got.values()),
                    sum(n for _, n in got.values()),
                    word=i,
                )
            )
    return out


def word_terms(terms: list[Term], flt: PhotoFilter) -> list[list[Term]]:
    """The terms of each class word, in word order (a word matches when one of its terms does).
    Under `all`, a word another word implies is left out: a word of groups is implied by a word
    whose every class, in each source it is looked for in, is a member of one of those groups,
    because a group's score for a photo is at least each member's (atw.core.group_scores: any =
    max(inet, c1); inet the member probabilities summed, c_k the k-th best member box; k > 5
    counts the member boxes), in exact 1/UNITS of the 4-decimal scores. So "cocker spaniel and
    dog" finds the photos of "cocker spaniel", as one class (its count kept: ClassCount)
    instead of checking 43,000 photos in the dog group at a million photos."""
    words = [[t for t in terms if t.word == i] for i in range(len(flt.classes))]
    if flt.match != "all":
        return words
    of_class = group_rows.stored_groups().of_class

    def implies(a: list[Term], grps: set[int]) -> bool:
        live = [t for t in a if t.sources]
        return bool(live) and all(
            t.grp is None and all(grps & set(of_class.get((s, t.label), ())) for s in t.sources)
            for t in live
        )

    kept = []
    for i, word in enumerate(words):
        grps = {t.grp for t in word if t.grp is not None}
        if not grps or not any(implies(a, grps) for j, a in enumerate(words) if j != i):
            kept.append(word)
    return kept


def _class_counts(
    session: Session, labels: set[str], lo: int, sources: tuple[str, ...]
) -> dict[tuple[str, str], tuple[int, int]]:
    """{(label, source): (photos at bucket ≥ lo, photos at any score)} from ClassCount."""
    if not labels:
        return {}
    above = func.sum(case((ClassCount.bucket >= lo, ClassCount.photos), else_=0))
    rows = session.execute(
        select(
            ClassCount.label,
            ClassCount.source,
            above.label("photos"),
            func.sum(ClassCount.photos).label("rows"),
        )
        .where(ClassCount.label.in_(labels), ClassCount.source.in_(sources))
        .group_by(ClassCount.label, ClassCount.source)
    ).all()
    return {(r.label, r.source): (int(r.photos), int(r.rows)) for r in rows}


def _group_term(
    session: Session, flt: PhotoFilter, grp: int, word: int, lo: int, fresh: bool
) -> Term:
    key = group_rows.stored_groups().keys[grp][0]
    if fresh:  # one look at GroupCount: at the threshold in the counted source, and in all
        source = groups.count_source(flt)
        at = (GroupCount.source == source) & (GroupCount.bucket >= lo)
        q = select(
            func.coalesce(func.sum(case((at, GroupCount.photos), else_=0)), 0),
            func.coalesce(func.sum(case((GroupCount.source == "any", GroupCount.photos))), 0),
        ).where(GroupCount.grp == grp)
        photos, rows = (int(v) for v in session.execute(q).one())
    else:  # stale rows: the members' photos at any score (an upper bound; never too few)
        members = vocabulary.load().members(key)
        labels = {lb for s in allowed_sources(flt) for lb in members[s]}
        counts = _class_counts(session, labels, 0, allowed_sources(flt))
        photos = rows = sum(p for p, _ in counts.values())
    return Term(key, (GROUP,) if photos > 0 else (), photos, rows, grp=grp, word=word)


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


def date_conds(flt: PhotoFilter, col: Any) -> list[ColumnElement[bool]]:
    """Inclusive local dates: start 00:00 ≤ col < the day after end."""
    out = []
    if flt.start:
        out.append(col >= datetime.combine(flt.start, time.min))
    if flt.end:
        out.append(col < datetime.combine(flt.end + timedelta(days=1), time.min))
    return out


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
