"""The one place for database-specific SQL: each function dispatches to the dialect's module.

atw runs on SQLite (the default: one file in the instance folder) and PostgreSQL
(DATABASE_URL=postgresql+psycopg://…). Everything else is the same SQLAlchemy code. What differs
lives in two twin modules with the same functions, and nowhere else:
- atw.core.sql_sqlite: pragmas, BEGIN IMMEDIATE migrations, bytewise TEXT prefixes, LIMIT -1;
- atw.core.sql_postgres: the psycopg pool, BYTEA path prefixes, CAST AS DATE, advisory locks
  (the migration lock; index runs' locks by root and the writers' lock: atw.core.locks).
Other schema differences are declared on the models: FsPath is BYTEA on PostgreSQL
(atw.core.fspath), BIG_INTEGER below, postgresql_where/sqlite_where on partial indexes,
sqlite_with_rowid (ignored elsewhere)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Integer
from sqlalchemy.engine import Connection, Engine, make_url

from atw.core import sql_postgres, sql_sqlite

# A 64-bit integer column (file sizes, nanosecond mtimes): PostgreSQL's INTEGER has 32 bits;
# SQLite's INTEGER holds 64 and stays INTEGER in its DDL (existing indexes need no migration).
BIG_INTEGER = Integer().with_variant(BigInteger(), "postgresql")

_MODULES: dict[str, ModuleType] = {m.NAME: m for m in (sql_sqlite, sql_postgres)}


class UnsupportedDatabase(ValueError):
    """A DATABASE_URL for a database atw does not run on."""


def module(dialect_name: str) -> ModuleType:
    """The twin module for a dialect name ("sqlite", "postgresql")."""
    try:
        return _MODULES[dialect_name]
    except KeyError:
        raise UnsupportedDatabase(
            f"atw runs on SQLite or PostgreSQL, not {dialect_name!r} "
            "(DATABASE_URL=sqlite:///… or postgresql+psycopg://user@host/db)"
        ) from None


def make_engine(url: str) -> Engine:
    """The index's engine, set up for its database (atw.core.engine.make_engine)."""
    return module(make_url(url).get_backend_name()).make_engine(url)


def path_under(column: Any, folder: str, dialect_name: str) -> ColumnElement[bool]:
    """Rows whose path (an atw.core.fspath.FsPath column) is `folder` itself or lies inside it.
    The one prefix test on paths, for every caller (index roots, the folder filter): exact and
    case-sensitive, bytewise, like the file system, and able to use the index on the path.
    Never LIKE (SQLAlchemy's startswith): SQLite's LIKE ignores ASCII case, so /photos/Trip
    would take in /photos/trip/…, and % and _ are wildcards."""
    folder = folder.rstrip(os.sep) or os.sep
    prefix = folder if folder.endswith(os.sep) else folder + os.sep
    return module(dialect_name).path_under(column, folder, prefix)


def keep_order(stmt: Any, dialect_name: str) -> Any:
    """A SELECT … ORDER BY used as a subquery, with its reading order kept where the database
    would drop it (SQLite: LIMIT -1)."""
    return module(dialect_name).keep_order(stmt)


def day_of(column: Any, dialect_name: str) -> Any:
    """The calendar day of a DATETIME column, for GROUP BY (callers accept a date or a
    "YYYY-MM-DD" string back)."""
    return module(dialect_name).day_of(column)


def id_list(column: Any, dialect_name: str) -> Any:
    """An aggregate giving a column's integers as one comma-separated text (None for no row):
    tens of thousands of ids in one value, parsed at once, instead of a Python row each."""
    return module(dialect_name).id_list(column)


@contextmanager
def migrating(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction for creating or migrating the schema, which a second
    process doing the same waits for; committed when the block ends, rolled back if it raises."""
    with module(engine.dialect.name).migrating(engine) as conn:
        yield conn


def write_lock(conn: Connection) -> None:
    """Wait for the index writers' lock, held until conn's transaction ends (PostgreSQL's
    transaction-level advisory lock, which every write transaction of an index run takes;
    nothing on SQLite, whose writers hold the instance's file lock)."""
    module(conn.dialect.name).write_lock(conn)
