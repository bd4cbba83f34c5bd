"""PostgreSQL-only SQL (atw.core.dialect dispatches here); twin of atw.core.sql_sqlite."""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import ColumnElement, Date, LargeBinary, Text, and_, cast, func, literal, or_, text
from sqlalchemy.engine import Connection, Engine, create_engine

NAME = "postgresql"
DRIVER = "psycopg"  # the `postgres` extra: pip install 'atw[postgres]' (psycopg[binary])


def make_engine(url: str) -> Engine:
    """A pool like SQLite's (threads of the web app share it), connections checked before use
    (a restarted server must not turn into errors on the next requests)."""
    if importlib.util.find_spec(DRIVER) is None:
        raise RuntimeError(
            f"{url.split('://', 1)[0]}: PostgreSQL needs the psycopg driver: "
            "pip install 'atw[postgres]' (or `make setup`, which installs requirements.txt)"
        )
    return create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)


def _raw_range(prefix: str) -> tuple[bytes, bytes]:
    raw = prefix.encode("utf-8", "surrogateescape")
    return raw, raw[:-1] + bytes([raw[-1] + 1])


def path_under(column: Any, folder: str, prefix: str) -> ColumnElement[bool]:
    """FsPath is BYTEA here (atw.core.fspath): the path is folder itself, or its first n bytes
    are the n bytes of prefix (folder + "/"), narrowed by the byte range [prefix, prefix with
    its last byte incremented) that the unique index on the path reads."""
    raw, upper = _raw_range(prefix)
    inside = func.substr(column, 1, len(raw)) == literal(raw, LargeBinary)
    # ("/" is 0x2f: the last byte never overflows; FsPath binds these str values as bytes)
    low, high = raw.decode("utf-8", "surrogateescape"), upper.decode("utf-8", "surrogateescape")
    return or_(column == folder, and_(inside, column >= low, column < high))


def keep_order(stmt: Any) -> Any:
    """Unchanged: PostgreSQL plans the subquery's reading order itself."""
    return stmt


def day_of(column: Any) -> Any:
    """CAST(col AS DATE)."""
    return cast(column, Date)


def id_list(column: Any) -> Any:
    """string_agg(CAST(col AS TEXT), ','): the integers of a column as one text."""
    return func.string_agg(cast(column, Text), ",")


def lock_key(kind: str, value: bytes = b"") -> int:
    """A 64-bit advisory lock key for a lock name (signed, as pg_advisory_lock takes it)."""
    digest = hashlib.sha256(b"atw:" + kind.encode() + b":" + value).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


MIGRATE_KEY = lock_key("migrate")  # creating or upgrading the schema
WRITE_KEY = lock_key("write")  # one index writer's transaction at a time


@contextmanager
def migrating(engine: Engine) -> Iterator[Connection]:
    """DDL is transactional: one transaction, which first takes the migration lock (a second
    process creating or migrating at the same time waits for it, then sees the finished
    schema; released at commit or rollback)."""
    with engine.connect() as conn, conn.begin():
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATE_KEY})
        yield conn


def try_lock(conn: Connection, key: int, shared: bool) -> bool:
    """Take a session-level advisory lock now, or say it is held (never waits)."""
    fn = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
    return bool(conn.execute(text(f"SELECT {fn}(:k)"), {"k": key}).scalar())


def holders(conn: Connection, key: int) -> list[str]:
    """The application names of the other sessions holding an advisory lock on key (atw's
    lock sessions name their process and roots there)."""
    rows = conn.execute(
        text(
            "SELECT DISTINCT a.application_name FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.pid <> pg_backend_pid() "
            "AND ((l.classid::bigint << 32) | l.objid::bigint) = :k"
        ),
        {"k": key},
    )
    return [r[0] for r in rows if r[0]]


def write_lock(conn: Connection) -> None:
    """Wait for the index writers' lock, held until this transaction ends."""
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITE_KEY})
