"""Upload retention: delete atw's own expired copies under <instance>/uploads with their index rows
(photo, paths, labels, detections, stage marks, class summaries and counts) and thumbnails.

Only files that are atw's copies are ever deleted; a photo that also has a path elsewhere (under
an indexed photo root) keeps its row, its labels and its thumbnail: only the upload path goes."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from atw.core import derived, media
from atw.core.clock import utcnow
from atw.core.engine import make_engine
from atw.core.locks import IndexerBusy, index_lock
from atw.core.schema import (
    Detection,
    Label,
    Photo,
    PhotoClass,
    PhotoPath,
    Quarantine,
    StageDone,
    Upload,
)
from atw.services import upload_store


@dataclass
class PruneResult:
    uploads: int = 0
    photos_deleted: int = 0
    photos_kept: int = 0
    files: int = 0
    thumbnails: int = 0
    skipped: list[str] = field(default_factory=list)

    def line(self) -> str:
        text = (
            f"{self.uploads} expired uploads: {self.photos_deleted} photos removed from the index, "
            f"{self.photos_kept} kept for their other paths; {self.files} files and "
            f"{self.thumbnails} thumbnails deleted"
        )
        if self.skipped:
            text += f"; {len(self.skipped)} skipped (not atw's own copies): " + ", ".join(
                self.skipped
            )
        return text


def prune(
    config: Mapping[str, Any],
    *,
    days: float | None = None,
    now: datetime | None = None,
    wait: float = 0.0,
) -> PruneResult:
    """Delete uploads last uploaded more than `days` (UPLOAD_RETENTION_DAYS) ago.

    Holds the instance's index lock, so no index run re-adds what is being deleted; while a run
    holds it, tries again for up to `wait` seconds, then raises atw.core.locks.IndexerBusy."""
    days = float(config.get("UPLOAD_RETENTION_DAYS") or 0) if days is None else float(days)
    result = PruneResult()
    if days <= 0:
        return result
    cutoff = (now or utcnow()) - timedelta(days=days)
    inst = Path(config["INSTANCE_PATH"])
    root = upload_store.uploads_dir(inst)
    caches = (Path(config["THUMBS_DIR"]), inst / "display")
    lock = _lock(str(inst), wait, config["DATABASE_URL"])
    engine = make_engine(config["DATABASE_URL"])
    try:
        with Session(engine) as s:
            expired = s.scalars(
                select(Upload).where(Upload.uploaded_at < cutoff).order_by(Upload.id)
            ).all()
            for up in expired:
                _prune_one(s, up, cutoff, root, caches, result)
    finally:
        engine.dispose()
        lock.close()
    return result


def _lock(instance_path: str, wait: float, database_url: str | None = None) -> Any:
    """The index run's own lock (atw.core.locks), retried every half second for `wait` s."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return index_lock(instance_path, database_url)
        except IndexerBusy:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)


def own_copy(path: Path, root: Path, sha256: str) -> bool:
    """True only for atw's copy of this content: <root>/ab/<sha256>.<ext>, a plain file (or
    already gone) whose real location is inside the real uploads folder."""
    if path.parent != root / sha256[:2] or not path.name.startswith(sha256 + "."):
        return False
    if path.is_symlink():
        return False
    real, real_root = os.path.realpath(path), os.path.realpath(root)
    return real.startswith(real_root.rstrip(os.sep) + os.sep)


def _prune_one(
    s: Session,
    up: Upload,
    cutoff: datetime,
    root: Path,
    caches: tuple[Path, Path],
    result: PruneResult,
) -> None:
    path = Path(up.path)
    if not own_copy(path, root, up.sha256):
        result.skipped.append(up.path)
        return
    # First write of the transaction, conditional: an upload of the same photo that refreshed
    # uploaded_at a moment ago wins, and the photo stays.
    still = delete(Upload).where(Upload.id == up.id, Upload.uploaded_at < cutoff)
    if s.execute(still.execution_options(synchronize_session=False)).rowcount != 1:  # type: ignore[attr-defined]
        s.rollback()
        return
    gone_sha: str | None = None
    pp = s.scalar(select(PhotoPath).where(PhotoPath.path == up.path))
    if pp is not None:
        photo = s.get(Photo, pp.photo_id)
        s.execute(delete(PhotoPath).where(PhotoPath.id == pp.id))
        others = s.scalar(select(func.count(PhotoPath.id)).where(PhotoPath.photo_id == pp.photo_id))
        if photo is not None and not others:
            gone_sha = photo.sha256
            delete_photo(s, photo)
            result.photos_deleted += 1
        elif photo is not None:
            result.photos_kept += 1
            if photo.source == "upload":
                photo.source = "scan"  # it lives on in an indexed folder
    s.execute(delete(Quarantine).where(Quarantine.path == up.path))
    s.flush()
    existed = path.exists()
    path.unlink(missing_ok=True)  # before the commit: a failure here rolls the rows back
    s.commit()
    result.uploads += 1
    result.files += int(existed)
    _remove_empty(path.parent, root)
    if gone_sha is not None:
        result.thumbnails += _delete_cached(gone_sha, caches)


def delete_photo(s: Session, photo: Photo) -> None:
    """Remove a photo and every row derived from it, keeping the class counts in step (the same
    upkeep the writer uses: atw.core.derived.unlist)."""
    if photo.listed:
        derived.unlist(s, photo)
    pid = photo.id
    newer = update(Photo).where(Photo.previous_version_id == pid)
    s.execute(newer.values(previous_version_id=None))
    s.execute(update(Upload).where(Upload.photo_id == pid).values(photo_id=None))
    for model in (Label, Detection, StageDone, PhotoClass, PhotoPath):
        s.execute(delete(model).where(model.photo_id == pid))
    s.execute(delete(Photo).where(Photo.id == pid))


def _delete_cached(sha256: str, caches: tuple[Path, Path]) -> int:
    """The thumbnail and the viewer's screen-sized copies of a deleted photo."""
    thumbs, display = caches
    n = 0
    thumb = media.thumb_path(thumbs, sha256)
    if thumb.exists():
        thumb.unlink()
        n += 1
    folder = media.thumb_path(display, sha256).parent
    if folder.is_dir():
        for p in folder.glob(f"{sha256}-*.jpg"):
            p.unlink(missing_ok=True)
    return n


def _remove_empty(folder: Path, root: Path) -> None:
    if folder.parent == root:
        with contextlib.suppress(OSError):  # not empty
            folder.rmdir()
