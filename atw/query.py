"""The query layer: PhotoFilter → SQL, pages of photos, photo records. No Flask here."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from atw.models import Detection, Label, Photo, PhotoPath, Quarantine


@dataclass(frozen=True)
class PhotoFilter:
    """Which photos to show. Empty = every current photo (one that some path still points to)."""


@dataclass(frozen=True)
class Page:
    total: int
    page: int
    per_page: int
    ids: list[int]


def _base(flt: PhotoFilter) -> Select[Any]:
    has_path = select(PhotoPath.id).where(PhotoPath.photo_id == Photo.id).exists()
    return select(Photo.id).where(has_path)


def search(session: Session, flt: PhotoFilter, page: int = 1, per_page: int = 100) -> Page:
    """Count the matching photos and return one page of ids, newest first (stable order)."""
    base = _base(flt)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    ids = list(
        session.scalars(
            base.order_by(Photo.taken_at.desc().nulls_last(), Photo.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return Page(total=total, page=page, per_page=per_page, ids=ids)


def photo_records(session: Session, ids: list[int]) -> list[dict[str, Any]]:
    """Full records (paths, labels, detections) for these ids, in the order given."""
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
    out = []
    for pid in ids:
        p = photos.get(pid)
        if p is None:
            continue
        present = [pp.path for pp in paths[pid] if pp.missing_since is None]
        missing = [pp.path for pp in paths[pid] if pp.missing_since is not None]
        first = (present or missing or [""])[0]
        out.append(
            {
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
                "exif": json.loads(p.exif_json) if p.exif_json else {},
                "labels": labels[pid],
                "detections": dets[pid],
            }
        )
    return out


def photo_record(session: Session, photo_id: int) -> dict[str, Any] | None:
    recs = photo_records(session, [photo_id])
    return recs[0] if recs else None


def quarantine(session: Session) -> list[dict[str, Any]]:
    """Every quarantined file with its reason, most recent first."""
    rows = session.scalars(select(Quarantine).order_by(Quarantine.seen_at.desc(), Quarantine.path))
    return [
        {"path": q.path, "reason": q.reason, "seen_at": q.seen_at.isoformat(), "bytes": q.size}
        for q in rows
    ]


def photo_sha(session: Session, photo_id: int) -> str | None:
    return session.scalar(select(Photo.sha256).where(Photo.id == photo_id))
