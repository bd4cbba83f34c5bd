"""The class rows held in memory, to count the classes of many photos at once (the class picker
within a radius, a country, a folder): numpy arrays in photo-id order, reloaded when the rows
change.

Why: counting the classes of the ~85,000 photos within 20 km of home reads and groups ~630,000
photo_class rows: 0.2–1 s in SQLite at a million photos (by machine); the same rows in arrays
count in ~15 ms. The photos come from SQL (the filter's ids, fetched as one text: exact for
every filter), or for a filter that is only a radius from the listed photos' positions, read
with the rows (atw.query.photo_memory); only "a class counts at score ≥ t" (min_count 1) is
counted here, and the groups from the same rows (atw.query.group_memory).

Exact, or not used: summary_version's (epoch, n) goes up with every write to photo_class
(triggers, atw.core.summary_counts, revision 0010) and to the photo columns the positions hold
(revisions 0006 and 0011); the rows are used only while it equals the version they were
loaded at, read before and after the filter's ids. Each photo's rows follow the walk of the
groups' tree (atw.query.group_tree: the class codes are in its order). A process loads them in
a thread once the index holds MIN_ROWS class rows (SQL answers meanwhile); after a change they
are dropped at once and loaded again once the version has stayed the same for QUIET seconds (an
index run writes a batch every few seconds: SQL answers while it runs). Memory: 10 bytes a class
row (its class and its score in ticks; again class by class, its photo and score: a class
word's photos, atw.query.held_count), 20 a photo, 61 a photo's position (with its place and
capture time: atw.query.photo_memory), 16 a photo's marks of
the groups outside the tree (atw.query.group_memory), and ClassCount summed from each bucket
up (atw.query.class_totals, <1 MiB): a million photos, ~7 million rows: ~150 MiB in each web
process. A request's selection of the rows is kept for its next count (Rows.pick)."""

from __future__ import annotations

import itertools
import logging
import threading
import time
import weakref
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from atw.core import dialect, summary_counts
from atw.core.group_rows import stored_groups
from atw.core.schema import ClassCount
from atw.query import class_totals, group_tree, photo_memory
from atw.query.filters import PhotoFilter

MIN_ROWS = 100_000  # below this (~15,000 photos) SQL reads them all in ~40 ms: nothing held
TICKS = 10_000  # stored scores have 4 decimals (atw.core.derived)
QUIET = 30.0  # seconds the version must stay unchanged before the rows are loaded again

log = logging.getLogger(__name__)
Stamp = tuple[str, int]
# Run on newly read rows, in the thread that reads them: what readers keep with the rows is
# computed there, not in a request (atw.query.group_memory adds its walk and marks).
PREPARE: list[Callable[[Rows], None]] = []


@dataclass(frozen=True)
class Rows:
    """Every class row of the index at one version: photo p's rows are start[i]:start[i + 1]
    of code (an index into keys: (source, label)) and score, where i = slot[p] (-1: none).
    Scores are stored with 4 decimals, so they are held as ticks (score × 10,000, uint16)
    when every one is exactly a tick, else as they are (float64)."""

    stamp: Stamp
    slot: np.ndarray
    start: np.ndarray
    code: np.ndarray
    score: np.ndarray
    keys: list[tuple[str, str]]
    positions: photo_memory.Positions | None = None  # the listed photos', read with the rows
    by_class: ByClass | None = None  # the same rows class by class
    totals: class_totals.Totals | None = None  # ClassCount, read with the rows
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def nbytes(self) -> int:
        own = sum(a.nbytes for a in (self.slot, self.start, self.code, self.score))
        more = (self.positions, self.by_class, self.totals)
        return own + sum(m.nbytes for m in more if m is not None)

    def photos(self, key: tuple[str, str], t: float | None) -> np.ndarray | None:
        """The ordinals (by_class.ids: their ids) of the photos with a row of class key
        ((source, label)) at score ≥ t (every row when None), unordered; None when the rows
        are not held class by class."""
        if self.by_class is None:
            return None
        code = self._codes().get(key)
        if code is None:
            return np.empty(0, dtype=np.int32)
        lo, hi = self.by_class.start[code], self.by_class.start[code + 1]
        photo = self.by_class.photo[lo:hi]
        return photo if t is None else photo[self.by_class.score[lo:hi] >= self._floor(t)]

    def count(
        self, photo_ids: np.ndarray, sources: Collection[str], t: float | None
    ) -> dict[tuple[str, str], int]:
        """{(source, label): photos} among these photos (one row per photo and class, so rows
        are photos), for a class of an allowed source at score ≥ t (every row when None). The
        last answer is kept with the selection (a request's browser counts classes twice)."""
        picked = self.pick(photo_ids)
        asked, counted = (frozenset(sources), t), picked.counted
        if counted is not None and counted[0] == asked:
            return dict(counted[1])
        codes = picked.code
        if t is not None:
            codes = codes[self.score[picked.at] >= self._floor(t)]
        per = np.bincount(codes, minlength=len(self.keys))
        out = {
            key: int(c) for key, c in zip(self.keys, per, strict=True) if c and key[0] in sources
        }
        picked.counted = (asked, out)
        return dict(out)

    def both(
        self, photo_ids: np.ndarray, a: tuple[str, str], b: tuple[str, str], t: float | None
    ) -> int:
        """Photos among these with a row of class a and one of class b ((source, label)), each
        at score ≥ t (a class in both sources: |A and B|)."""
        codes = self._codes()
        if a not in codes or b not in codes:
            return 0
        picked = self.pick(photo_ids)
        code, photo = picked.code, picked.photo
        ok = self.score[picked.at] >= self._floor(t) if t is not None else True
        pa, pb = (photo[(code == codes[k]) & ok] for k in (a, b))
        return len(np.intersect1d(pa, pb, assume_unique=True))

    def select(self, photo_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, photo): the positions of these photos' rows in the arrays, and for each row
        the ordinal of its photo among those with rows (ids outside the index are dropped)."""
        picked = self.pick(photo_ids)
        return picked.at, picked.photo

    def pick(self, photo_ids: np.ndarray) -> Picked:
        """These photos' rows (Picked). The last answer is kept for the same array of ids (one
        request's: the browser counts classes, then groups, then one-class entries)."""
        last = self.memo.get("select")
        if last is not None and last[0] is photo_ids:
            return last[1]
        pid = photo_ids[(photo_ids >= 0) & (photo_ids < len(self.slot))]
        pos = self.slot[pid]
        pos = np.sort(pos[pos >= 0])  # in the arrays' order: reads go forwards
        lo = self.start[pos]
        n = self.start[pos + 1] - lo
        at = np.repeat(lo - (np.cumsum(n) - n), n) + np.arange(int(n.sum()))
        picked = Picked(at, np.repeat(np.arange(len(pos)), n), pos, self.code[at])
        self.memo["select"] = (photo_ids, picked)
        return picked

    def ticks(self, rows: np.ndarray) -> np.ndarray:
        """These rows' scores in ticks (1/10,000: how atw.core.group_rows sums them)."""
        if self.score.dtype == np.uint16:
            return self.score[rows].astype(np.int64)
        return np.rint(self.score[rows] * TICKS).astype(np.int64)

    def _codes(self) -> dict[tuple[str, str], int]:
        codes = self.memo.get("codes")
        if codes is None:
            codes = self.memo["codes"] = {key: i for i, key in enumerate(self.keys)}
        return codes

    def _floor(self, t: float) -> float | int:
        """t for the held scores: the first tick whose score (tick / 10,000, as stored) is ≥ t."""
        if self.score.dtype != np.uint16:
            return t
        return int(np.searchsorted(_TICKS, t, side="left"))


_TICKS = np.arange(TICKS + 1) / TICKS  # each tick's score, as the index stores it


@dataclass
class Picked:
    """Some photos' rows: at, their positions in Rows' arrays (each photo's rows together, the
    photos in slot order); photo, each row's photo's ordinal among these photos; slot, the
    photos' slots (Rows.slot), in that order; code, each row's class (Rows.code[at]); counted:
    the last Rows.count of them ((sources, t), the counts)."""

    at: np.ndarray
    photo: np.ndarray
    slot: np.ndarray
    code: np.ndarray
    counted: tuple[tuple[frozenset[str], float | None], dict[tuple[str, str], int]] | None = None


@dataclass(frozen=True)
class ByClass:
    """The rows class by class (as they are read): key i's rows are start[i]:start[i + 1] of
    photo (the photo's ordinal: its id is ids[photo]) and score (as Rows.score)."""

    start: np.ndarray
    photo: np.ndarray
    score: np.ndarray
    ids: np.ndarray

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.start, self.photo, self.score, self.ids))


def load(engine: Engine, min_rows: int = 0) -> Rows | None:
    """Every class row of the index, or None when it has fewer than min_rows or the rows
    changed while they were read."""
    return _read(engine, min_rows)[0]


def _read(engine: Engine, min_rows: int) -> tuple[Rows | None, Stamp | None]:
    """(rows, None), or (None, the version) when the index is below min_rows, or (None, None).
    One (label, source) range of the primary key at a time (the keys from ClassCount, the
    rows read checked against its total)."""
    with engine.connect() as conn:
        stamp = summary_counts.version(conn)
        total = conn.scalar(select(func.coalesce(func.sum(ClassCount.photos), 0))) or 0
        if stamp is None or total < min_rows:
            return None, stamp
        keys = [
            (s, lb)
            for s, lb in conn.execute(
                select(ClassCount.source, ClassCount.label)
                .group_by(ClassCount.source, ClassCount.label)
                .having(func.sum(ClassCount.photos) > 0)
            )
        ]
        keys.sort(key=group_tree.tree(stored_groups().version).order)  # group_memory's walk
        pid = np.empty(total, dtype=np.int64)
        score = np.empty(total, dtype=np.float64)
        lengths = np.zeros(len(keys), dtype=np.int64)
        at = 0
        for i, (source, label) in enumerate(keys):  # into arrays of ClassCount's total
            for part in conn.execute(_RANGE, {"l": label, "s": source}).partitions(50_000):
                if at + len(part) > total:  # ClassCount out of step with the rows: SQL counts
                    log.warning("class rows in memory: more rows than ClassCount's %d", total)
                    return None, None
                flat = itertools.chain.from_iterable(part)  # (np.array of Rows: 40x slower)
                pair = np.fromiter(flat, np.float64, 2 * len(part)).reshape(-1, 2)  # ids < 2**53
                pid[at : at + len(part)], score[at : at + len(part)] = pair[:, 0], pair[:, 1]
                at += len(part)
                lengths[i] += len(part)
        positions = photo_memory.read(conn)
        totals = class_totals.read(conn)
        if summary_counts.version(conn) != stamp:
            return None, None
    if at != total:
        log.warning("class rows in memory: %d rows read, ClassCount says %d", at, total)
        return None, None
    code = np.repeat(
        np.arange(len(keys), dtype=np.int16 if len(keys) < 2**15 else np.int32), lengths
    )
    by_class_pid, by_class_score = pid, _as_ticks(score)  # (read class by class)
    order = np.argsort(pid, kind="stable")
    pid, code, score = pid[order], code[order], by_class_score[order]
    del order
    first = np.flatnonzero(np.r_[True, pid[1:] != pid[:-1]]) if total else np.empty(0, np.int64)
    ids = pid[first]
    slot = np.full(int(ids[-1]) + 1 if len(ids) else 0, -1, dtype=np.int32)
    slot[ids] = np.arange(len(ids), dtype=np.int32)
    start = np.append(first, total).astype(np.int64)
    class_start = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    by_class = ByClass(class_start, slot[by_class_pid], by_class_score, ids)
    rows = Rows(stamp, slot, start, code, score, keys, positions, by_class, totals)
    for prepare in PREPARE:
        prepare(rows)
    return rows, None


def _as_ticks(score: np.ndarray) -> np.ndarray:
    """The scores as ticks (uint16) when each one is exactly tick / 10,000, else as they are."""
    ticks = np.empty(len(score), dtype=np.uint16)
    for i in range(0, len(score), 1 << 20):
        part = score[i : i + (1 << 20)]
        t = np.rint(part * TICKS)
        if not ((t >= 0) & (t <= TICKS) & (t / TICKS == part)).all():
            return score
        ticks[i : i + len(part)] = t
    return ticks


_RANGE = text("SELECT photo_id, score FROM photo_class WHERE label = :l AND source = :s")


class _Held:
    """One engine's rows, and when to load them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: Rows | None = None
        self.loading = False
        self.tried = False  # a load has run (the next one waits for a quiet version)
        self.small: Stamp | None = None  # the version at which the index was below MIN_ROWS
        self.seen: tuple[Stamp, float] | None = None  # a version, and when it was first seen

    def rows_at(self, engine: Engine, stamp: Stamp) -> Rows | None:
        """The rows if they are at this version; else maybe start loading them."""
        with self.lock:
            if self.rows is not None and self.rows.stamp == stamp:
                return self.rows
            self.rows = None  # another version: never used again, memory freed
            if self.loading or self.small == stamp:
                return None
            now = time.monotonic()
            if self.seen is None or self.seen[0] != stamp:
                self.seen = (stamp, now)
                if self.tried:  # the rows changed since: wait for the writes to settle
                    return None
            elif now - self.seen[1] < QUIET:
                return None
            self.loading = self.tried = True
        threading.Thread(target=self._load, args=(engine,), daemon=True).start()
        return None

    def _load(self, engine: Engine) -> None:
        rows, small = None, None
        try:
            t0 = time.monotonic()
            rows, small = _read(engine, MIN_ROWS)
            if rows is not None:
                took = time.monotonic() - t0
                log.info("class rows in memory: %d rows in %.1f s", len(rows.code), took)
        except Exception:  # a dropped database, a closed engine: SQL keeps answering
            log.exception("class rows in memory: not loaded")
        with self.lock:
            self.loading = False
            self.rows, self.small = rows, small


_HELD: weakref.WeakKeyDictionary[Engine, _Held] = weakref.WeakKeyDictionary()
_HELD_LOCK = threading.Lock()
_NONE = np.empty(0, dtype=np.int64)


def counts(
    session: Session,
    ids: Any,
    sources: Collection[str],
    t: float | None,
    flt: PhotoFilter | None = None,
) -> dict[tuple[str, str], int] | None:
    """{(source, label): photos} of the photos `ids` selects (a SELECT of photo ids; of the
    filter flt) from the rows in memory, or None when they are not held at the index's version
    (count in SQL)."""
    found = held(session, ids, flt)
    return None if found is None else found[0].count(found[1], sources, t)


def held(
    session: Session, ids: Any, flt: PhotoFilter | None = None
) -> tuple[Rows, np.ndarray] | None:
    """(the rows, the ids of the photos `ids` selects), or None when the rows are not held at
    the index's version (count in SQL). flt: the filter `ids` is of; when it is only a radius
    (and dates), its photos come from the positions held with the rows (atw.query.photo_memory),
    no SQL."""
    rows = current(session)
    if rows is None:
        return None
    conn, stamp = session.connection(), rows.stamp
    if flt is not None and rows.positions is not None and rows.positions.answers(flt):
        last = rows.memo.get("within")  # one request's filter: the same ids (Rows.pick)
        if last is None or last[0] is not flt:
            last = rows.memo["within"] = (flt, rows.positions.within(flt))
        return rows, last[1]
    sub = ids.subquery()
    text_ids = conn.scalar(select(dialect.id_list(sub.c[0], conn.dialect.name)))
    photo_ids = np.fromstring(text_ids, dtype=np.int64, sep=",") if text_ids else _NONE
    if summary_counts.version(conn) != stamp:
        return None
    return rows, photo_ids


def current(session: Session) -> Rows | None:
    """The rows if they are held at the index's version now (else maybe start loading them)."""
    engine = session.get_bind()
    if not isinstance(engine, Engine):
        return None
    with _HELD_LOCK:
        held = _HELD.setdefault(engine, _Held())
    stamp = summary_counts.version(session.connection())
    return None if stamp is None else held.rows_at(engine, stamp)


def hold(engine: Engine, min_rows: int = 0) -> Rows | None:
    """Load the rows now, in this thread (the bench's warm-up, tests); the rows if held."""
    rows = load(engine, min_rows)
    with _HELD_LOCK:
        held = _HELD.setdefault(engine, _Held())
    with held.lock:
        held.rows, held.tried = rows, True
    return rows
