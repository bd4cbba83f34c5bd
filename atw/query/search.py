"""Searching a filter: count + one page of ids, every id in order, neighbours, map points, class
counts, bounds. No Flask.

A PhotoFilter (atw.query.filters) becomes SQL in atw.query.plan; the HTML pages, the JSON API and
every export call these functions (and atw.query.records for the rows), so what the grid shows,
what the API returns and what a report contains cannot drift apart."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from atw.core import geo
from atw.core.schema import ClassCount, Photo, PhotoClass
from atw.query import class_memory, conditions, nearest, plan_photo, recent
from atw.query.filters import PhotoFilter, photo_conditions_empty
from atw.query.plan import Query
from atw.query.terms import allowed_sources, grid_bucket, on_grid, score_conds


@dataclass(frozen=True)
class Page:
    """One page of a search: the total count, and the ids in order (with their distance from
    the centre in km when sorting by nearest)."""

    total: int
    page: int
    per_page: int
    ids: list[int]
    distances: list[float | None] | None = None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def search(session: Session, flt: PhotoFilter, page: int = 1, per_page: int = 100) -> Page:
    """Count the matching photos and return one page of ids in the filter's order (stable:
    ties are broken by id)."""
    q = Query(session, flt)
    offset = (page - 1) * per_page
    near = nearest.page(session, q, offset, per_page)  # a page in a smaller circle
    rows, counted = recent.page(session, q, offset, per_page) if near is None else (None, None)
    if rows is None:  # (recent: a big place's page from the newest photos)
        stmt = near if near is not None else plan_photo.page(q, offset, per_page)
        rows = session.execute(stmt).all()
    ids = [r.id for r in rows]
    distances = _distances(session, flt, ids) if flt.sort == "nearest" else None
    if counted is not None:
        total = counted
    elif page == 1 and len(ids) < per_page:
        total = len(ids)  # a first page that is not full holds the whole result
    elif near is None and rows and "total" in rows[0]._fields:
        total = rows[0].total  # counted by the page's own statement (not an inner circle's)
    else:
        fast = q.fast_count(session)
        total = fast if fast is not None else session.scalar(q.count()) or 0
    return Page(total=total, page=page, per_page=per_page, ids=ids, distances=distances)


def class_counts(session: Session, flt: PhotoFilter) -> list[dict[str, Any]]:
    """[{label, source, photos}] for every class present in the filtered photos, most photos
    first: each photo counts once per class, when that class alone would select it with the
    filter's source, min_score and min_count."""
    t, k = flt.min_score, flt.min_count
    sources = allowed_sources(flt)
    unfiltered = not flt.classes and photo_conditions_empty(flt) and not (flt.start or flt.end)
    if unfiltered and k == 1 and on_grid(t):
        # Unfiltered: the counts kept at insert time (ClassCount), summed over score buckets;
        # held with the class rows, summed already (atw.query.class_totals).
        rows = class_memory.current(session)
        if rows is not None and rows.totals is not None:
            found = rows.totals.photos(sources, grid_bucket(t))
            return _most_first([(s, lb, n) for (s, lb), n in found.items()])
        total = func.sum(ClassCount.photos)
        q = (
            select(ClassCount.source, ClassCount.label, total.label("photos"))
            .where(ClassCount.source.in_(sources), ClassCount.bucket >= grid_bucket(t))
            .group_by(ClassCount.source, ClassCount.label)
            .having(total > 0)
        )
    else:
        pc = aliased(PhotoClass, name="cc")
        conds = [pc.source.in_(sources), *score_conds(pc, t, k)]
        if _only_dates(flt):
            # Dates: the photos' ids from the date index and their rows held in memory (a
            # month: ~5x faster than SQL), else the label index's ranges, one per class (its
            # dates a sort_time window there), in the index's order: no photo list, no sort.
            # Rows are those of listed photos.
            if k <= 1 and (flt.start or flt.end):
                held = _from_memory(session, flt, sources)
                if held is not None:
                    return held
            conds.append(pc.label.in_(_labels()))
            conds += conditions.dates(flt, pc.taken_at, pc.sort_time)
        else:
            held = _from_memory(session, flt, sources) if k <= 1 else None
            if held is not None:
                return held
            ids = Query(session, flt).ids().subquery()
            conds.append(pc.photo_id.in_(select(ids.c.id)))
        count = func.count()
        # (label, source): the order of the label index, and a cheaper sort than (source, label)
        q = (
            select(pc.source, pc.label, count.label("photos"))
            .where(*conds)
            .group_by(pc.label, pc.source)
        )
    return _most_first(session.execute(q).all())


def _from_memory(
    session: Session, flt: PhotoFilter, sources: Collection[str]
) -> list[dict[str, Any]] | None:
    """class_counts of the filter (min_count 1) from the class rows held in memory, at the
    index's version; None when they are not held (count in SQL)."""
    ids = Query(session, flt).ids().subquery()
    held = class_memory.counts(session, select(ids.c.id), sources, flt.min_score, flt)
    return None if held is None else _most_first([(s, lb, n) for (s, lb), n in held.items()])


def _most_first(rows: Any) -> list[dict[str, Any]]:
    """(source, label, photos) rows as class_counts returns them, most photos first."""
    out = [{"label": lb, "source": s, "photos": int(n)} for s, lb, n in rows]
    out.sort(key=lambda r: (-r["photos"], r["label"], r["source"]))
    return out


def _only_dates(flt: PhotoFilter) -> bool:
    """No condition but (maybe) dates: class rows carry their photo's dates."""
    return not flt.classes and photo_conditions_empty(replace(flt, start=None, end=None))


def _labels() -> Any:
    """Every label in photo_class, by one index seek each (the next label after the last: a
    recursive CTE, the "loose index scan"; a DISTINCT would read every row)."""
    nxt = aliased(PhotoClass, name="nx")
    seen = select(func.min(PhotoClass.label).label("x")).cte("labels", recursive=True)
    after = select(func.min(nxt.label)).where(nxt.label > seen.c.x).scalar_subquery()
    seen = seen.union_all(select(after).where(seen.c.x.is_not(None)))
    return select(seen.c.x).where(seen.c.x.is_not(None))


def complete_classes(
    rows: list[dict[str, Any]], typed: str, limit: int = 12
) -> list[dict[str, Any]]:
    """The class_counts rows whose label contains `typed` (any case), best first: labels that
    start with it, then labels with a word that starts with it ("do": dog, hot dog, then
    window screen), then the rest; within each, most photos first (then the label)."""
    q = " ".join(typed.lower().split())
    if not q:
        return []
    ranked = [(r, row) for row in rows if (r := label_rank(row["label"], q)) is not None]
    ranked.sort(key=lambda x: (x[0], -x[1]["photos"], x[1]["label"], x[1]["source"]))
    return [row for _, row in ranked[:limit]]


def label_rank(label: str, q: str) -> int | None:
    """complete_classes' tier of a label for the typed text q (lower case, single spaces): 0 it
    starts with q, 1 a word does, 2 it contains q, None it does not."""
    low = label.lower()
    if q not in low:  # (every other tier contains q: most labels leave here)
        return None
    if low.startswith(q):
        return 0
    if any(w.startswith(q) for w in re.split(r"[\s\-_/,'()]+", low)) or f" {q}" in low:
        return 1
    return 2


def neighbours(session: Session, flt: PhotoFilter, photo_id: int) -> tuple[int | None, int | None]:
    """The ids just before and just after photo_id in the filter's order (None at an end), for
    previous/next in the viewer. The photo is placed by its own sort key, so this works even
    when it does not match the filter itself."""
    q = Query(session, flt)
    row = session.execute(
        select(Photo.sort_time.label("key"), Photo.geo_x, Photo.geo_y, Photo.geo_z).where(
            Photo.id == photo_id
        )
    ).first()
    if row is None:
        return None, None
    sub = q.ids().subquery()
    if flt.sort == "nearest":
        assert q.centre is not None
        cx, cy, cz = q.centre
        # The same arithmetic, in the same order, as the SQL: the same double.
        key = None if row.geo_x is None else row.geo_x * cx + row.geo_y * cy + row.geo_z * cz
        return _neighbours_by(session, sub, sub.c.dot, key, photo_id, descending=True)
    return _neighbours_by(
        session, sub, sub.c.sort_time, row.key, photo_id, descending=flt.sort == "newest"
    )


def position(session: Session, flt: PhotoFilter, photo_id: int) -> int | None:
    """How many filtered photos come before photo_id in the filter's order (0 for the first),
    None when the photo does not match the filter: the viewer's way back to the grid page the
    photo is on. One count over the filter's rows, in the pages' ORDER BY (Query.sort_keys):
    the order's key descending for newest and nearest, ascending for oldest, ties by id the
    same way; NULL keys where the database sorts them (nearest: last, as its ORDER BY says)."""
    q = Query(session, flt)
    sub = q.ids().subquery()
    # The pages' sort key: sort_time where the plan selects it (local time or instant), else
    # taken_at; dot (nearness to the centre) for nearest.
    key_col = sub.c.sort_time if "sort_time" in sub.c else sub.c.taken_at
    col = sub.c.dot if flt.sort == "nearest" else key_col
    mine = session.execute(select(col).where(sub.c.id == photo_id)).first()
    if mine is None:
        return None
    key, ids, descending = mine[0], sub.c.id, flt.sort != "oldest"
    # SQLite sorts NULL below every value, PostgreSQL above; nearest says NULLS LAST itself.
    null_low = flt.sort == "nearest" or session.get_bind().dialect.name != "postgresql"
    nulls_first = null_low != descending
    if key is None:
        tie = ids > photo_id if descending else ids < photo_id
        before = and_(col.is_(None), tie)
        if not nulls_first:
            before = or_(col.is_not(None), before)
    else:
        ahead = col > key if descending else col < key
        tie = and_(col == key, ids > photo_id if descending else ids < photo_id)
        before = or_(ahead, tie, col.is_(None)) if nulls_first else or_(ahead, tie)
    return session.scalar(select(func.count()).select_from(sub).where(before)) or 0


def _neighbours_by(
    session: Session, sub: Any, col: Any, key: Any, photo_id: int, descending: bool
) -> tuple[int | None, int | None]:
    """Neighbours in the order (col, id), both descending or both ascending; rows with a NULL
    col come last (after every non-NULL one)."""

    def first(where: Any, *order: Any) -> int | None:
        return session.scalar(select(sub.c.id).where(where).order_by(*order).limit(1))

    ids = sub.c.id
    if key is None:  # in the NULL tail, ordered by id alone
        after = first(
            and_(col.is_(None), ids < photo_id if descending else ids > photo_id),
            ids.desc() if descending else ids.asc(),
        )
        before = first(
            and_(col.is_(None), ids > photo_id if descending else ids < photo_id),
            ids.asc() if descending else ids.desc(),
        )
        if before is None:  # the last non-NULL row
            before = first(
                col.is_not(None),
                col.asc() if descending else col.desc(),
                ids.asc() if descending else ids.desc(),
            )
        return before, after
    if descending:
        later = and_(col <= key, or_(col < key, ids < photo_id))
        earlier = and_(col >= key, or_(col > key, ids > photo_id))
        after = first(later, col.desc(), ids.desc())
        if after is None:
            after = first(col.is_(None), ids.desc())
        return first(earlier, col.asc(), ids.asc()), after
    later = and_(col >= key, or_(col > key, ids > photo_id))
    earlier = and_(col <= key, or_(col < key, ids < photo_id))
    return first(earlier, col.desc(), ids.desc()), first(later, col.asc(), ids.asc())


def map_points(session: Session, flt: PhotoFilter, limit: int = 5000) -> dict[str, Any]:
    """Positions of the filtered photos for a map: {"points": [[id, lat, lon, date], …],
    "truncated": bool, "located": n}, at most `limit` of them (a map of more dots is unreadable
    anyway); located counts every filtered photo with a position (the map's caption)."""
    ids = Query(session, flt).ids().subquery()
    rows = session.execute(
        select(Photo.id, Photo.lat, Photo.lon, Photo.taken_at)
        .join(ids, ids.c.id == Photo.id)
        .where(Photo.lat.is_not(None))
        .limit(limit + 1)
    ).all()
    points = [
        [r.id, r.lat, r.lon, r.taken_at.date().isoformat() if r.taken_at else ""]
        for r in rows[:limit]
    ]
    located = len(rows)
    if located > limit:
        located = session.scalar(
            select(func.count())
            .select_from(Photo)
            .join(ids, ids.c.id == Photo.id)
            .where(Photo.lat.is_not(None))
        )
    return {"points": points, "truncated": len(rows) > limit, "located": int(located or 0)}


def any_photo(session: Session) -> bool:
    """True when at least one photo is listed (else the pages explain how to index)."""
    return session.scalar(select(Photo.id).where(Photo.listed == true()).limit(1)) is not None


def cameras(session: Session) -> dict[str, list[str]]:
    """{"makes": [...], "models": [...]}: the distinct EXIF camera makes and models, sorted,
    found by one index seek each (the camera index) rather than a scan of every photo."""
    makes: list[str] = []
    models: set[str] = set()
    make = session.scalar(select(func.min(Photo.camera_make)))
    while make is not None:
        makes.append(make)
        first_model = select(func.min(Photo.camera_model)).where(Photo.camera_make == make)
        model = session.scalar(first_model)
        while model is not None:
            models.add(model)
            model = session.scalar(
                select(func.min(Photo.camera_model)).where(
                    Photo.camera_make == make, Photo.camera_model > model
                )
            )
        make = session.scalar(select(func.min(Photo.camera_make)).where(Photo.camera_make > make))
    return {"makes": makes, "models": sorted(models)}


def _distances(session: Session, flt: PhotoFilter, ids: list[int]) -> list[float | None]:
    """Haversine km from the filter's centre to each photo (None without GPS)."""
    assert flt.lat is not None and flt.lon is not None
    pos = {
        r.id: (r.lat, r.lon)
        for r in session.execute(select(Photo.id, Photo.lat, Photo.lon).where(Photo.id.in_(ids)))
    }
    out: list[float | None] = []
    for pid in ids:
        lat, lon = pos.get(pid, (None, None))
        out.append(None if lat is None else geo.distance_km(flt.lat, flt.lon, lat, lon))
    return out


def iter_ids(session: Session, flt: PhotoFilter, chunk: int = 500) -> Iterator[list[int]]:
    """The filtered ids in the filter's order, a chunk at a time (for streamed exports): one
    page statement per chunk, no count, never the whole set in memory."""
    q = Query(session, flt)
    offset = 0
    while True:
        rows = session.execute(q.ordered(offset, chunk).limit(chunk).offset(offset)).all()
        if not rows:
            return
        yield [r.id for r in rows]
        if len(rows) < chunk:
            return
        offset += chunk


def bounds(session: Session, flt: PhotoFilter) -> dict[str, Any]:
    """Summary figures of the filtered set: first/last capture time and the lat/lon box."""
    ids = Query(session, flt).ids().subquery()
    r = session.execute(
        select(
            func.min(Photo.taken_at),
            func.max(Photo.taken_at),
            func.min(Photo.lat),
            func.max(Photo.lat),
            func.min(Photo.lon),
            func.max(Photo.lon),
            func.count(Photo.lat),
        ).join(ids, ids.c.id == Photo.id)
    ).one()
    return {
        "first": r[0],
        "last": r[1],
        "lat": (r[2], r[3]) if r[2] is not None else None,
        "lon": (r[4], r[5]) if r[4] is not None else None,
        "with_gps": int(r[6]),
    }
