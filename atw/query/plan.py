"""The SQL of a PhotoFilter: which index drives it, the id list, its order and its count.

Strategies (measured at 1M photos, see bench/query_latency.py and ../shared/PERFORMANCE.md):
- "photo": `photo` drives: the (taken_at, id, listed, …) index for dates and order, or the
  (lat, lon, geo_x/y/z, listed, taken_at, id) covering index for a radius (bounding box, then
  the exact great-circle test geo·centre ≥ cos(r/R), plain arithmetic). Classes, if any, are
  EXISTS look-ups per photo: chosen for a radius without dates when fewer photos lie in the
  circle than have the classes.
- "single": one class in one source, driven by the `photo_class` index (label, source,
  taken_at, photo_id, score, …): one row per photo, newest first; photo conditions join
  `photo` by id.
- "union": any of several classes (or one class found in both sources): one branch per
  (class, source), merged in date order for a page, in id order for the count.
- "intersect": all of several classes, nothing else but scores: a page walks the rarest class
  in date order checking the others (or, when they rarely meet, merges and sorts); the count
  merges the classes' id-ordered ranges (the primary key (label, source, photo_id)) or probes
  the rarest one's rows in id order, whichever reads fewer rows.
- "probe": all of several classes plus dates or photo conditions: driven by the rarest class
  (ClassCount), the others checked by primary key.
- "none": a class no listed photo has (in the allowed sources) under `all`, or no class found.
A class word may name a WordNet group or category (atw.query.words): its branch reads one range
of photo_group's ix_photo_group_sort (grp, sort_time, photo_id, …) as a class reads photo_class;
the checks of the other words look a group up by its primary key (grp, taken_at, photo_id).
While the group rows are stale, every photo is checked from its class rows ("photo",
atw.query.groups).
Every statement returns one row per photo with the columns id, taken_at (the local wall
clock), sort_time (the order's key: the capture instant where known, atw.query.conditions)
and dot with a centre; pages and counts are built from the same conditions, so a total and its
ids agree."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    exists,
    false,
    func,
    intersect,
    literal_column,
    or_,
    select,
    true,
    union,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import Select

from atw.core import geo, group_rows
from atw.core.dialect import keep_order
from atw.core.group_rows import NO_TIME
from atw.core.group_schema import PhotoGroup
from atw.core.schema import ClassCount, Photo, PhotoClass
from atw.query import conditions, day_counts, groups, plan_multi, plan_photo, trip_store
from atw.query.filters import PhotoFilter, photo_conditions_empty
from atw.query.held_count import total as held_total
from atw.query.terms import (
    Term,
    class_terms,
    grid_bucket,
    on_grid,
    score_conds,
    word_terms,
)

Spec = tuple[Any, ...]  # a branch to build: see Query._plan

# One look-up by key costs about this many rows of a range scan (measured at 1M photos:
# ≈0.9 µs vs ≈0.1–0.14 µs per row).
PROBE_COST = 7
# With a place, consider driving by it (Query._place_first) when the classes have more photos
# than this (within the dates): a photo look-up per class row then costs more than a count.
PLACE_FIRST_ABOVE = 2_000
# A page of "all of these classes" is found by checking rows of the rarest class one by one
# (≈1 µs each at 1M photos) when that takes at most this many checks, else by merging id lists.
PROBES_PER_PAGE = 20_000


class Query:
    """The SQL of one filter: ids() (id, taken_at, sort_time[, dot]), ordered(), count(),
    fast_count(). Every plan orders by the capture instant (sort_time and its copies)."""

    def __init__(self, session: Session, flt: PhotoFilter) -> None:
        flt = trip_store.narrow(session, flt)  # a trip is read as its days: dates below
        self.flt, self.session = flt, session
        self.centre = geo.unit_vector(flt.lat, flt.lon)
        self.dialect = session.get_bind().dialect.name
        self.terms = class_terms(session, flt) if flt.classes else []
        self.words = word_terms(self.terms, flt)  # each word's terms (implied words dropped)
        self.terms = [t for w in self.words for t in w]
        self.fresh = not any(t.grp is not None for t in self.terms) or group_rows.current(session)
        self.photo_conds = conditions.photo_conds(flt, self.centre, self.dialect)
        self.kind, self.specs = self._plan()
        by_id = plan_photo.by_id(self, count=False)  # a one-pass page reads every class row
        self.branches = [self._branch(spec, by_id) for spec in self.specs]

    # --- the statements ---

    def ids(self) -> Any:
        """SELECT id, taken_at, sort_time[, dot] of every matching photo, one row per photo."""
        branches = self.branches
        if self.kind == "union":
            return union(*branches)
        if self.kind == "intersect":
            return intersect(*branches)
        return branches[0]

    def count(self) -> Select[Any]:
        if (multi := plan_multi.count(self)) is not None:  # "all" of words: a merge, or …
            return multi
        if self.kind == "union":
            return plan_multi.union_count(self)
        if self.kind == "intersect" and self._probe_is_cheaper():
            # The rarest class's rows in id order (the primary key's order), each checked in
            # the other classes: the look-ups then walk their ranges forwards (cache-friendly,
            # twice as fast as in date order).
            driver, others = self._driver()
            branches = [
                self._class_branch(driver.label, (s,), [[t] for t in others])
                for s in driver.sources
            ]
            merged = (union(*branches) if len(branches) > 1 else branches[0]).order_by(
                literal_column("id")
            )
            ordered = keep_order(merged, self.dialect)
            return select(func.count()).select_from(ordered.subquery())
        if self.kind == "intersect":
            merged = self.ids().order_by(literal_column("id"))  # merge the id-ordered branches
            return select(func.count()).select_from(merged.subquery())
        if plan_photo.by_id(self, count=True):  # every class row read: in photo id order
            return _count_of(self._branch(self.specs[0], by_id=True))
        return _count_of(self.branches[0])

    def _driver(self) -> tuple[Term, list[Term]]:
        """The rarest class at the threshold, and the others."""
        driver = min(self.terms, key=lambda t: (t.photos, len(t.sources)))
        return driver, [t for t in self.terms if t is not driver]

    def _probe_is_cheaper(self) -> bool:
        """Counting "all": a merge reads every row of every class's index range; a probe reads
        the rarest class's range and checks each of its rows above the threshold in the other
        classes (one index seek each, ≈ PROBE_COST range steps)."""
        driver, others = self._driver()
        merge = sum(t.rows for t in self.terms)
        return driver.rows + PROBE_COST * driver.photos * len(others) < merge

    def ordered(self, offset: int = 0, limit: int = 100) -> Select[Any]:
        """The matches in the filter's order (the caller adds LIMIT/OFFSET). For "intersect"
        the statement may carry a `total` column (the count, from the same merge)."""
        if (multi := plan_multi.page(self)) is not None:
            return multi
        if self.kind == "intersect":
            return self._intersect_page(offset + limit)
        return self._order(self.kind, self.branches)

    def _order(self, kind: str, branches: list[Select[Any]]) -> Select[Any]:
        if kind == "union":
            q: Any = union(*branches)
            id_col, key = literal_column("id"), literal_column("sort_time")
            dot = literal_column("dot") if self.centre else None
        else:
            q = branches[0]
            cols = {c.name: getattr(c, "element", c) for c in q.selected_columns}
            id_col, key, dot = cols["id"], cols["sort_time"], cols.get("dot")
        return q.order_by(*self.sort_keys(id_col, key, dot))

    def sort_keys(self, id_col: Any, key: Any, dot: Any) -> list[Any]:
        """The ORDER BY of the pages over these columns (key: the sort_time column;
        search.position numbers rows by it)."""
        if self.flt.sort == "nearest":
            assert dot is not None
            return [dot.desc().nulls_last(), id_col.desc()]
        key = plan_photo.order_key(self, key)  # PostgreSQL with a place: see there
        if self.flt.sort == "oldest":
            return [key.asc(), id_col.asc()]
        return [key.desc(), id_col.desc()]

    def _intersect_page(self, rows_needed: int) -> Select[Any]:
        """A page of "all of these classes". When the classes are likely to meet often, walk
        the rarest one in date order and check the others per row (stops after a page);
        otherwise merge the id lists, sort the result, and count it in the same pass."""
        driver, others = self._driver()
        hit_rate = math.prod(min(1.0, t.photos / max(1, self.listed_estimate)) for t in others)
        if hit_rate > 0 and rows_needed / hit_rate <= PROBES_PER_PAGE:
            branches = [
                self._class_branch(driver.label, (s,), [[t] for t in others])
                for s in driver.sources
            ]
            return self._order("union" if len(branches) > 1 else "probe", branches)
        merged = self.ids().order_by(literal_column("id"))
        sub = keep_order(merged, self.dialect).subquery()
        q = select(sub.c.id, sub.c.sort_time, func.count().over().label("total"))
        return q.order_by(*self.sort_keys(sub.c.id, sub.c.sort_time, None))

    def fast_count(self, session: Session) -> int | None:
        """The exact total without scanning the matches, when counts kept at write time give
        it: listed photos within dates (atw.query.day_counts), one class in one source at a
        threshold on the 0.01 grid (ClassCount), a radius or class words alone from the rows
        held in memory (atw.query.held_count). None otherwise."""
        flt = self.flt
        if self.kind == "photo" and not flt.classes and flt.radius_km is None:
            return day_counts.total(session, flt)  # only dates: photo_day_count
        plain = photo_conditions_empty(flt) and flt.start is None and flt.end is None
        if plain and self.kind == "single" and flt.min_count == 1 and on_grid(flt.min_score):
            if self.specs[0][0] == "group":  # one group: its term read GroupCount
                return int(self.specs[0][1].photos)
            ((label, source),) = self.pairs
            n = func.coalesce(func.sum(ClassCount.photos), 0)
            return session.scalar(
                select(n).where(
                    ClassCount.label == label,
                    ClassCount.source == source,
                    ClassCount.bucket >= grid_bucket(flt.min_score),
                )
            )
        return held_total(session, self)  # the rows held in memory, or None

    # --- planning ---

    def _plan(self) -> tuple[str, list[Spec]]:
        """The strategy and its branches, as specs: ("photo", nothing, classes, None),
        ("class", term, sources, other words) or ("group", term, None, other words)."""
        flt, terms, words = self.flt, self.terms, self.words
        self.pairs = [(t.label, s) for t in terms if t.grp is None for s in t.sources]
        if not flt.classes:
            return "photo", [("photo", False, False, None)]
        missing = flt.match == "all" and any(not any(t.sources for t in w) for w in words)
        if missing or not any(t.sources for t in terms):
            return "none", [("photo", True, False, None)]
        if not self.fresh or self._place_first():
            # Stale group rows: every photo is checked from its class rows (exact, slower).
            return "photo", [("photo", False, True, None)]
        if flt.match == "all" and len(words) > 1:
            plain = not self.photo_conds and self.centre is None
            simple = all(len(w) == 1 and w[0].grp is None for w in words)
            if simple and plain and flt.start is None and flt.end is None:
                # An estimate of the listed photos (ids are dense), to guess how often the
                # classes meet: one index seek.
                self.listed_estimate = self.session.scalar(select(func.max(Photo.id))) or 0
                return "intersect", [("class", t, t.sources, []) for t in terms]
            driver = min(words, key=lambda w: (sum(t.photos for t in w), len(w)))
            others = [w for w in words if w is not driver]
            specs = self._specs(driver, others)
            return ("probe" if len(specs) == 1 else "union"), specs
        specs = self._specs([t for t in terms if t.sources], [])
        return ("single" if len(specs) == 1 else "union"), specs

    def _specs(self, terms: list[Term], others: list[list[Term]]) -> list[Spec]:
        """One branch per class and source, one per group."""
        specs: list[Spec] = []
        for t in terms:
            if t.grp is not None and t.sources:
                specs.append(("group", t, None, others))
            specs += [("class", t, (s,), others) for s in t.sources if t.grp is None]
        return specs

    def _branch(self, spec: Spec, by_id: bool = False) -> Select[Any]:
        kind, a, b, others = spec
        if kind == "photo":
            return self._photo_branch(nothing=a, classes=b)
        if kind == "group":
            return self._group_branch(a, others)
        return self._class_branch(a.label, b, others, by_id)

    def _place_first(self) -> bool:
        """Drive by the place (a radius, or a country/region/place: their covering indexes),
        checking the classes per photo, when that reads fewer rows: each class row would cost
        a photo look-up, each photo of the place one class look-up. Counting the place reads
        only its index (≈10 ms for 100k photos), and only up to the classes' photos. With
        dates: the rows of the dates' share."""
        flt = self.flt
        if flt.radius_km is None and not (flt.country or flt.region or flt.place):
            return False
        sizes = [sum(t.photos for t in w if t.sources) for w in self.words]
        by_class = min(sizes) if flt.match == "all" else sum(sizes)
        share = plan_photo.date_share(self.session, flt) if flt.start or flt.end else 1
        by_class = round(by_class * share)
        if by_class <= PLACE_FIRST_ABOVE:
            return False
        self.place_photos = plan_photo.place_photos(self, by_class)  # (one_pass reads it too)
        return self.place_photos < by_class

    def _photo_branch(self, nothing: bool = False, classes: bool = False) -> Select[Any]:
        """Photos driven by `photo`'s own indexes; with classes=True the class conditions are
        EXISTS look-ups by the summary's primary key."""
        q = select(Photo.id.label("id"), Photo.taken_at.label("taken_at"))
        q = q.add_columns(Photo.sort_time.label("sort_time"))
        if self.centre:
            q = q.add_columns(self._dot().label("dot"))
        dates = self._date_conds(Photo.taken_at, plan_photo.window(self.flt, self.dialect, classes))
        conds = [Photo.listed == true(), *dates, *self.photo_conds]
        if classes:
            conds.append(self._classes_exist(Photo.id))
        return q.where(*conds, *([false()] if nothing else []))

    def _classes_exist(self, photo_id: Any) -> ColumnElement[bool]:
        """The filter's class condition for one photo, as EXISTS look-ups by primary key."""
        key = groups.row_key(Photo.taken_at)
        checks = [self._word_check(w, photo_id, key, f"x{i}") for i, w in enumerate(self.words)]
        return and_(*checks) if self.flt.match == "all" else or_(*checks)

    def _word_check(
        self, terms: list[Term], photo_id: Any, taken_key: Any, name: str
    ) -> ColumnElement[bool]:
        """EXISTS checks that a photo (id, its photo_group taken_at) has one of a word's terms:
        a class by photo_class's primary key, a group by photo_group's (or, while the group
        rows are stale, from the photo's class rows)."""
        flt, out = self.flt, []
        for j, term in enumerate(t for t in terms if t.sources):
            alias = f"{name}_{j}"
            if term.grp is None:
                pc = aliased(PhotoClass, name=f"pc{alias}")
                out.append(
                    exists().where(
                        pc.photo_id == photo_id,
                        pc.label == term.label,
                        pc.source.in_(term.sources),
                        *score_conds(pc, flt.min_score, flt.min_count),
                    )
                )
            elif self.fresh:
                out.append(groups.has_group(photo_id, taken_key, flt, term.grp, f"pg{alias}"))
            else:
                out.append(groups.has_group_stale(photo_id, flt, term.label, f"pf{alias}"))
        return or_(*out) if out else false()

    def _class_branch(
        self,
        label: str,
        sources: tuple[str, ...],
        others: list[list[Term]] | None = None,
        by_id: bool = False,
    ) -> Select[Any]:
        """Photos with this class (in these sources), driven by the summary index (by_id: by
        the primary key, plan_photo.by_id); `others` are further words each photo must have
        (EXISTS by primary key)."""
        flt = self.flt
        pc = aliased(PhotoClass, name="pc")
        q = select(pc.photo_id.label("id"), pc.taken_at.label("taken_at"))
        q = q.add_columns(pc.sort_time.label("sort_time"))
        conds = [
            pc.label == label,
            pc.source == sources[0] if len(sources) == 1 else pc.source.in_(sources),
            *score_conds(pc, flt.min_score, flt.min_count),
            *self._date_conds(pc.taken_at, pc.sort_time),
            *([pc.n > 0] if by_id else []),  # true of every row; n is in the primary key only
        ]
        return self._finish(q, pc.photo_id, groups.row_key(pc.taken_at), conds, others)

    def _group_branch(self, term: Term, others: list[list[Term]]) -> Select[Any]:
        """Photos with this group, driven by ix_photo_group_sort (grp, sort_time, photo_id,
        …): one range, newest first by the instant (a photo without a time: NULL sort_time,
        NO_TIME taken_at in the key, NULL taken_at out)."""
        assert term.grp is not None
        pg = aliased(PhotoGroup, name="pg")
        q = select(pg.photo_id.label("id"), groups.output_time(pg).label("taken_at"))
        q = q.add_columns(pg.sort_time.label("sort_time"))
        conds = [pg.grp == term.grp, *groups.score_conds(pg, self.flt, term.grp)]
        dates = self._date_conds(pg.taken_at, pg.sort_time)
        conds += [pg.taken_at > NO_TIME, *dates] if dates else []
        return self._finish(q, pg.photo_id, pg.taken_at, conds, others, keyed=True)

    def _finish(
        self,
        q: Select[Any],
        photo_id: Any,
        taken_key: Any,
        conds: list[ColumnElement[bool]],
        others: list[list[Term]] | None,
        keyed: bool = False,
    ) -> Select[Any]:
        """A class or group branch with the photo conditions (joining photo), the distance to
        the centre, the checks of the other words. keyed: photo_group's (key: taken_at, id)."""
        if self.photo_conds or self.centre:
            on = [Photo.id == photo_id, *([taken_key == groups.row_key(Photo.taken_at)] * keyed)]
            sort_time = {c.name: c for c in q.selected_columns}["sort_time"].element
            sorted_ = plan_photo.by_sort_index(self.flt, self.dialect, self.centre)
            q = plan_photo.join_photo(q, on, photo_id, sort_time, sorted_)
            conds = [*conds, *self.photo_conds]
        if self.centre:
            q = q.add_columns(self._dot().label("dot"))
        for i, word in enumerate(others or []):
            conds.append(self._word_check(word, photo_id, taken_key, f"o{i}"))
        return q.where(*conds)

    def _date_conds(self, col: Any, sort: Any = None) -> list[ColumnElement[bool]]:
        """The local dates on `col`; with `sort`, their window on that sort_time column too."""
        return conditions.dates(self.flt, col, sort)

    def _dot(self) -> ColumnElement[float]:
        """cos(angle) between the photo and the centre: larger is nearer."""
        assert self.centre is not None
        return conditions.dot(self.centre)


def _count_of(stmt: Select[Any]) -> Select[Any]:
    return stmt.with_only_columns(func.count(), maintain_column_froms=True)
