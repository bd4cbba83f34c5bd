"""The one place for database-specific SQL: each function says which dialect it serves."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement


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
