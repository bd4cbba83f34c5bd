"""Writes worker results into the index: upsert by content hash, paths, labels, quarantine."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from atw.core import derived
from atw.core.clock import utcnow
from atw.core.localtime import photo_time
from atw.core.media import one_line
from atw.core.schema import Detection, Label, Photo, PhotoPath, Quarantine, StageDone
from pipelines.labelers.base import Box
from pipelines.worker import PhotoFacts, Result, StageResult


def now() -> datetime:
    """A bookkeeping instant (seen, first seen, missing since, labelled, indexed): naive UTC."""
    return utcnow()


class Writer:
    """Applies results in batches, one transaction per batch (an interrupted run loses at most
    the batch in flight). `counts` tallies what each result did, for the run summary.
    `source` is recorded on the photos this run creates ("scan", or "upload" for the uploads)."""

    def __init__(self, session: Session, run_id: int, source: str = "scan") -> None:
        self.session = session
        self.run_id = run_id
        self.source = source
        self.counts: Counter[str] = Counter()

    def write_batch(self, results: list[Result]) -> None:
        """One transaction for the batch. If a result cannot be written (a value the database
        refuses, a bug), the batch is retried one result per transaction and only that file is
        quarantined with the reason; database faults (locked, disk full) still stop the run."""
        saved = self.counts.copy()
        try:
            with self.session.begin():
                for r in results:
                    self._one(r)
            return
        except OperationalError:
            raise
        except Exception:
            self.counts = saved
        for r in results:
            try:
                with self.session.begin():
                    self._one(r)
            except OperationalError:
                raise
            except Exception as exc:
                reason = f"could not be recorded: {type(exc).__name__}: {one_line(exc)}"
                with self.session.begin():
                    self._quarantine(r.task.path, r.task.root, r.size, r.mtime_ns, reason)

    def _one(self, r: Result) -> None:
        if r.kind == "error":
            self._quarantine(r.task.path, r.task.root, r.size, r.mtime_ns, r.reason or "")
        else:
            self._photo(r)

    def quarantine_problem(self, path: str, root: str, reason: str) -> None:
        """Record a scan problem (an unreadable folder, a folder posing as an image)."""
        with self.session.begin():
            self._quarantine(path, root, 0, 0, reason)

    def _quarantine(self, path: str, root: str, size: int, mtime_ns: int, reason: str) -> None:
        s = self.session
        q = s.scalar(select(Quarantine).where(Quarantine.path == path))
        if q is None:
            s.add(
                Quarantine(
                    path=path,
                    root=root,
                    size=size,
                    mtime_ns=mtime_ns,
                    reason=reason,
                    seen_at=now(),
                    run_id=self.run_id,
                )
            )
        else:
            q.size, q.mtime_ns, q.reason, q.seen_at, q.run_id = (
                size,
                mtime_ns,
                reason,
                now(),
                self.run_id,
            )
        # The content once indexed at this path is no longer there.
        s.execute(
            update(PhotoPath)
            .where(PhotoPath.path == path, PhotoPath.missing_since.is_(None))
            .values(missing_since=now())
        )
        self.counts["quarantined"] += 1

    def _photo(self, r: Result) -> None:
        s = self.session
        assert r.sha256 is not None
        photo = s.scalar(select(Photo).where(Photo.sha256 == r.sha256))
        created = photo is None
        if photo is None:
            assert r.facts is not None, "a new content hash always comes decoded"
            photo = Photo(
                sha256=r.sha256,
                bytes=r.size,
                indexed_at=now(),
                first_run_id=self.run_id,
                source=self.source,
                listed=True,  # a path to it is added below
                **_facts_columns(r.facts),
                **derived.geo_columns(r.facts.lat, r.facts.lon),
            )
            s.add(photo)
            s.flush()
        elif r.facts is not None:  # decoded again (a re-label): what decodes may have changed
            for key, value in _damage_columns(r.facts).items():
                setattr(photo, key, value)
        path = s.scalar(select(PhotoPath).where(PhotoPath.path == r.task.path))
        previous_id: int | None = None  # the photo this path held until now, if another
        if path is None:
            s.add(
                PhotoPath(
                    photo_id=photo.id,
                    path=r.task.path,
                    root=r.task.root,
                    size=r.size,
                    mtime_ns=r.mtime_ns,
                    first_seen=now(),
                )
            )
            self.counts["indexed" if created else "new_paths"] += 1
        else:
            if path.photo_id != photo.id:
                # The file at this path was edited: a new version of the photo.
                previous_id = path.photo_id
                if created:
                    photo.previous_version_id = path.photo_id
                self.counts["indexed" if created else "new_paths"] += 1
            elif r.kind == "labels":  # labels of a photo this run listed: its second phase
                self.counts["labelled" if photo.first_run_id == self.run_id else "relabelled"] += 1
            else:
                self.counts["unchanged"] += 1
            path.photo_id, path.size, path.mtime_ns = photo.id, r.size, r.mtime_ns
            path.root, path.missing_since = r.task.root, None
        s.execute(delete(Quarantine).where(Quarantine.path == r.task.path))
        # Only photos some path points to are listed (and have summary rows, atw/core/derived.py).
        if not photo.listed:
            derived.relist(s, photo)
        if previous_id is not None:
            s.flush()
            still = select(PhotoPath.id).where(PhotoPath.photo_id == previous_id).limit(1)
            if s.scalar(still) is None:
                previous = s.get(Photo, previous_id)
                if previous is not None:
                    derived.unlist(s, previous)
        for st in r.stages:
            self._stage(photo, st)

    def _stage(self, photo: Photo, st: StageResult) -> None:
        """Replace a photo's rows of one stage with this model's (never mixing two models)."""
        s = self.session
        if st.stage == "coco":
            s.execute(delete(Detection).where(Detection.photo_id == photo.id))
            s.add_all(
                Detection(
                    photo_id=photo.id,
                    label=b.label,
                    score=round(b.score, 4),
                    x0=b.box[0],
                    y0=b.box[1],
                    x1=b.box[2],
                    y1=b.box[3],
                    model=st.model,
                    weights_id=st.weights_id,
                    taken_at=photo.taken_at,
                )
                for b in st.items
                if isinstance(b, Box)
            )
            items = [(b.label, round(b.score, 4)) for b in st.items if isinstance(b, Box)]
        else:
            s.execute(delete(Label).where(Label.photo_id == photo.id, Label.source == st.stage))
            s.add_all(
                Label(
                    photo_id=photo.id,
                    source=st.stage,
                    label=lb.label,
                    score=round(lb.score, 4),
                    model=st.model,
                    weights_id=st.weights_id,
                    taken_at=photo.taken_at,
                )
                for lb in st.items
            )
            items = [(lb.label, round(lb.score, 4)) for lb in st.items]
        # The per-class summary of this stage is replaced too, never mixed with another model's.
        if photo.listed:
            derived.replace_stage(s, photo.id, photo.taken_at, st.stage, items, photo.sort_time)
        done = s.get(StageDone, (photo.id, st.stage))
        if done is None:
            s.add(
                StageDone(
                    photo_id=photo.id,
                    stage=st.stage,
                    model=st.model,
                    weights_id=st.weights_id,
                    done_at=now(),
                )
            )
        else:
            done.model, done.weights_id, done.done_at = st.model, st.weights_id, now()


def _facts_columns(f: PhotoFacts) -> dict[str, object]:
    # The offset from the photo's own facts (written offset, GPS clock) or its file time; the
    # zone at its position comes later, from the places stage (pipelines/places.py).
    times = photo_time(
        f.taken_at,
        estimated=f.time_estimated,
        file_offset=f.utc_offset,
        exif_offset=f.exif_offset,
        gps_at=f.gps_at,
    )
    return {
        "format": f.format,
        "width": f.width,
        "height": f.height,
        "orientation": f.orientation,
        "taken_at": f.taken_at,
        **times,
        "exif_offset": f.exif_offset,
        "gps_at": f.gps_at,
        "time_estimated": f.time_estimated,
        "lat": f.lat,
        "lon": f.lon,
        "altitude": f.altitude,
        "camera_make": _clip(f.camera_make, 128),
        "camera_model": _clip(f.camera_model, 128),
        "exif_json": json.dumps(f.extras, ensure_ascii=False) if f.extras else None,
        **_damage_columns(f),
    }


def _damage_columns(f: PhotoFacts) -> dict[str, object]:
    """Photo.damaged/damage_reason: the pixels only partly decoded (atw.core.media)."""
    return {"damaged": f.damage is not None, "damage_reason": f.damage}


def _clip(s: str | None, n: int) -> str | None:
    return s[:n] if s else s
