"""An index run: scan roots, decide what needs work, fan out to workers, write in batches.

A run that has many new files works in two phases (INDEX_TWO_PHASE): first every new file is
read once for its metadata and thumbnail (workers without models, JPEGs decoded at the
thumbnail's draft size) and listed, then the places stage places them, then the labelling phase
decodes them again at the models' size and labels them; the dashboard shows every photo, with
its date and place, long before labelling ends. Between and inside the phases the index is whole:
a killed run's next run lists what was not listed and labels what has no labels (StageDone)."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from atw.core import clock, media
from atw.core.engine import create_schema, make_engine
from atw.core.locks import RunLock, run_lock
from atw.core.schema import IndexRun
from pipelines import places, planning, scan
from pipelines.labelers.base import LabelerSpec
from pipelines.planning import mark_missing as _mark_missing
from pipelines.pool import Pool
from pipelines.worker import Result, Task, WorkerConfig
from pipelines.writer import Writer, now

# A pool of workers over a config for n of them (pipelines.pool.Pool, pipelines.raypool.RayPool).
OpenPool = Callable[[WorkerConfig, int], Any]


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
    # Two-phase runs (INDEX_TWO_PHASE): photos listed and labelled, each phase's wall time.
    phases: int = 1
    listed: int = 0
    labelled: int = 0
    listing_seconds: float = 0.0
    labelling_seconds: float = 0.0
    # The places stage (pipelines/places.py): photos it placed and re-timed, and its seconds.
    placed: int = 0
    places_seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        rate = self.processed / self.seconds if self.seconds else 0.0
        two = ""
        if self.phases == 2:
            two = (
                f"two phases: {self.listed} listed in {self.listing_seconds:.1f} s "
                f"({_rate(self.listed, self.listing_seconds)}), {self.labelled} labelled in "
                f"{self.labelling_seconds:.1f} s ({_rate(self.labelled, self.labelling_seconds)}); "
            )
        return (
            f"{self.seen} files: {self.indexed} indexed, {self.new_paths} new paths of known "
            f"photos, {self.unchanged} unchanged, {self.relabelled} re-labelled, "
            f"{self.quarantined + self.still_quarantined} quarantined "
            f"({self.quarantined} this run), {self.missing} newly missing, "
            f"{self.placed} placed; {two}"
            f"{self.seconds:.1f} s, {rate:.1f} photos/s"
        )


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:.1f} photos/s" if seconds else "-"


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
    on_listed: Callable[[], None] | None = None,
) -> RunSummary:
    """Index `roots` incrementally into config["DATABASE_URL"]; returns the summary.

    Unchanged files (same size and mtime) are not read; new or changed files are hashed, and a
    hash already indexed only gains a path; labels are (re)computed when a stage's model differs
    from the configured one, or for the stages named in `relabel`. New photos get Photo.source
    = `source` ("upload" when the background upload indexer runs over <instance>/uploads).
    A two-phase run calls `on_listed` between its phases, when every file is listed and placed
    (tests pause there)."""
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
    t0 = time.monotonic()
    status, error = "failed", None
    try:
        bar = _bar(progress, desc="scanning", unit=" files", total=None)
        exclude = planning.exclude_instance(config["INSTANCE_PATH"])
        found = planning.plan(session, writer, root_list, exclude, specs, relabel, bar)
        if bar is not None:
            bar.close()
        summary.seen, summary.unchanged = found.files, found.unchanged
        summary.still_quarantined = found.still_quarantined
        summary.processed = len(found.tasks)
        placed = False
        if found.tasks:
            placed = _work(
                session, config, specs, found, writer, summary, progress, relabel, on_listed
            )
        # Places of the photos just written and of known ones under the roots whose places
        # are missing or stale: from the index alone, no file read again.
        _places(session, root_list, summary, progress, places.STAGE in relabel and not placed)
        summary.missing = _mark_missing(session, root_list, found.seen)
        status = "completed"
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        session.rollback()  # a failure inside a transaction must not hide the run's record
        summary.seconds = time.monotonic() - t0
        for key in ("indexed", "new_paths", "unchanged", "relabelled", "quarantined", "labelled"):
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
        if lock.whole_instance or not media.temp_alive(tmp):
            tmp.unlink(missing_ok=True)


def two_phase(config: Mapping[str, Any], found: planning.Plan, specs: list[LabelerSpec]) -> bool:
    """Whether a run lists every new file before it labels any (INDEX_TWO_PHASE): `always`,
    `never`, or `auto`: when it labels and has more than INDEX_TWO_PHASE_MIN new files."""
    mode = str(config.get("INDEX_TWO_PHASE") or "auto").lower()
    new = found.new_files()
    if not specs or not new or mode == "never":
        return False
    return mode == "always" or new > int(config.get("INDEX_TWO_PHASE_MIN") or 0)


def _work(
    session: Session,
    config: Mapping[str, Any],
    specs: list[LabelerSpec],
    found: planning.Plan,
    writer: Writer,
    summary: RunSummary,
    progress: bool,
    relabel: set[str],
    on_listed: Callable[[], None] | None,
) -> bool:
    """Read the files the scan found and label the photos, in one pass or in two phases (list
    everything, place it, then label); True when the places are done already."""
    roots = summary.roots
    with _engine(config) as open_pool:
        if not two_phase(config, found, specs):
            _process(config, specs, found.tasks, writer, summary, progress, open_pool, "indexing")
            return False
        summary.phases, t = 2, time.monotonic()
        first = deque(t for t in found.tasks if t.photo_id is None)
        _process(config, [], first, writer, summary, progress, open_pool, "1/2 listing")
        _places(session, roots, summary, progress, places.STAGE in relabel)
        summary.listed, summary.listing_seconds = writer.counts["indexed"], time.monotonic() - t
        if on_listed is not None:
            on_listed()
        t = time.monotonic()
        second = deque(planning.relabel_tasks(session, roots, specs, relabel))
        summary.processed = len(first) + len(second)
        _process(config, specs, second, writer, summary, progress, open_pool, "2/2 labelling")
        summary.labelling_seconds = time.monotonic() - t
        return True


@contextlib.contextmanager
def _engine(config: Mapping[str, Any]) -> Iterator[OpenPool]:
    """The pools of a run's phases (INDEX_ENGINE): local worker processes (INDEX_WORKERS, one
    per core by default), or Ray actors (pipelines/raypool.py), one Ray session for the run."""
    timeout = float(config["FILE_TIMEOUT"])
    workers = int(config.get("INDEX_WORKERS") or 0)
    if str(config.get("INDEX_ENGINE") or "local").lower() != "ray":
        yield lambda cfg, n: Pool(min(workers or os.cpu_count() or 1, n), cfg, timeout)
        return
    from pipelines.raypool import RaySession

    address, gpus = str(config.get("RAY_ADDRESS") or ""), float(config.get("RAY_GPUS") or 0)
    with RaySession(address, gpus) as ray:
        yield lambda cfg, n: ray.pool(workers, cfg, timeout)


def _places(
    session: Session, roots: list[str], summary: RunSummary, progress: bool, redo: bool
) -> None:
    bar = partial(_bar, True, desc="places", unit=" photos") if progress else None
    done = places.run_places(session, planning.under_any(roots, session), redo=redo, bar=bar)
    summary.placed += done.photos
    summary.places_seconds += done.seconds


def _process(
    config: Mapping[str, Any],
    specs: list[LabelerSpec],
    tasks: deque[Task],
    writer: Writer,
    summary: RunSummary,
    progress: bool,
    open_pool: OpenPool,
    desc: str,
) -> None:
    """Tasks through a pool (labelled by `specs`), results written in batches of
    INDEX_BATCH_SIZE (or every 5 s), a progress bar with photos/s and the time left."""
    if not tasks:
        return
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
    batch_size = int(config["INDEX_BATCH_SIZE"])
    bar = _bar(progress, desc=desc, unit=" photos", total=len(tasks))
    batch: list[Result] = []
    last_write = time.monotonic()
    with open_pool(cfg, len(tasks)) as pool:
        started = time.monotonic()
        for result in pool.run(tasks):
            batch.append(result)
            for k, v in result.seconds.items():
                summary.stage_seconds[k] = summary.stage_seconds.get(k, 0.0) + v
            if len(batch) >= batch_size or time.monotonic() - last_write > 5:
                _write(writer, batch, cfg.thumbs_dir)
                batch, last_write = [], time.monotonic()
            if bar is not None:
                bar.update()
        if batch:
            _write(writer, batch, cfg.thumbs_dir)
        summary.work_seconds += time.monotonic() - started
    if bar is not None:
        bar.close()


def _write(writer: Writer, batch: list[Result], thumbs_dir: str) -> None:
    """Thumbnails sent back by the workers (the Ray engine's) first, then the batch's rows: a
    photo row never points to a thumbnail not yet written."""
    for r in batch:
        if r.thumbnail is not None and r.sha256 is not None:
            path = media.thumb_path(thumbs_dir, r.sha256)
            if not path.exists():
                media.write_atomic(path, r.thumbnail)
            r.thumbnail = None
    writer.write_batch(batch)


def _bar(progress: bool, **kw: Any) -> Any:
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(dynamic_ncols=True, smoothing=0.1, **kw)
