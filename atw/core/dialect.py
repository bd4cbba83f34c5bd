"""The one place for database-specific SQL: each function says which dialect it serves."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import ColumnElement, LargeBinary, String, and_, cast, func, literal, or_
from sqlalchemy.engine import Connection, Engine


def prefix_range(column: Any, prefix: str, dialect_name: str) -> list[ColumnElement[bool]]:
    """Extra conditions that let an index on `column` find the strings starting with prefix.

    SQLite only: it compares TEXT byte-wise (BINARY collation), so every string starting with
    prefix lies in [prefix, prefix with its last character incremented). Other databases may
    compare by a locale collation where that does not hold: they get no extra condition (the
    caller's exact substr test alone decides)."""
    if dialect_name != "sqlite" or not prefix:
        return []
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return [column >= prefix, column < upper]


def path_under(column: Any, folder: str, dialect_name: str) -> ColumnElement[bool]:
    """Rows whose path (an atw.core.fspath.FsPath column) is `folder` itself or lies inside it.
    The one prefix test on paths, for every caller (index roots, the folder filter): exact and
    case-sensitive, like the file system. Never LIKE (SQLAlchemy's startswith): SQLite's LIKE
    ignores ASCII case, so /photos/Trip would take in /photos/trip/…, and % and _ are wildcards.

    SQLite: the first n bytes of the stored path (FsPath keeps a name's exact bytes, UTF-8 or
    not) equal the n bytes of folder + "/", narrowed by an index range (prefix_range).
    Others: the same test in characters (FsPath stores names that are not UTF-8 with backslash
    escapes there, and so is the folder written here)."""
    folder = folder.rstrip(os.sep) or os.sep
    prefix = folder if folder.endswith(os.sep) else folder + os.sep
    if dialect_name == "sqlite":
        raw = prefix.encode("utf-8", "surrogateescape")
        inside = func.substr(cast(column, LargeBinary), 1, len(raw)) == literal(raw, LargeBinary)
        return or_(column == folder, and_(inside, *prefix_range(column, prefix, dialect_name)))
    text = prefix.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    inside = func.substr(column, 1, len(text)) == literal(text, String)
    return or_(column == folder, inside)


def keep_order(stmt: Any, dialect_name: str) -> Any:
    """A SELECT … ORDER BY used as a subquery, with its ORDER BY kept.

    SQLite only: it drops (or flattens away) the ORDER BY of a FROM-clause subquery, and with
    it the reading order that makes the plan fast (a merge of id-ordered branches instead of a
    temp b-tree, ~3× faster on big classes; look-ups in key order). A LIMIT -1 (no limit)
    keeps it. Others: unchanged."""
    return stmt.limit(-1) if dialect_name == "sqlite" else stmt


def day_of(column: Any, dialect_name: str) -> Any:
    """The calendar day of a DATETIME column, for GROUP BY (callers accept a date or a
    "YYYY-MM-DD" string back).

    SQLite: date(col), a "YYYY-MM-DD" string (a CAST to DATE would give a number there).
    Others (PostgreSQL): CAST(col AS DATE)."""
    from sqlalchemy import Date, cast, func

    if dialect_name == "sqlite":
        return func.date(column)
    return cast(column, Date)


@contextmanager
def migrating(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction for creating or migrating the schema; committed when
    the block ends, rolled back if it raises.

    SQLite only: Python's sqlite3 opens no transaction before DDL (CREATE, ALTER run in
    autocommit), so a plain begin() would not make a migration atomic: BEGIN IMMEDIATE is sent
    explicitly, which also takes the write lock at once (a second process creating or
    migrating waits for it, then sees the finished schema). Foreign keys are off meanwhile
    (a batch migration copies and drops a table: with them on, DROP TABLE photo would cascade
    into every row referring to it) and back on before the connection returns to the pool.
    Others (PostgreSQL): DDL is transactional; a plain transaction."""
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # no effect inside a transaction
            conn.commit()
        try:
            with conn.begin():
                if sqlite:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                yield conn
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()
