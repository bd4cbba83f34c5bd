"""A search's total from the rows atw.query.class_memory holds, where SQL would read many rows to
count it: a filter that is only a radius and maybe dates (the held positions), class words
(classes and groups) at min_count 1 (the held rows, class by class), or both.

Why: the total of two frequent classes with `all` (a 40 % class and a 3 % one at a million
photos) is the intersection of ranges of ~400,000 and ~30,000 rows: a merge or a check per row
in SQL, 50–170 ms by machine; the ~100,000 photos within 50 km of home are a scan of their
bounding box. In the held arrays each is a few milliseconds: a class's photos at the threshold
are one slice of the rows held class by class, marked in an array of the photos (a group's:
its members' slices, atw.query.group_memory.photos); a radius's are photo_memory's test (with
dates: a group within a year and 50 km of home, ~85 ms in SQL, its photo_group range joined to
each photo). The page itself stays SQL's (it stops after its rows).

Exact: the rows are used only at the index's summary_version (class_memory.current); a word
matches a photo with a row of any of its terms (a class in each of its sources) at score ≥ t,
as atw.query.terms.score_conds tests the stored row, or a group's score computed as
photo_group stores it (min_count 1); `all`: every word, `any`: one. A count of boxes, or a
photo condition other than a radius and dates: None (SQL counts)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from atw.query import class_memory, group_memory, photo_memory
from atw.query.filters import PhotoFilter, photo_conditions_empty


def total(session: Session, q: Any) -> int | None:
    """The number of photos the filter of q (an atw.query.plan.Query) matches, from the held
    rows; None when they do not answer it (module docstring)."""
    flt = q.flt
    if flt.classes and not _plain_words(q):
        return None
    circle = _circle(session, flt)
    if circle is not None:  # a radius (and dates): its held photos
        rows, inside = circle
        if not flt.classes:
            return len(inside)
    elif flt.classes and photo_conditions_empty(flt):  # class words alone
        rows, inside = class_memory.current(session), None
    else:
        return None
    if rows is None or rows.by_class is None:
        return None
    n, t = len(rows.by_class.ids), flt.min_score
    hits = np.zeros(n, dtype=np.uint8)  # per photo: the words it matches
    for word in q.words:
        mark = np.zeros(n, dtype=bool)
        for term in word:
            if term.grp is not None and term.sources:  # ("group",): it has photos at t
                mark[group_memory.photos(rows, term.grp, flt.source, t)] = True
            elif term.grp is None:
                for source in term.sources:
                    mark[rows.photos((source, term.label), t)] = True
        hits += mark
    found = hits == len(q.words) if flt.match == "all" else hits > 0
    if inside is not None:  # and in the circle (and dates): the held photos' ordinals
        at = rows.slot[inside[inside < len(rows.slot)]]
        keep = np.zeros(n, dtype=bool)
        keep[at[at >= 0]] = True
        found &= keep
    return int(np.count_nonzero(found))


def place_photos(session: Session, flt: PhotoFilter) -> int | None:
    """The number of photos of the filter without its class words, when that is a radius (and
    dates) the held positions answer (the planner's size of a place: plan_photo.place_photos);
    else None."""
    circle = _circle(session, flt)
    return None if circle is None else len(circle[1])


def _circle(session: Session, flt: PhotoFilter) -> tuple[class_memory.Rows, np.ndarray] | None:
    """(the held rows, the ids of the filter's photos without its class words) when those are a
    radius (and dates) the held positions answer; else None."""
    place = _place(flt)
    if not photo_memory.answers(replace(place, start=None, end=None)):
        return None  # (not a radius: no need to ask for the rows)
    rows = class_memory.current(session)
    if rows is None or rows.positions is None or not rows.positions.answers(place):
        return None
    return rows, rows.positions.within(place)


def _place(flt: PhotoFilter) -> PhotoFilter:
    """The filter without its class words (and so without a count of boxes)."""
    return replace(flt, classes=(), min_count=1)


def _plain_words(q: Any) -> bool:
    """Class words at min_count 1 (their number fits the marks)."""
    flt = q.flt
    if not flt.classes or flt.min_count != 1:
        return False
    return q.kind != "none" and 0 < len(q.words) <= 250  # (hits: uint8)
