"""A search's total from the rows atw.query.class_memory holds, where SQL would read many rows to
count it: a filter that is only a radius (the held positions), or only class words (classes
and groups) at min_count 1 (the held rows, class by class).

Why: the total of two frequent classes with `all` (a 40 % class and a 3 % one at a million
photos) is the intersection of ranges of ~400,000 and ~30,000 rows: a merge or a check per row
in SQL, 50–170 ms by machine; the ~100,000 photos within 50 km of home are a scan of their
bounding box. In the held arrays each is a few milliseconds: a class's photos at the threshold
are one slice of the rows held class by class, marked in an array of the photos (a group's:
its members' slices, atw.query.group_memory.photos); a radius's are photo_memory's test. The
page itself stays SQL's (it stops after its rows).

Exact: the rows are used only at the index's summary_version (class_memory.current); a word
matches a photo with a row of any of its terms (a class in each of its sources) at score ≥ t,
as atw.query.terms.score_conds tests the stored row, or a group's score computed as
photo_group stores it (min_count 1); `all`: every word, `any`: one. A count of boxes, dates or
any photo condition beside the classes: None (SQL counts)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from atw.query import class_memory, group_memory, photo_memory
from atw.query.filters import photo_conditions_empty


def total(session: Session, q: Any) -> int | None:
    """The number of photos the filter of q (an atw.query.plan.Query) matches, from the held
    rows; None when they do not answer it (module docstring)."""
    flt = q.flt
    radius = photo_memory.answers(flt)
    if not radius and not _plain_words(q):
        return None
    rows = class_memory.current(session)
    if rows is None:
        return None
    if radius:
        return None if rows.positions is None else len(rows.positions.within(flt))
    if rows.by_class is None:
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
    return int(np.count_nonzero(hits == len(q.words) if flt.match == "all" else hits))


def _plain_words(q: Any) -> bool:
    """Class words and nothing else: no dates, photo condition or box count."""
    flt = q.flt
    if not flt.classes or flt.min_count != 1 or not photo_conditions_empty(flt):
        return False
    return q.kind != "none" and 0 < len(q.words) <= 250  # (hits: uint8)
