"""An index run: scan roots, decide what needs work, fan out to workers, write in batches."""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from atw.core import clock, dialect
from atw.core.engine import create_schema, make_engine
from atw.core.locks import RunLock, run_lock
from atw.core.media import temp_alive
from atw.core.schema import IndexRun, PhotoPath, Quarantine, StageDone
from pipelines import places, scan
from pipelines.labelers.base import LabelerSpec
from pipelines.pool import Pool
from pipelines.worker import Task, WorkerConfig
from pipelines.writer import Writer, now

LOOKUP_CHUNK = 500


@dataclass
class RunSummary:
    """What a run did; printed at the end and stored in index_run."""

    run_id: int
    roots: list[str]
    seen: int = 0
    indexed: int = 0
    new_paths: int = 0
    unchanged: int = 0
    relabelled: int = 0
    quarantined: int = 0
    still_quarantined: int = 0
    missing: int = 0
    seconds: float = 0.0
    # Wall time of the processing alone: from the workers being ready to the last write.
    work_seconds: float = 0.0
    processed: int = 0
    # The places stage (pipelines/places.py): photos it placed and re-timed, and its seconds.
    placed: int = 0
    places_seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        rate = self.processed / self.seconds if self.seconds else 0.0
        return (
            f"{self.seen} files: {self.indexed} indexed, {self.new_paths} new paths of known "
            f"photos, {self.unchanged} unchanged, {self.relabelled} re-labelled, "
            f"{self.quarantined + self.still_quarantined} quarantined "
            f"({self.quarantined} this run), {self.missing} newly missing, "
            f"{self.placed} placed; "
            f"{self.seconds:.1f} s, {rate:.1f} photos/s"
        )


def resolve_stages(config: Mapping[str, Any]) -> list[LabelerSpec]:
    """The labelers this configuration asks for, with their weights found (or WeightsMissing)."""
    stages = [s.strip() for s in str(config.get("LABELERS", "")).split(",") if s.strip()]
    if not stages:
        return []
    from pipelines.labelers.registry import resolve

    return resolve(stages, config)


def run_index(
    roots: Sequence[str | os.PathLike[str]],
    config: Mapping[str, Any],
    *,
    relabel: Iterable[str] = (),
    progress: bool = True,
    specs: list[LabelerSpec] | None = None,
    source: str = "scan",
) -> RunSummary:
    """Index `roots` incrementally into config["DATABASE_URL"]; returns the summary.

    Unchanged files (same size and mtime) are not read; new or changed files are hashed, and a
    hash already indexed only gains a path; labels are (re)computed when a stage's model differs
    from the configured one, or for the stages named in `relabel`. New photos get Photo.source
    = `source` ("upload" when the background upload indexer runs over <instance>/uploads)."""
    specs = resolve_stages(config) if specs is None else specs
    relabel = set(relabel)
    root_list = [scan.norm_root(r) for r in roots]
    for r in root_list:
        if not os.path.exists(r):
            raise FileNotFoundError(f"no such file or folder: {r}")
    # The zone of file times used when a photo has no EXIF date, resolved once ("local" → a
    # name): every worker reads times in the same, named zone. Raises clock.UnknownZone.
    config = {**config, "FILE_TIME_ZONE": clock.zone_name(config.get("FILE_TIME_ZONE"))}
    lock = run_lock(config["INSTANCE_PATH"], config["DATABASE_URL"], root_list)
    _remove_partial_thumbnails(config["THUMBS_DIR"], lock)
    engine = make_engine(config["DATABASE_URL"])
    try:  # we hold the lock: a new index is created, an older one upgraded (printing its steps)
        create_schema(engine, echo=_say if progress else None)
    except BaseException:
        engine.dispose()
        lock.close()
        raise
    session = Session(engine)
    lock.guard(session)  # PostgreSQL: one writer's transaction at a time (atw.core.locks)
    with session.begin():
        # A run still marked "running" whose roots our lock covers was killed.
        running = session.execute(
            select(IndexRun.id, IndexRun.roots_json).where(IndexRun.status == "running")
        ).all()
        dead = [r.id for r in running if lock.covers(json.loads(r.roots_json))]
        if dead:
            session.execute(
                update(IndexRun).where(IndexRun.id.in_(dead)).values(status="interrupted")
            )
        run = IndexRun(
            started_at=now(),
            roots_json=json.dumps(root_list),
            stages=",".join(
                [*(f"{s.stage}:{s.model}:{s.weights_id}" for s in specs), places.tag()]
            ),
        )
        session.add(run)
        session.flush()
        run_id = run.id
    summary = RunSummary(run_id=run_id, roots=root_list)
    writer = Writer(session, run_id, source=source)
    exclude = (os.path.abspath(config["INSTANCE_PATH"]),)
    t0 = time.monotonic()
    status, error = "failed", None
    try:
        tasks, seen = _plan(session, writer, root_list, exclude, specs, relabel, summary, progress)
        summary.processed = len(tasks)
        if tasks:
            _process(config, specs, tasks, writer, summary, progress)
        # Places of the photos just written and of known ones under the roots whose places
        # are missing or stale: from the index alone, no file read again.
        bar = partial(_bar, True, desc="places", unit=" photos") if progress else None
        redo = places.STAGE in relabel
        done = places.run_places(session, _under_any(root_list, session), redo=redo, bar=bar)
        summary.placed, summary.places_seconds = done.photos, done.seconds
        summary.missing = _mark_missing(session, root_list, seen)
        status = "completed"
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        session.rollback()  # a failure inside a transaction must not hide the run's record
        summary.seconds = time.monotonic() - t0
        for key in ("indexed", "new_paths", "unchanged", "relabelled", "quarantined"):
            setattr(summary, key, getattr(summary, key) + writer.counts[key])
        with session.begin():
            session.execute(
                update(IndexRun)
                .where(IndexRun.id == run_id)
                .values(
                    finished_at=now(),
                    status=status,
                    error=error,
                    seen=summary.seen,
                    indexed=summary.indexed,
                    unchanged=summary.unchanged,
                    new_paths=summary.new_paths,
                    relabelled=summary.relabelled,
                    quarantined=summary.quarantined + summary.still_quarantined,
                    missing=summary.missing,
                )
            )
        session.close()
        engine.dispose()
        lock.close()
    return summary


def _say(line: str) -> None:
    print(line, flush=True)


def _remove_partial_thumbnails(thumbs_dir: str, lock: RunLock) -> None:
    """Temporary files of thumbnails being written when a run was killed. With the whole
    instance locked (SQLite) no other run is writing any; otherwise (PostgreSQL: runs over
    other roots may be writing now) only those of processes that are gone (atw.core.media
    names them .tmp-<pid>-…)."""
    for tmp in Path(thumbs_dir).glob("*/.tmp-*"):
        if lock.whole_instance or not temp_alive(tmp):
            tmp.unlink(missing_ok=True)


def _plan(
    session: Session,
    writer: Writer,
    roots: list[str],
    exclude: tuple[str, ...],
    specs: list[LabelerSpec],
    relabel: set[str],
    summary: RunSummary,
    progress: bool,
) -> tuple[deque[Task], set[str]]:
    """Scan the roots: which files need work (new, changed, stale labels), and which were seen."""
    tasks: deque[Task] = deque()
    seen: set[str] = set()
    queued: set[str] = set()
    bar = _bar(progress, desc="scanning", unit=" files", total=None)
    chunk: list[scan.FileEntry] = []

    def flush() -> None:
        paths = [e.path for e in chunk]
        known = {
            p.path: p for p in session.scalars(select(PhotoPath).where(PhotoPath.path.in_(paths)))
        }
        quarantined = {
            q.path: q for q in session.scalars(select(Quarantine).where(Quarantine.path.in_(paths)))
        }
        back: list[str] = []
        for e in chunk:
            p, q = known.get(e.path), quarantined.get(e.path)
            if p is not None and p.size == e.size and p.mtime_ns == e.mtime_ns and q is None:
                summary.unchanged += 1
                if p.missing_since is not None:
                    back.append(e.path)
            elif q is not None and q.size == e.size and q.mtime_ns == e.mtime_ns:
                summary.still_quarantined += 1
            else:
                tasks.append(Task(e.path, e.root, e.size, e.mtime_ns))
                queued.add(e.path)
        session.rollback()
        if back:  # files that had gone missing are back
            with session.begin():
                session.execute(
                    update(PhotoPath).where(PhotoPath.path.in_(back)).values(missing_since=None)
                )
        chunk.clear()

    for root in roots:
        for item in scan.walk(root, exclude):
            if isinstance(item, scan.ScanProblem):
                writer.quarantine_problem(item.path, item.root, item.reason)
                seen.add(item.path)
                continue
            seen.add(item.path)
            summary.seen += 1
            chunk.append(item)
            if len(chunk) >= LOOKUP_CHUNK:
                flush()
            if bar is not None:
                bar.update()
    if chunk:
        flush()
    if bar is not None:
        bar.close()
    if specs:
        _plan_relabel(session, roots, specs, relabel, queued, tasks)
    return tasks, seen


def _plan_relabel(
    session: Session,
    roots: list[str],
    specs: list[LabelerSpec],
    relabel: set[str],
    queued: set[str],
    tasks: deque[Task],
) -> None:
    """Queue known photos under the roots whose labels are missing or from another model."""
    stale_by_photo: dict[int, list[str]] = {}
    for spec in specs:
        done = select(StageDone.photo_id).where(
            StageDone.stage == spec.stage,
            StageDone.model == spec.model,
            StageDone.weights_id == spec.weights_id,
        )
        q = (
            select(PhotoPath.photo_id)
            .where(PhotoPath.missing_since.is_(None), _under_any(roots, session))
            .distinct()
        )
        if spec.stage not in relabel:
            q = q.where(PhotoPath.photo_id.not_in(done))
        for pid in session.scalars(q):
            stale_by_photo.setdefault(pid, []).append(spec.stage)
    session.rollback()
    if not stale_by_photo:
        return
    ids = list(stale_by_photo)
    for i in range(0, len(ids), LOOKUP_CHUNK):
        part = ids[i : i + LOOKUP_CHUNK]
        first = (
            select(PhotoPath.photo_id, func.min(PhotoPath.path).label("path"))
            .where(
                PhotoPath.photo_id.in_(part),
                PhotoPath.missing_since.is_(None),
                _under_any(roots, session),
            )
            .group_by(PhotoPath.photo_id)
        )
        rows = session.execute(first).all()
        paths = {r.path: r.photo_id for r in rows}
        for p in session.scalars(select(PhotoPath).where(PhotoPath.path.in_(list(paths)))):
            if p.path in queued:
                continue
            tasks.append(
                Task(
                    p.path,
                    p.root,
                    p.size,
                    p.mtime_ns,
                    p.photo_id,
                    tuple(stale_by_photo[p.photo_id]),
                )
            )
    session.rollback()


def _under_any(roots: list[str], session: Session) -> Any:
    """Paths that are one of the roots or inside one: atw.core.dialect.path_under, the one exact,
    case-sensitive prefix test (SQL LIKE ignores case: /photos/Trip would take in /photos/trip)."""
    name = session.get_bind().dialect.name
    return or_(*(dialect.path_under(PhotoPath.path, r, name) for r in roots))


def _process(
    config: Mapping[str, Any],
    specs: list[LabelerSpec],
    tasks: deque[Task],
    writer: Writer,
    summary: RunSummary,
    progress: bool,
) -> None:
    cfg = WorkerConfig(
        database_url=config["DATABASE_URL"],
        thumbs_dir=config["THUMBS_DIR"],
        thumb_size=int(config["THUMB_SIZE"]),
        thumb_quality=int(config["THUMB_QUALITY"]),
        max_pixels=int(config["MAX_IMAGE_PIXELS"]),
        max_file_bytes=int(config["MAX_FILE_BYTES"]),
        specs=tuple(specs),
        file_time_zone=config["FILE_TIME_ZONE"],
    )
    workers = int(config.get("INDEX_WORKERS") or 0) or (os.cpu_count() or 1)
    workers = min(workers, len(tasks))
    batch_size = int(config["INDEX_BATCH_SIZE"])
    bar = _bar(progress, desc="indexing", unit=" photos", total=len(tasks))
    batch = []
    last_write = time.monotonic()
    with Pool(workers, cfg, float(config["FILE_TIMEOUT"])) as pool:
        started = time.monotonic()
        for result in pool.run(tasks):
            batch.append(result)
            for k, v in result.seconds.items():
                summary.stage_seconds[k] = summary.stage_seconds.get(k, 0.0) + v
            if len(batch) >= batch_size or time.monotonic() - last_write > 5:
                writer.write_batch(batch)
                batch, last_write = [], time.monotonic()
            if bar is not None:
                bar.update()
        if batch:
            writer.write_batch(batch)
        summary.work_seconds = time.monotonic() - started
    if bar is not None:
        bar.close()


def _mark_missing(session: Session, roots: list[str], seen: set[str]) -> int:
    """Paths under the scanned roots that were not found this time are marked missing."""
    gone: list[int] = []
    for p in session.execute(
        select(PhotoPath.id, PhotoPath.path).where(
            PhotoPath.missing_since.is_(None), _under_any(roots, session)
        )
    ):
        if p.path not in seen:
            gone.append(p.id)
    session.rollback()
    if gone:
        with session.begin():
            for i in range(0, len(gone), LOOKUP_CHUNK):
                session.execute(
                    update(PhotoPath)
                    .where(PhotoPath.id.in_(gone[i : i + LOOKUP_CHUNK]))
                    .values(missing_since=now())
                )
    return len(gone)


def _bar(progress: bool, **kw: Any) -> Any:
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(dynamic_ncols=True, smoothing=0.1, **kw)
