"""The FsPath column type: file-system paths stored with their exact bytes, and printable()."""

from __future__ import annotations

from sqlalchemy import LargeBinary, Text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator


class _AsText(FunctionElement[str]):
    """CAST(x AS TEXT) on SQLite (keeps bytes that are not UTF-8 as TEXT); x elsewhere."""

    inherit_cache = True


class _AsBytes(FunctionElement[bytes]):
    """CAST(x AS BLOB) on SQLite (a TEXT that is not UTF-8 read without decoding); x elsewhere."""

    inherit_cache = True


@compiles(_AsText)
@compiles(_AsBytes)
def _plain(element, compiler, **kw):  # type: ignore[no-untyped-def]
    return compiler.process(element.clauses, **kw)


@compiles(_AsText, "sqlite")
def _sqlite_text(element, compiler, **kw):  # type: ignore[no-untyped-def]
    # Parenthesised: an empty IN list renders a subquery here (the IN then matches nothing).
    return f"CAST(({compiler.process(element.clauses, **kw)}) AS TEXT)"


@compiles(_AsBytes, "sqlite")
def _sqlite_bytes(element, compiler, **kw):  # type: ignore[no-untyped-def]
    return f"CAST({compiler.process(element.clauses, **kw)} AS BLOB)"


class FsPath(TypeDecorator[str]):
    """A file-system path. POSIX names are bytes: a name that is not UTF-8 reaches Python as a
    str with surrogate escapes (os.fsdecode), which no database driver binds as text. Stored
    with the name's exact bytes on every database, read back as the same str (lookups, re-runs,
    folder filters and file access keep working), compared and ordered bytewise:
    - SQLite: TEXT holding the exact bytes (SQLite does not check UTF-8; comparisons, substr
      and the BINARY collation work bytewise), read back as BLOB.
    - PostgreSQL: BYTEA (its TEXT refuses bytes that are not UTF-8): every path is bound as
      its bytes (os.fsencode), so equality, ranges, ORDER BY and min() are bytewise there too,
      like SQLite's. In psql, convert_from(path, 'UTF8') shows a UTF-8 path as text.
    Caveat of the CAST on SQLite: `not_in([])` (an empty list) on these columns matches nothing,
    not everything; `in_([])` is correct."""

    impl = Text
    cache_ok = True

    def bind_expression(self, bindvalue):  # type: ignore[no-untyped-def]
        return _AsText(bindvalue)

    def column_expression(self, col):  # type: ignore[no-untyped-def]
        expr = _AsBytes(col)
        expr.type = self  # results still go through process_result_value
        return expr

    def load_dialect_impl(self, dialect):  # type: ignore[no-untyped-def]
        if dialect.name == "postgresql":
            return dialect.type_descriptor(LargeBinary())
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        if dialect.name == "postgresql":
            return value.encode("utf-8", "surrogateescape")
        if not _has_surrogates(value):
            return value
        return value.encode("utf-8", "surrogateescape")

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        if isinstance(value, memoryview):
            value = value.tobytes()
        if isinstance(value, bytes):
            return value.decode("utf-8", "surrogateescape")
        return value


def _has_surrogates(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def printable(value: str) -> str:
    """A path (or text) that may carry surrogate escapes, as valid text for pages and JSON."""
    if not _has_surrogates(value):
        return value
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
