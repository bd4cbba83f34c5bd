"""Per-file work in a worker process: hash, EXIF, decode once, thumbnail, labelers → Result."""

from __future__ import annotations

import hashlib
import os
import stat
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from atw.core.clock import file_time, zone_name
from pipelines.labelers.base import Box, Label, LabelerSpec

READ_IN_MEMORY = 64 * 1024 * 1024  # files up to this size are read once, hashed and decoded


@dataclass(frozen=True)
class WorkerConfig:
    """What every worker needs; built once by the run and sent to each process."""

    database_url: str
    thumbs_dir: str
    thumb_size: int
    thumb_quality: int
    max_pixels: int
    max_file_bytes: int
    specs: tuple[LabelerSpec, ...] = ()
    # The zone a file's modification time is read in when a photo has no EXIF date: an IANA
    # name, or "local" (this machine's zone); the run resolves FILE_TIME_ZONE into it.
    file_time_zone: str = "local"
    # Thumbnails go back in the Result (Result.thumbnail) and the run writes them, instead of
    # the worker writing into thumbs_dir: the Ray engine's workers may run on other machines.
    thumbs_inline: bool = False


@dataclass(frozen=True, slots=True)
class Task:
    """One file to look at. photo_id/stages are set for a re-label of a known, unchanged file."""

    path: str
    root: str
    size: int
    mtime_ns: int
    photo_id: int | None = None
    stages: tuple[str, ...] | None = None


@dataclass
class PhotoFacts:
    """Metadata of one image content, ready for a Photo row."""

    format: str | None
    width: int
    height: int
    orientation: int | None
    taken_at: datetime | None
    # The offset of a file time (time_estimated: FILE_TIME_ZONE's at the mtime), else None.
    utc_offset: str | None
    time_estimated: bool
    lat: float | None
    lon: float | None
    altitude: float | None
    camera_make: str | None
    camera_model: str | None
    extras: dict[str, Any]
    # Set when the pixels only partly decode (truncated or corrupt data): why it is damaged.
    damage: str | None = None
    # The offset written with the chosen date, and the GPS clock (naive UTC): pipelines/capture.py.
    exif_offset: str | None = None
    gps_at: datetime | None = None


@dataclass
class StageResult:
    stage: str
    model: str
    weights_id: str
    items: list[Label] | list[Box]


@dataclass
class Result:
    """What a worker found. kind: "photo" (decoded), "known" (hash already fully indexed),
    "labels" (re-label of a known photo) or "error" (reason says why)."""

    task: Task
    kind: str
    sha256: str | None = None
    size: int = 0
    mtime_ns: int = 0
    facts: PhotoFacts | None = None
    stages: list[StageResult] = field(default_factory=list)
    reason: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    thumbnail: bytes | None = None  # the JPEG, when WorkerConfig.thumbs_inline


class Worker:
    """The state of one worker process: config, loaded labelers, a read-only DB handle."""

    def __init__(self, cfg: WorkerConfig) -> None:
        from atw.core.engine import make_engine

        self.cfg = cfg
        self.zone = zone_name(cfg.file_time_zone)
        self.engine = make_engine(cfg.database_url)
        self.labelers: dict[str, Any] = {}
        if cfg.specs:
            from pipelines.labelers.registry import load

            self.labelers = {spec.stage: load(spec) for spec in cfg.specs}
        self.min_short = max([lb.min_short_side for lb in self.labelers.values()], default=0)
        self.min_long = max([cfg.thumb_size, *(lb.min_long_side for lb in self.labelers.values())])

    def __call__(self, task: Task) -> Result:
        from atw.core.media import BadImage, one_line

        t0 = time.perf_counter()
        res = Result(task=task, kind="error", size=task.size, mtime_ns=task.mtime_ns)
        try:
            self._work(task, res)
        except BadImage as exc:
            res.kind, res.reason = "error", str(exc)
        except MemoryError:
            res.kind, res.reason = "error", "out of memory while decoding"
        except Exception as exc:  # a bug or an unforeseen file: record it, keep going
            res.kind, res.reason = "error", f"{type(exc).__name__}: {one_line(exc)}"
        res.seconds["total"] = time.perf_counter() - t0
        return res

    def _work(self, task: Task, res: Result) -> None:
        from atw.core import media

        t = time.perf_counter()
        data, res.sha256, res.size, res.mtime_ns = self._read(task)
        res.seconds["read"] = time.perf_counter() - t
        if task.photo_id is None:
            need = self._needs(res.sha256)
            if need is None:
                res.kind = "known"
                return
            stages = need
        else:
            stages = task.stages or ()
        t = time.perf_counter()
        img = media.open_image(data if data is not None else task.path, self.cfg.max_pixels)
        facts = self._facts(img, res.mtime_ns)
        res.seconds["exif"] = time.perf_counter() - t
        # Size as displayed: from the header (before draft decoding shrinks img.size), swapped
        # when the orientation turns the picture.
        w, h = img.size
        if img.format not in media.SELF_ORIENTING and facts.orientation in (5, 6, 7, 8):
            w, h = h, w
        facts.width, facts.height = w, h
        t = time.perf_counter()
        source = data if data is not None else task.path
        upright, facts.damage = media.decode_or_salvage(
            source, img, facts.orientation, self.min_short, self.min_long, self.cfg.max_pixels
        )
        res.seconds["decode"] = time.perf_counter() - t
        t = time.perf_counter()
        thumb = media.thumb_path(self.cfg.thumbs_dir, res.sha256)
        if not thumb.exists():  # (a Ray worker on another machine sees no thumbnail there)
            data_jpeg = media.thumbnail_bytes(upright, self.cfg.thumb_size, self.cfg.thumb_quality)
            if self.cfg.thumbs_inline:
                res.thumbnail = data_jpeg
            else:
                media.write_atomic(thumb, data_jpeg)
        res.seconds["thumbnail"] = time.perf_counter() - t
        for stage in stages:
            labeler = self.labelers.get(stage)
            if labeler is None:
                continue
            t = time.perf_counter()
            items = labeler(upright)
            res.seconds[stage] = time.perf_counter() - t
            res.stages.append(
                StageResult(stage, labeler.spec.model, labeler.spec.weights_id, list(items))
            )
        res.facts = facts
        res.kind = "photo" if task.photo_id is None else "labels"

    def _read(self, task: Task) -> tuple[bytes | None, str, int, int]:
        """Read and hash the file; size and mtime are those of the bytes actually read."""
        from atw.core.media import BadImage

        try:
            # O_NONBLOCK: a FIFO put in place after the scan must not block the worker.
            fd = os.open(task.path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            raise BadImage(f"cannot read: {exc.strerror or exc}") from None
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise BadImage("not a regular file (a pipe, socket or device)")
            os.set_blocking(fh.fileno(), True)
            if st.st_size == 0:
                raise BadImage("empty file (0 bytes)")
            if st.st_size > self.cfg.max_file_bytes:
                raise BadImage(
                    f"file too large: {st.st_size} bytes exceeds MAX_FILE_BYTES "
                    f"({self.cfg.max_file_bytes})"
                )
            try:
                if st.st_size <= READ_IN_MEMORY:
                    data = fh.read()
                    return data, hashlib.sha256(data).hexdigest(), len(data), st.st_mtime_ns
                digest = hashlib.file_digest(fh, "sha256").hexdigest()
            except OSError as exc:
                raise BadImage(f"cannot read: {exc.strerror or exc}") from None
            return None, digest, st.st_size, st.st_mtime_ns

    def _needs(self, sha256: str) -> tuple[str, ...] | None:
        """Stages a content hash still needs; None when it is fully indexed (thumbnail too)."""
        from sqlalchemy import select

        from atw.core.media import thumb_path
        from atw.core.schema import Photo, StageDone

        all_stages = tuple(self.labelers)
        with self.engine.connect() as conn:
            photo_id = conn.execute(select(Photo.id).where(Photo.sha256 == sha256)).scalar()
            if photo_id is None:
                return all_stages
            done = {
                (r.stage, r.model, r.weights_id)
                for r in conn.execute(
                    select(StageDone.stage, StageDone.model, StageDone.weights_id).where(
                        StageDone.photo_id == photo_id
                    )
                )
            }
        missing = tuple(
            s
            for s, lb in self.labelers.items()
            if (s, lb.spec.model, lb.spec.weights_id) not in done
        )
        if missing or not thumb_path(self.cfg.thumbs_dir, sha256).exists():
            return missing
        return None

    def _facts(self, img: Any, mtime_ns: int) -> PhotoFacts:
        from pipelines.capture import capture
        from pipelines.exif import read_exif

        ex = read_exif(img)
        cap = capture(img, ex)  # dates and GPS from XMP, IPTC and PNG text too
        taken_at, offset, estimated = cap.taken_at, None, False
        extras: dict[str, Any] = dict(ex.extras)
        if taken_at is None:
            # No date in the metadata: the file's modification time, read in the configured
            # zone (FILE_TIME_ZONE), marked estimated, with that zone's offset and name kept.
            (taken_at, offset), estimated = file_time(mtime_ns, self.zone), True
            extras["time_zone_assumed"] = self.zone
        else:
            extras["date_source"] = cap.date_source
        if cap.position_source == "XMP":
            extras["position_source"] = "XMP"
        return PhotoFacts(
            format=img.format,
            width=img.size[0],
            height=img.size[1],
            orientation=ex.orientation,
            taken_at=taken_at,
            utc_offset=offset,
            time_estimated=estimated,
            lat=cap.lat,
            lon=cap.lon,
            altitude=ex.altitude,
            camera_make=ex.camera_make,
            camera_model=ex.camera_model,
            extras=extras,
            exif_offset=cap.offset if not estimated else None,
            gps_at=cap.gps_at,
        )
