"""What an index run has to do: scan the roots, files to read, photos to (re)label, paths gone."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from atw.core import dialect
from atw.core.schema import PhotoPath, Quarantine, StageDone
from pipelines import scan
from pipelines.labelers.base import LabelerSpec
from pipelines.worker import Task
from pipelines.writer import Writer, now

LOOKUP_CHUNK = 500


@dataclass
class Plan:
    """The scan's findings: tasks (new or changed files first, then known photos whose labels
    are missing or stale), every path seen, and what needs nothing."""

    tasks: deque[Task] = field(default_factory=deque)
    seen: set[str] = field(default_factory=set)
    files: int = 0
    unchanged: int = 0
    still_quarantined: int = 0

    def new_files(self) -> int:
        """Tasks that read a file not indexed as it is (new, changed, or quarantined before)."""
        return sum(1 for t in self.tasks if t.photo_id is None)


def plan(
    session: Session,
    writer: Writer,
    roots: list[str],
    exclude: tuple[str, ...],
    specs: list[LabelerSpec],
    relabel: set[str],
    bar: Any = None,
) -> Plan:
    """Scan the roots: which files need work (new, changed, stale labels), and which were seen."""
    found = Plan()
    queued: set[str] = set()
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
                found.unchanged += 1
                if p.missing_since is not None:
                    back.append(e.path)
            elif q is not None and q.size == e.size and q.mtime_ns == e.mtime_ns:
                found.still_quarantined += 1
            else:
                found.tasks.append(Task(e.path, e.root, e.size, e.mtime_ns))
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
                found.seen.add(item.path)
                continue
            found.seen.add(item.path)
            found.files += 1
            chunk.append(item)
            if len(chunk) >= LOOKUP_CHUNK:
                flush()
            if bar is not None:
                bar.update()
    if chunk:
        flush()
    if specs:
        found.tasks.extend(relabel_tasks(session, roots, specs, relabel, queued))
    return found


def relabel_tasks(
    session: Session,
    roots: list[str],
    specs: list[LabelerSpec],
    relabel: set[str],
    queued: Collection[str] = (),
) -> list[Task]:
    """Tasks for the known photos under the roots whose labels are missing or from another
    model (every one of them for the stages in `relabel`): one present path each, not one of
    `queued` (files read anyway)."""
    tasks: list[Task] = []
    stale_by_photo: dict[int, list[str]] = {}
    for spec in specs:
        done = select(StageDone.photo_id).where(
            StageDone.stage == spec.stage,
            StageDone.model == spec.model,
            StageDone.weights_id == spec.weights_id,
        )
        q = (
            select(PhotoPath.photo_id)
            .where(PhotoPath.missing_since.is_(None), under_any(roots, session))
            .distinct()
        )
        if spec.stage not in relabel:
            q = q.where(PhotoPath.photo_id.not_in(done))
        for pid in session.scalars(q):
            stale_by_photo.setdefault(pid, []).append(spec.stage)
    session.rollback()
    if not stale_by_photo:
        return tasks
    ids = list(stale_by_photo)
    for i in range(0, len(ids), LOOKUP_CHUNK):
        part = ids[i : i + LOOKUP_CHUNK]
        first = (
            select(PhotoPath.photo_id, func.min(PhotoPath.path).label("path"))
            .where(
                PhotoPath.photo_id.in_(part),
                PhotoPath.missing_since.is_(None),
                under_any(roots, session),
            )
            .group_by(PhotoPath.photo_id)
        )
        rows = session.execute(first).all()
        paths = {r.path: r.photo_id for r in rows}
        for p in session.scalars(select(PhotoPath).where(PhotoPath.path.in_(list(paths)))):
            if p.path in queued:
                continue
            stages = tuple(stale_by_photo[p.photo_id])
            tasks.append(Task(p.path, p.root, p.size, p.mtime_ns, p.photo_id, stages))
    session.rollback()
    return tasks


def under_any(roots: list[str], session: Session) -> Any:
    """Paths that are one of the roots or inside one: atw.core.dialect.path_under, the one exact,
    case-sensitive prefix test (SQL LIKE ignores case: /photos/Trip would take in /photos/trip)."""
    name = session.get_bind().dialect.name
    return or_(*(dialect.path_under(PhotoPath.path, r, name) for r in roots))


def mark_missing(session: Session, roots: list[str], seen: set[str]) -> int:
    """Paths under the scanned roots that were not found this time are marked missing."""
    gone: list[int] = []
    for p in session.execute(
        select(PhotoPath.id, PhotoPath.path).where(
            PhotoPath.missing_since.is_(None), under_any(roots, session)
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


def exclude_instance(instance_path: str) -> tuple[str, ...]:
    """Folders a scan never enters: atw's own instance folder."""
    return (os.path.abspath(instance_path),)
