"""Engine setup (SQLite pragmas, pool) and opening the index at the schema this atw reads."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

from atw.core import migrations


def make_engine(url: str) -> Engine:
    """An engine for the index; SQLite gets WAL, a busy timeout and foreign keys, and a small
    pool of connections shared by threads (each keeps its page cache warm between requests)."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            pool_size=8,
            max_overflow=8,
            connect_args={"timeout": 30, "check_same_thread": False},
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def create_schema(engine: Engine, echo: Callable[[str], None] | None = None) -> None:
    """Bring the index to this atw's schema (the head revision) before writing to it: a new
    database is created at head, an older one upgraded by the migrations (atw.core.migrations).
    For writers that hold the index lock (an index run, `db upgrade`) or own a new database."""
    migrations.upgrade(engine, echo)
