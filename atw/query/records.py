"""Photo records: full rows (paths, labels, detections) for ids, a photo's files and hash, what
needs attention (damaged and quarantined files), the indexed roots. No Flask."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, true
from sqlalchemy.orm import Session

from atw.core import gazetteer
from atw.core.fspath import printable
from atw.core.schema import Detection, Label, Photo, PhotoPath, Quarantine, Upload


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
    uploaded = upload_names(session, [printable(pp.path) for pps in paths.values() for pp in pps])
    out = []
    for pid in ids:
        p = photos.get(pid)
        if p is None:
            continue
        present = [printable(pp.path) for pp in paths[pid] if pp.missing_since is None]
        missing = [printable(pp.path) for pp in paths[pid] if pp.missing_since is not None]
        # An upload's copy is named by its content: show the name the client sent instead.
        named = [path for path in present if path not in uploaded] or present or missing
        first = (named or [""])[0]
        rec = {
            "id": p.id,
            "sha256": p.sha256,
            "paths": present,
            "missing_paths": missing,
            "missing": not present,
            "file_name": uploaded.get(first) or first.rsplit("/", 1)[-1],
            "uploaded_as": {path: uploaded[path] for path in present if path in uploaded},
            "taken_at": p.taken_at.isoformat() if p.taken_at else None,
            "taken_at_utc": p.taken_at_utc.isoformat() if p.taken_at_utc else None,
            "utc_offset": p.utc_offset,
            "offset_source": p.offset_source,
            "time_zone": p.time_zone,
            "time_estimated": p.time_estimated,
            "lat": p.lat,
            "lon": p.lon,
            "altitude": p.altitude,
            "place": place_record(p),
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


def place_record(p: Photo) -> dict[str, Any] | None:
    """A photo's place for the JSON: country (code and English name), region, the nearest
    populated place (name) and its distance; at sea, no country and `near` names the nearest
    coastal place. None without a position, or before the places stage placed it."""
    if p.lat is None or not (p.country_code or p.at_sea or p.time_zone):
        return None
    return {
        "country_code": p.country_code,
        "country": gazetteer.country_name(p.country_code) if p.country_code else None,
        "region": p.region,
        "name": p.place,
        "distance_km": p.place_km,
        "at_sea": bool(p.at_sea),
        "near": p.near,
    }


def upload_names(session: Session, paths: list[str]) -> dict[str, str]:
    """{path: the file name the client sent} for the paths that are uploads' copies."""
    if not paths:
        return {}
    rows = session.execute(select(Upload.path, Upload.name).where(Upload.path.in_(paths)))
    return {r.path: r.name for r in rows}


def archived_as(session: Session, sha256: str, uploads: str) -> tuple[int, str, str] | None:
    """(photo id, path, path within its indexed root) of a photo with this content found in
    the archive itself (a file present on disk outside the `uploads` folder); None if none."""
    rows = session.execute(
        select(Photo.id, PhotoPath.path, PhotoPath.root)
        .join(PhotoPath, PhotoPath.photo_id == Photo.id)
        .where(Photo.sha256 == sha256, PhotoPath.missing_since.is_(None))
        .order_by(PhotoPath.path)
    ).all()
    for r in rows:
        path, root = printable(r.path), printable(r.root).rstrip("/")
        if path.startswith(uploads.rstrip("/") + "/"):
            continue
        inside = path[len(root) + 1 :] if path.startswith(root + "/") else ""
        return r.id, path, inside or path.rsplit("/", 1)[-1]
    return None


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


def roots(session: Session) -> list[str]:
    """The distinct indexed photo roots (PhotoPath.root)."""
    return list(session.scalars(select(PhotoPath.root).distinct()))
