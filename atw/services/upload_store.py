"""Receiving photos over HTTP: checks by content, atw's content-addressed copy under
<instance>/uploads/ab/<sha256>.<ext>, the Upload row that follows it through the indexer."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from PIL import Image
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atw.core import media
from atw.core.clock import utcnow
from atw.core.schema import PhotoPath, Quarantine, Upload
from atw.query import records

# Pillow's format name → the extension of atw's copy (MPO: how Pillow names many phone JPEGs).
ALLOWED_FORMATS = {
    "JPEG": "jpg",
    "MPO": "jpg",
    "PNG": "png",
    "WEBP": "webp",
    "HEIF": "heic",
    "TIFF": "tif",
}
ALLOWED_NAMES = "JPEG, PNG, WebP, HEIC/HEIF or TIFF"
PENDING = ("queued", "indexing")


class Rejected(Exception):
    """A photo refused before anything is stored; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Received:
    """An accepted photo: its Upload row's id and state; duplicate when the content was known."""

    id: int
    name: str
    status: str
    duplicate: bool
    first_name: str = ""  # the name this content was first uploaded under


def uploads_dir(instance_path: str | os.PathLike[str]) -> Path:
    return Path(instance_path) / "uploads"


def copy_path(root: Path, sha256: str, ext: str) -> Path:
    return root / sha256[:2] / f"{sha256}.{ext}"


def looks_like_image(data: bytes) -> bool:
    """True when the bytes start like an image file (so a failure to open is corruption, 400,
    rather than something that is not an image at all, 415)."""
    head = data[:16]
    return (
        head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*"))
        or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
        or head[4:8] == b"ftyp"
    )


def open_checked(data: bytes, max_pixels: int) -> Image.Image:
    """Open the bytes (header only) as an accepted type, by content; Rejected says why not.

    400 empty or corrupt, 413 over MAX_IMAGE_PIXELS (decompression bomb), 415 not an image or
    not an accepted format. The file name and the declared content type play no part."""
    if not data:
        raise Rejected(400, "empty body: no image bytes were sent")
    try:
        img = media.open_image(data, max_pixels)
    except media.BadImage as exc:
        reason = str(exc)
        if reason.startswith("decompression bomb guard"):
            raise Rejected(413, f"image too large: {reason}") from None
        if looks_like_image(data):
            raise Rejected(400, f"unreadable image: {reason}") from None
        raise Rejected(
            415, f"unsupported type: the bytes are not an image ({ALLOWED_NAMES} expected)"
        ) from None
    if img.format not in ALLOWED_FORMATS:
        raise Rejected(
            415, f"unsupported type: {img.format} images are not accepted ({ALLOWED_NAMES})"
        )
    return img


def check_decodes(img: Image.Image) -> None:
    """Decode once, as small as the format allows (JPEG at 1/8 scale), so a truncated or
    corrupt file is refused now rather than stored and quarantined later."""
    try:
        media.decode_upright(img, None, 1, 1)
    except media.BadImage as exc:
        raise Rejected(400, f"unreadable image: {exc}") from None


def read_limited(stream: IO[bytes], max_bytes: int, name: str) -> bytes:
    """Read an uploaded file, refusing (413) one larger than max_bytes."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise Rejected(
            413,
            f"{name}: file too large: more than {max_bytes:,} bytes (UPLOAD_MAX_BYTES)",
        )
    return data


def clean_name(name: str | None) -> str:
    """The client's file name, for display only: its last component, at most 255 characters."""
    base = os.path.basename((name or "").replace("\\", "/")).strip()
    return base[:255] or "photo"


def receive(
    session: Session,
    instance_path: str,
    data: bytes,
    name: str | None,
    *,
    max_bytes: int,
    max_pixels: int,
    mtime: float | None = None,
) -> Received:
    """Check a photo by content and keep one copy of it, queued for the background indexer.

    Nothing is written unless every check passes; the same content twice is one file and one
    Upload row (its uploaded_at refreshed). `mtime` (seconds, from the browser's lastModified)
    becomes the new file's modification time: the indexer's capture time when EXIF has none."""
    label = clean_name(name)
    if len(data) > max_bytes:
        raise Rejected(
            413,
            f"{label}: file too large: {len(data):,} bytes exceeds {max_bytes:,} "
            "(UPLOAD_MAX_BYTES)",
        )
    img = open_checked(data, max_pixels)
    fmt = str(img.format)
    check_decodes(img)
    sha = hashlib.sha256(data).hexdigest()
    path = copy_path(uploads_dir(instance_path), sha, ALLOWED_FORMATS[fmt])
    created = _store(path, data, mtime)
    try:
        # The first write of the transaction takes the database's write lock and refreshes an
        # existing row: a prune (atw.services.retention) deletes the row and the file inside one
        # write transaction, so it has either finished (then the copy is written again below)
        # or it waits for this commit and then finds the upload fresh and keeps it.
        _refresh(session, sha)
        if _store(path, data, mtime):
            created = True
        return _record(session, sha, path, label, fmt, len(data))
    except BaseException:
        session.rollback()
        if created:  # never leave a file without its row
            path.unlink(missing_ok=True)
        raise


def _store(path: Path, data: bytes, mtime: float | None) -> bool:
    """Write the copy unless it is already there; True when this call created it."""
    try:
        if path.stat().st_size == len(data):
            return False
    except FileNotFoundError:
        pass
    media.write_atomic(path, data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return True


def _refresh(session: Session, sha: str) -> None:
    """Mark the upload of this content as just received (a no-op write for new content that
    still takes the write lock, held until _record commits)."""
    fresh = update(Upload).where(Upload.sha256 == sha).values(uploaded_at=utcnow())
    session.execute(fresh.execution_options(synchronize_session=False))


def _record(session: Session, sha: str, path: Path, name: str, fmt: str, size: int) -> Received:
    now = utcnow()
    row = session.scalar(select(Upload).where(Upload.sha256 == sha))
    if row is None:
        row = Upload(
            sha256=sha,
            path=str(path),
            name=name,
            format=fmt,
            bytes=size,
            first_uploaded_at=now,
            uploaded_at=now,
            status="queued",
        )
        session.add(row)
        try:
            session.commit()
            return Received(row.id, name, row.status, duplicate=False)
        except IntegrityError:  # the same photo arrived at the same moment in another request
            session.rollback()
            row = session.scalar(select(Upload).where(Upload.sha256 == sha))
            assert row is not None
    row.uploaded_at = now
    if row.status not in PENDING:
        indexed = session.scalar(
            select(PhotoPath.id).where(
                PhotoPath.path == row.path, PhotoPath.missing_since.is_(None)
            )
        )
        if row.status == "failed" or indexed is None:
            row.status, row.message = "queued", None  # try again, even if quarantined before
            session.execute(delete(Quarantine).where(Quarantine.path == row.path))
    session.commit()
    return Received(row.id, name, row.status, duplicate=True, first_name=row.name)


def pending_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Upload.id).where(Upload.status.in_(PENDING))))


def statuses(session: Session, ids: Sequence[int]) -> list[dict[str, Any]]:
    """Where each upload stands, in the order asked; a done one carries its photo's record
    (labels, detections with boxes) from the query layer. An upload whose path the indexer has
    already written counts as done even before the run ends."""
    rows = {u.id: u for u in session.scalars(select(Upload).where(Upload.id.in_(list(ids))))}
    paths = [u.path for u in rows.values()]
    indexed = {
        p.path: p.photo_id
        for p in session.scalars(
            select(PhotoPath).where(PhotoPath.path.in_(paths), PhotoPath.missing_since.is_(None))
        )
    }
    out: list[dict[str, Any]] = []
    for i in ids:
        u = rows.get(i)
        if u is None:
            out.append({"id": i, "status": "unknown", "message": "no such upload (expired?)"})
            continue
        status, photo_id, message = u.status, u.photo_id, u.message
        if u.path in indexed and status != "failed":
            status, photo_id = "done", indexed[u.path]
        out.append(
            {
                "id": u.id,
                "name": u.name,
                "format": u.format,
                "bytes": u.bytes,
                "uploaded_at": u.uploaded_at.isoformat() + "Z",
                "status": status,
                "message": message,
                "photo_id": photo_id if status == "done" else None,
            }
        )
    attach_photos(session, out)
    return out


def attach_photos(session: Session, answers: list[dict[str, Any]]) -> None:
    """Give each answer with a photo_id its photo (labels, detections with boxes), from the
    query layer."""
    done = [r["photo_id"] for r in answers if r.get("photo_id")]
    found = {rec["id"]: rec for rec in records.photo_records(session, done)}
    for r in answers:
        rec = found.get(r.get("photo_id") or -1)
        if rec is not None:
            r["photo"] = {k: rec[k] for k in ("id", "width", "height", "labels", "detections")}


def finish(session: Session, ids: Sequence[int]) -> None:
    """After an index run: each upload is done (with its photo), or failed with the reason the
    indexer recorded in the quarantine."""
    for u in session.scalars(select(Upload).where(Upload.id.in_(list(ids)))):
        path = session.scalar(
            select(PhotoPath).where(PhotoPath.path == u.path, PhotoPath.missing_since.is_(None))
        )
        if path is not None:
            u.status, u.photo_id, u.message = "done", path.photo_id, None
            continue
        q = session.scalar(select(Quarantine).where(Quarantine.path == u.path))
        u.status = "failed"
        u.message = f"could not be indexed: {q.reason}" if q else "could not be indexed"
    session.commit()


def mark(session: Session, ids: Sequence[int], status: str, message: str | None) -> None:
    for u in session.scalars(select(Upload).where(Upload.id.in_(list(ids)))):
        u.status, u.message = status, message
    session.commit()


def receive_file(
    session: Session,
    config: Mapping[str, Any],
    stream: IO[bytes],
    filename: str | None,
    mtime: float | None = None,
) -> dict[str, Any]:
    """One file of the upload form → what the page shows for it: accepted (id, status,
    duplicate), already in the archive (done at once: photo_id, archived_as, the path within
    its indexed root; nothing is stored), or rejected (message and its HTTP status)."""
    name = clean_name(filename)
    max_bytes = int(config["UPLOAD_MAX_BYTES"])
    try:
        data = read_limited(stream, max_bytes, name)
        uploads = str(uploads_dir(config["INSTANCE_PATH"]))
        known = records.archived_as(session, hashlib.sha256(data).hexdigest(), uploads)
        if known is not None:  # already in the archive: nothing to store or to label
            photo_id, path, inside = known
            return {
                "name": name,
                "status": "done",
                "duplicate": True,
                "photo_id": photo_id,
                "archived_as": inside,
                "archived_path": path,
                "message": f"already in your archive as {inside}",
                "code": 200,
            }
        rec = receive(
            session,
            config["INSTANCE_PATH"],
            data,
            filename,
            max_bytes=max_bytes,
            max_pixels=int(config["MAX_IMAGE_PIXELS"]),
            mtime=mtime,
        )
    except Rejected as exc:
        return {"name": name, "status": "rejected", "message": exc.message, "code": exc.status}
    return {
        "name": name,
        "id": rec.id,
        "status": rec.status,
        "duplicate": rec.duplicate,
        "message": f"already uploaded as {rec.first_name}: the same photo is kept once"
        if rec.duplicate
        else None,
        "code": 200,
    }


def parse_mtime(raw: str | None) -> float | None:
    """A browser File.lastModified (milliseconds since 1970) as seconds, if plausible."""
    try:
        ms = int(str(raw or "").strip())
    except ValueError:
        return None
    seconds = ms / 1000
    return seconds if 0 < seconds < time.time() + 86400 else None
