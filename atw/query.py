"""The query layer: search (count + one page of ids), class counts, photo records. No Flask.

A PhotoFilter (atw.filters) becomes SQL in atw.plan; the HTML pages, the JSON API and every export
call these functions, so what the grid shows, what the API returns and what a report contains
cannot drift apart."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from atw import geo
from atw.filters import FilterError, PhotoFilter, describe, photo_conditions_empty
from atw.models import (
    ClassCount,
    Detection,
    Label,
    Photo,
    PhotoClass,
    PhotoPath,
    Quarantine,
    printable,
)
from atw.plan import Query, allowed_sources, grid_bucket, on_grid, score_conds

__all__ = [
    "FilterError",
    "Page",
    "PhotoFilter",
    "class_counts",
    "describe",
    "photo_record",
    "photo_records",
    "search",
]


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
    rows = session.execute(q.ordered(offset, per_page).limit(per_page).offset(offset)).all()
    ids = [r.id for r in rows]
    distances = _distances(session, flt, ids) if flt.sort == "nearest" else None
    if page == 1 and len(ids) < per_page:
        total = len(ids)  # a first page that is not full holds the whole result
    elif rows and "total" in rows[0]._fields:
        total = rows[0].total  # counted by the page's own statement
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
        # Unfiltered: the counts kept at insert time (ClassCount), summed over score buckets.
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
        if not unfiltered:
            ids = Query(session, flt).ids().subquery()
            conds.append(pc.photo_id.in_(select(ids.c.id)))
        count = func.count()
        q = (
            select(pc.source, pc.label, count.label("photos"))
            .where(*conds)
            .group_by(pc.source, pc.label)
        )
    rows = session.execute(q).all()
    out = [{"label": r.label, "source": r.source, "photos": int(r.photos)} for r in rows]
    out.sort(key=lambda r: (-r["photos"], r["label"], r["source"]))
    return out


def neighbours(session: Session, flt: PhotoFilter, photo_id: int) -> tuple[int | None, int | None]:
    """The ids just before and just after photo_id in the filter's order (None at an end), for
    previous/next in the viewer. The photo is placed by its own sort key, so this works even
    when it does not match the filter itself."""
    q = Query(session, flt)
    row = session.execute(
        select(Photo.taken_at, Photo.geo_x, Photo.geo_y, Photo.geo_z).where(Photo.id == photo_id)
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
        session, sub, sub.c.taken_at, row.taken_at, photo_id, descending=flt.sort == "newest"
    )


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
    "truncated": bool}, at most `limit` of them (a map of more dots is unreadable anyway)."""
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
    return {"points": points, "truncated": len(rows) > limit}


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


def photo_files(session: Session, photo_id: int) -> tuple[str, list[tuple[str, str]]] | None:
    """(sha256, [(path, root), …]) of a photo, paths still present first; None if unknown."""
    sha = photo_sha(session, photo_id)
    if sha is None:
        return None
    rows = session.execute(
        select(PhotoPath.path, PhotoPath.root, PhotoPath.missing_since)
        .where(PhotoPath.photo_id == photo_id)
        .order_by(PhotoPath.missing_since.is_not(None), PhotoPath.path)
    ).all()
    return sha, [(r.path, r.root) for r in rows]


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


# --- records -------------------------------------------------------------------------------


def photo_records(
    session: Session, ids: list[int], distances: Sequence[float | None] | None = None
) -> list[dict[str, Any]]:
    """Full records (paths, labels, detections) for these ids, in the order given; with
    distances (aligned with ids, from a nearest search) each record gets distance_km."""
    if not ids:
        return []
    photos = {p.id: p for p in session.scalars(select(Photo).where(Photo.id.in_(ids)))}
    paths: dict[int, list[PhotoPath]] = defaultdict(list)
    for pp in session.scalars(
        select(PhotoPath).where(PhotoPath.photo_id.in_(ids)).order_by(PhotoPath.path)
    ):
        paths[pp.photo_id].append(pp)
    labels: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for lb in session.scalars(
        select(Label).where(Label.photo_id.in_(ids)).order_by(Label.score.desc())
    ):
        labels[lb.photo_id].append(
            {"source": lb.source, "label": lb.label, "score": lb.score, "model": lb.model}
        )
    dets: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for d in session.scalars(
        select(Detection).where(Detection.photo_id.in_(ids)).order_by(Detection.score.desc())
    ):
        dets[d.photo_id].append(
            {"label": d.label, "score": d.score, "box": [d.x0, d.y0, d.x1, d.y1], "model": d.model}
        )
    dist = dict(zip(ids, distances, strict=True)) if distances is not None else None
    out = []
    for pid in ids:
        p = photos.get(pid)
        if p is None:
            continue
        present = [printable(pp.path) for pp in paths[pid] if pp.missing_since is None]
        missing = [printable(pp.path) for pp in paths[pid] if pp.missing_since is not None]
        first = (present or missing or [""])[0]
        rec = {
            "id": p.id,
            "sha256": p.sha256,
            "paths": present,
            "missing_paths": missing,
            "missing": not present,
            "file_name": first.rsplit("/", 1)[-1],
            "taken_at": p.taken_at.isoformat() if p.taken_at else None,
            "utc_offset": p.utc_offset,
            "time_estimated": p.time_estimated,
            "lat": p.lat,
            "lon": p.lon,
            "altitude": p.altitude,
            "width": p.width,
            "height": p.height,
            "orientation": p.orientation,
            "camera_make": p.camera_make,
            "camera_model": p.camera_model,
            "bytes": p.bytes,
            "format": p.format,
            "source": p.source,
            "damaged": bool(p.damaged),
            "damage_reason": p.damage_reason,
            "exif": json.loads(p.exif_json) if p.exif_json else {},
            "labels": labels[pid],
            "detections": dets[pid],
        }
        if dist is not None:
            d = dist[pid]
            rec["distance_km"] = None if d is None else round(d, 6)
        out.append(rec)
    return out


def photo_record(session: Session, photo_id: int) -> dict[str, Any] | None:
    recs = photo_records(session, [photo_id])
    return recs[0] if recs else None


def quarantine(session: Session) -> list[dict[str, Any]]:
    """Every quarantined file with its reason, most recent first."""
    rows = session.scalars(select(Quarantine).order_by(Quarantine.seen_at.desc(), Quarantine.path))
    return [
        {
            "path": printable(q.path),
            "reason": printable(q.reason),
            "seen_at": q.seen_at.isoformat(),
            "bytes": q.size,
        }
        for q in rows
    ]


def damaged(session: Session) -> list[dict[str, Any]]:
    """Every damaged photo a file still points to (listed), most recently indexed first: id,
    file_name, paths (present ones), missing, damage_reason, format, size, taken_at."""
    ids = list(
        session.scalars(
            select(Photo.id)
            .where(Photo.damaged == true(), Photo.listed == true())
            .order_by(Photo.indexed_at.desc(), Photo.id.desc())
        )
    )
    keys = ("id", "file_name", "paths", "missing", "damage_reason", "format", "width", "height")
    keys += ("bytes", "taken_at")
    return [{k: rec[k] for k in keys} for rec in photo_records(session, ids)]


def attention(session: Session) -> dict[str, list[dict[str, Any]]]:
    """What needs the user's attention: damaged photos (indexed, but their pixels only partly
    decode) and quarantined files (nothing usable), each with its reason."""
    return {"damaged": damaged(session), "quarantined": quarantine(session)}


def photo_sha(session: Session, photo_id: int) -> str | None:
    return session.scalar(select(Photo.sha256).where(Photo.id == photo_id))
