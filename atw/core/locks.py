"""Index locks: who writes the index when (SQLite: a file lock; PostgreSQL: advisory locks).

SQLite has one writer at a time and its index lives in the instance folder, so every index run,
`db upgrade` and upload prune takes the instance's file lock (<instance>/index.lock): one at a
time per instance.

PostgreSQL takes many writers and is shared by processes on other machines (which share no
instance folder), so its locks live in the database, as session-level advisory locks (freed by
the server when the process holding them dies or its connection drops):
- the index, shared by every index run, exclusive for `db upgrade` and pruning uploads;
- each root of an index run, exclusive, and each folder above it, shared: two runs over
  different roots (/photos/2019 and /photos/2020) go on at once, while a run over a root that
  contains, equals or lies inside another run's root fails at once with IndexerBusy naming it;
- each write transaction of a run takes the writers' lock (a transaction-level lock), so the
  derived counts and upserts that assume one writer see one: runs overlap in their real work
  (reading, decoding, labelling) and take turns to commit a batch;
- creating or migrating the schema takes its own lock (atw.core.dialect.migrating).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterable, Sequence
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from atw.core import sql_postgres


class IndexerBusy(RuntimeError):
    """Another index run (or upgrade, or prune) holds the lock this one needs."""


def index_lock(instance_path: str, database_url: str | None = None) -> Any:
    """The whole index, exclusively (`db upgrade`, pruning uploads), held until close().

    SQLite (or no URL): an exclusive lock on <instance>/index.lock (freed by the system if the
    process is killed); the file names the holder's PID. PostgreSQL: the index lock, exclusive
    (no index run at all on that database, from any machine). Raises IndexerBusy naming the
    holder when another process holds it."""
    if _postgresql(database_url):
        assert database_url is not None
        lock = _PgLock(database_url, "upgrade or prune")
        lock.take([(_INDEX, False)], "the index")
        return lock
    return _file_lock(instance_path)


class RunLock:
    """An index run's lock: close() frees it; covers(roots) says whether a run marked
    "running" over those roots must be dead (we hold what it would hold); guard(session)
    makes every transaction of that session take the writers' lock (PostgreSQL)."""

    def __init__(self, held: Any, roots: Sequence[str] | None) -> None:
        self.held = held
        self.roots = roots  # None: the whole instance (SQLite's file lock)

    @property
    def whole_instance(self) -> bool:
        return self.roots is None

    def covers(self, roots: Iterable[str]) -> bool:
        if self.roots is None:
            return True
        return any(overlap(a, b) for a in roots for b in self.roots)

    def guard(self, session: Session) -> None:
        if isinstance(self.held, _PgLock):

            def _writers(_session: Session, _tx: Any, conn: Connection) -> None:
                sql_postgres.write_lock(conn)

            event.listen(session, "after_begin", _writers)

    def close(self) -> None:
        self.held.close()


def run_lock(instance_path: str, database_url: str, roots: Sequence[str]) -> RunLock:
    """The lock of an index run over roots (normalised absolute paths). SQLite: the instance's
    file lock (one run at a time). PostgreSQL: the index lock shared, each root exclusive and
    the folders above it shared; IndexerBusy names the run holding an overlapping root."""
    if not _postgresql(database_url):
        return RunLock(_file_lock(instance_path), None)
    lock = _PgLock(database_url, "index")
    wanted: dict[int, bool] = {_INDEX: True}
    for root in roots:
        for above in PurePosixPath(root).parents:
            wanted.setdefault(_root_key(str(above)), True)
    for root in roots:
        wanted[_root_key(root)] = False  # exclusive wins over shared
    lock.take(sorted(wanted.items()), "a folder overlapping " + ", ".join(roots), _running)
    return RunLock(lock, list(roots))


def _running(conn: Connection) -> str:
    """The roots of the runs marked running (for IndexerBusy's message)."""
    try:
        rows = conn.execute(text("SELECT roots_json FROM index_run WHERE status = 'running'"))
        roots = sorted({r for (js,) in rows for r in json.loads(js)})
    except DBAPIError:  # no index_run table yet
        return ""
    return f" (running over {', '.join(roots)})" if roots else ""


def overlap(a: str, b: str) -> bool:
    """Whether two roots are the same folder or one lies inside the other."""
    pa, pb = PurePosixPath(a), PurePosixPath(b)
    return pa == pb or pa in pb.parents or pb in pa.parents


def _postgresql(database_url: str | None) -> bool:
    return bool(database_url) and make_url(str(database_url)).get_backend_name() == "postgresql"


def _root_key(path: str) -> int:
    return sql_postgres.lock_key("root", os.fsencode(path))


_INDEX = sql_postgres.lock_key("index")


class _PgLock:
    """Advisory locks held by one dedicated connection (NullPool: closing it frees them)."""

    def __init__(self, url: str, what: str) -> None:
        name = f"atw {what} pid {os.getpid()} on {socket.gethostname()}"
        self.engine = create_engine(
            url,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={"application_name": name[:63]},
        )
        self.conn = self.engine.connect()

    def take(
        self,
        keys: Sequence[tuple[int, bool]],
        what: str,
        detail: Callable[[Connection], str] | None = None,
    ) -> None:
        """Take each (key, shared) now, or free them all and raise IndexerBusy naming the
        holders (their application_name) and what detail() says."""
        for key, shared in keys:
            if not sql_postgres.try_lock(self.conn, key, shared):
                who = ", ".join(sql_postgres.holders(self.conn, key)) or "another process"
                db = self.engine.url.render_as_string(hide_password=True)
                more = detail(self.conn) if detail is not None else ""
                self.close()
                raise IndexerBusy(f"{who} holds {what} in {db}{more}; wait for it")

    def close(self) -> None:
        self.conn.close()
        self.engine.dispose()


def _file_lock(instance_path: str) -> Any:
    """An exclusive lock on <instance>/index.lock, held until the returned file is closed."""
    import fcntl

    os.makedirs(instance_path, exist_ok=True)
    # Opened without truncating: only the holder of the lock may rewrite the PID in it (a
    # waiting process that opened with "w" would wipe the holder's PID on every attempt).
    fd = os.open(os.path.join(instance_path, "index.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    fh = os.fdopen(fd, "r+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = fh.read(32).strip()
        fh.close()
        by = f" (pid {holder})" if holder.isdigit() else ""
        raise IndexerBusy(f"another index run{by} is using {instance_path}; wait for it") from None
    fh.truncate(0)
    fh.write(str(os.getpid()))
    fh.flush()
    return fh
