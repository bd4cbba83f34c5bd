"""The upkeep of the class-group rows (atw.core.group_rows): beside PhotoClass in the writer's
transaction (atw.core.derived calls replace; the rows are written when the transaction commits),
and the rebuild of all of them (a new vocabulary version, revision 0003, a repair)."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    event,
    insert,
    select,
    true,
    tuple_,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session

from atw.core.group_rows import (
    META_KEY,
    NO_TIME,
    REBUILD_CHUNK,
    ClassRow,
    count_deltas,
    current,
    provenance,
    rows_of,
    stored_groups,
    stored_version,
)
from atw.core.group_schema import GroupCount, PhotoGroup
from atw.core.schema import Meta, Photo, PhotoClass

# --- upkeep, inside the writer's transaction ---------------------------------------------


def replace(
    session: Session,
    photo_id: int,
    old: list[ClassRow],
    new: list[ClassRow],
) -> None:
    """A photo's class rows change from `old` to `new` (each with its taken_at and sort_time
    copies, the same for all). The group rows follow when the transaction commits (one pass
    for all the photos of a writer's batch, and once for a photo whose stages are written one
    after the other): see write_pending. Nothing while the rows are stale."""
    if not (old or new) or not current(session):
        return
    pending = session.info.get(PENDING)
    if pending is None:
        pending = session.info[PENDING] = {}
        if not event.contains(session, "before_commit", _before_commit):
            event.listen(session, "before_commit", _before_commit)
            event.listen(session, "after_rollback", _after_rollback)
    first = pending.get(photo_id, (list(old), []))[0]
    pending[photo_id] = (first, list(new))


PENDING = "atw.group_rows.pending"  # session.info: photo id → (class rows before, after)


def _before_commit(session: Session) -> None:
    write_pending(session)


def _after_rollback(session: Session) -> None:
    session.info.pop(PENDING, None)


def write_pending(session: Session) -> None:
    """Bring the group rows of the photos whose class rows changed in this transaction up to
    date: the rows that change deleted by primary key and inserted, the counts fixed (called
    before the transaction commits; call it to read them earlier in the same transaction)."""
    pending = session.info.pop(PENDING, None)
    if not pending:
        return
    gone: list[dict[str, Any]] = []
    added: list[dict[str, Any]] = []
    for photo_id, (old, new) in pending.items():
        before = {r["grp"]: r for r in _rows(photo_id, old)}
        after = {r["grp"]: r for r in _rows(photo_id, new)}
        gone += [r for g, r in before.items() if after.get(g) != r]
        added += [r for g, r in after.items() if before.get(g) != r]
    conn = session.connection()
    if gone:  # by primary key, one statement executed for each row
        conn.execute(
            _DELETE, [{"g": r["grp"], "t": r["taken_at"], "p": r["photo_id"]} for r in gone]
        )
    if added:
        conn.execute(insert(PhotoGroup.__table__), added)
    deltas = count_deltas(added)
    deltas.subtract(count_deltas(gone))
    apply_counts(session, deltas)


def _rows(photo_id: int, rows: list[ClassRow]) -> list[dict[str, Any]]:
    """rows_of a photo's class rows, with the capture time and sort key they copy."""
    if not rows:
        return []
    last = rows[-1]
    return rows_of(photo_id, last["taken_at"], rows, sort_time=last["sort_time"])


_G = PhotoGroup.__table__
_BY_KEY = (_G.c.grp == bindparam("g"), _G.c.taken_at == bindparam("t"))
_BY_KEY += (_G.c.photo_id == bindparam("p"),)
_DELETE = delete(_G).where(*_BY_KEY)
_RETIME = update(_G).where(*_BY_KEY).values(sort_time=bindparam("s"))


def set_sort_times(session: Session, photo_ids: Sequence[int]) -> None:
    """These photos' sort_time changed (the places stage re-timed them; their PhotoClass
    copies already follow): copy it into their group rows, found by primary key from their
    class rows (which groups they are in). Nothing while the rows are stale (a rebuild will
    write them). The times travel as the driver reads and writes them, and the updates go in
    key order (a first run re-times most photos, ~40 rows each: this halves the places stage's
    time there)."""
    if not photo_ids or not current(session):
        return
    write_pending(session)  # rows still to write carry the time they were given
    conn = session.connection()
    of_class = stored_groups().of_class
    as_stored = DateTime().dialect_impl(conn.dialect).bind_processor(conn.dialect)
    no_time = as_stored(NO_TIME) if as_stored else NO_TIME
    raw = String()  # no conversion either way: the driver's own value of the column
    cols = (PhotoClass.photo_id, PhotoClass.source, PhotoClass.label)
    times = (type_coerce(Photo.taken_at, raw), type_coerce(Photo.sort_time, raw))
    q = (
        select(*cols, *times)
        .join(Photo, Photo.id == PhotoClass.photo_id)
        .where(PhotoClass.photo_id.in_(photo_ids))
    )
    keys: dict[tuple[int, Any, int], Any] = {}
    for pid, source, label, taken, sort in conn.execute(q):
        for g in of_class.get((source, label), ()):
            keys[(g, no_time if taken is None else taken, pid)] = sort
    if not keys:
        return
    stmt = _RETIME.compile(dialect=conn.dialect)  # run by the driver: no conversion
    rows = [(*k, keys[k]) for k in sorted(keys)]  # key order: each b-tree page visited once
    if stmt.positional:  # the driver's parameters: tuples in the statement's order, or dicts
        at = ["gtps".index(name) for name in stmt.positiontup or ()]
        conn.exec_driver_sql(str(stmt), [tuple(r[i] for i in at) for r in rows])
    else:
        conn.exec_driver_sql(str(stmt), [dict(zip("gtps", r, strict=True)) for r in rows])


def apply_counts(session: Session, deltas: Counter[tuple[int, str, int]]) -> None:
    """Add deltas to GroupCount in three statements: read the rows there are, update those,
    insert the rest (the writer is the only writer). A row that reaches 0 stays (it counts
    nothing; a rebuild leaves such rows out)."""
    changes = {k: d for k, d in deltas.items() if d}
    if not changes:
        return
    conn = session.connection()
    t = GroupCount.__table__
    key = tuple_(t.c.grp, t.c.source, t.c.bucket)
    there = {
        (r.grp, r.source, r.bucket)
        for r in conn.execute(select(t.c.grp, t.c.source, t.c.bucket).where(key.in_(changes)))
    }
    old = [
        {"g": g, "s": s, "b": b, "d": d} for (g, s, b), d in changes.items() if (g, s, b) in there
    ]
    new = [
        {"grp": g, "source": s, "bucket": b, "photos": d}
        for (g, s, b), d in changes.items()
        if (g, s, b) not in there
    ]
    if any(r["photos"] < 0 for r in new):
        raise RuntimeError(f"group_count out of step: {[r for r in new if r['photos'] < 0]}")
    if old:
        conn.execute(_ADD, old)
    if new:
        conn.execute(insert(t), new)


_T = GroupCount.__table__
_ADD = (
    update(_T)
    .where(_T.c.grp == bindparam("g"), _T.c.source == bindparam("s"), _T.c.bucket == bindparam("b"))
    .values(photos=_T.c.photos + bindparam("d"))
)


# --- rebuilding (a new vocabulary, the migration, a repair) ------------------------------


def _staging() -> Table:
    cols = [Column(c.name, c.type) for c in PhotoGroup.__table__.columns]
    return Table("photo_group_staging", MetaData(), *cols, prefixes=["TEMPORARY"])


def rebuild(
    session: Session,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Recompute every PhotoGroup and GroupCount row from PhotoClass with this atw's vocabulary
    and record its version (idempotent, inside the caller's transaction; the caller holds the
    index lock). Rows go to a temporary table first, then into photo_group in key order (one
    sorted pass instead of random inserts into a large b-tree). Returns the rows written."""
    groups = stored_groups()
    session.info.pop(PENDING, None)  # everything is derived again below
    session.execute(delete(PhotoGroup))
    session.execute(delete(GroupCount))
    staging = _staging()
    conn = session.connection()
    staging.create(conn)
    ids = list(session.scalars(select(Photo.id).where(Photo.listed == true()).order_by(Photo.id)))
    cols = [
        PhotoClass.__table__.c[n] for n in ("photo_id", "taken_at", "sort_time", "source", "label")
    ]
    cols += [PhotoClass.__table__.c[n] for n in ("score", "s2", "s3", "s4", "s5", "n")]
    counts: Counter[tuple[int, str, int]] = Counter()
    written = 0
    for i in range(0, len(ids), REBUILD_CHUNK):
        lo, hi = ids[i], ids[min(i + REBUILD_CHUNK, len(ids)) - 1]
        by_photo: dict[int, list[ClassRow]] = defaultdict(list)
        for r in conn.execute(select(*cols).where(PhotoClass.photo_id.between(lo, hi))):
            by_photo[r.photo_id].append(r._mapping)
        rows = [
            row
            for pid, its in by_photo.items()
            for row in rows_of(pid, its[0]["taken_at"], its, groups, its[0]["sort_time"])
        ]
        if rows:
            conn.execute(insert(staging), rows)
        counts.update(count_deltas(rows))
        written += len(rows)
        if progress is not None:
            progress(min(i + REBUILD_CHUNK, len(ids)), len(ids))
    order = [staging.c.grp, staging.c.taken_at, staging.c.photo_id]
    conn.execute(insert(PhotoGroup).from_select(list(staging.c), select(staging).order_by(*order)))
    staging.drop(conn)
    if counts:
        conn.execute(
            insert(GroupCount),
            [
                {"grp": g, "source": s, "bucket": b, "photos": n}
                for (g, s, b), n in sorted(counts.items())
                if n
            ],
        )
    meta = session.get(Meta, META_KEY)
    if meta is None:
        session.add(Meta(key=META_KEY, value=groups.version))
    else:
        meta.value = groups.version
    session.flush()
    session.info[META_KEY] = True
    return written


def rebuild_if_stale(session: Session, echo: Callable[[str], None] | None = None) -> bool:
    """Rebuild the group rows when they do not follow this atw's vocabulary; True if it did.
    echo gets a line now and then (the photos done), for a long rebuild."""
    if current(session):
        return False
    say = echo or (lambda _line: None)
    if session.scalar(select(PhotoClass.photo_id).limit(1)) is None:
        say = lambda _line: None  # noqa: E731 (nothing to derive: a new index, quietly)
    before = stored_version(session)
    say(
        f"atw: class groups follow vocabulary {before or 'none'}; this atw has "
        f"{provenance()}: rebuilding the group rows …"
    )
    t0, last = time.monotonic(), [time.monotonic()]

    def progress(done: int, total: int) -> None:
        if done == total or time.monotonic() - last[0] > 5:
            say(f"    group rows: {done:,} of {total:,} photos")
            last[0] = time.monotonic()

    n = rebuild(session, progress)
    say(f"atw: {n:,} group rows written ({time.monotonic() - t0:.1f} s)")
    return True
