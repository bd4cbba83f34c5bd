"""Engine setup (per database, atw.core.dialect) and opening the index at this atw's schema."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from atw.core import dialect, group_upkeep, migrations


def make_engine(url: str) -> Engine:
    """An engine for the index (SQLite or PostgreSQL, set up by atw.core.dialect): SQLite gets
    WAL, a busy timeout and foreign keys; both a small pool of connections shared by threads."""
    return dialect.make_engine(url)


def create_schema(engine: Engine, echo: Callable[[str], None] | None = None) -> None:
    """Bring the index to this atw's schema (the head revision) before writing to it: a new
    database is created at head, an older one upgraded by the migrations (atw.core.migrations).
    For writers that hold the index lock (an index run, `db upgrade`) or own a new database.
    Then the class-group rows are rebuilt if they follow another vocabulary (derive_groups)."""
    migrations.upgrade(engine, echo)
    derive_groups(engine, echo)


def derive_groups(engine: Engine, echo: Callable[[str], None] | None = None) -> bool:
    """Rebuild the class-group rows when they do not follow this atw's vocabulary file (a new
    atw, revision 0003): atw.core.group_upkeep. The caller holds the index lock; on PostgreSQL
    that lets two runs over different roots start at once, so the check and the rebuild also
    hold the writers' lock: the second run waits, then finds the rows current."""
    with Session(engine) as session, session.begin():
        dialect.write_lock(session.connection())
        return group_upkeep.rebuild_if_stale(session, echo)
