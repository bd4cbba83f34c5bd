"""Engine setup (per database, atw.core.dialect) and opening the index at this atw's schema."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import Engine

from atw.core import dialect, migrations


def make_engine(url: str) -> Engine:
    """An engine for the index (SQLite or PostgreSQL, set up by atw.core.dialect): SQLite gets
    WAL, a busy timeout and foreign keys; both a small pool of connections shared by threads."""
    return dialect.make_engine(url)


def create_schema(engine: Engine, echo: Callable[[str], None] | None = None) -> None:
    """Bring the index to this atw's schema (the head revision) before writing to it: a new
    database is created at head, an older one upgraded by the migrations (atw.core.migrations).
    For writers that hold the index lock (an index run, `db upgrade`) or own a new database."""
    migrations.upgrade(engine, echo)
