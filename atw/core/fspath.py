"""The FsPath column type: file-system paths stored with their exact bytes, and printable()."""

from __future__ import annotations

from sqlalchemy import Text
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
    """A file-system path as text. POSIX names are bytes: a name that is not UTF-8 reaches
    Python as a str with surrogate escapes (os.fsdecode), which Python's sqlite3 cannot bind.
    On SQLite such a path is stored as TEXT holding its exact bytes (SQLite does not check
    UTF-8; comparisons, LIKE prefixes and substr work bytewise) and read back as BLOB, decoded
    to the same str: lookups, re-runs, folder filters and file access keep working. Elsewhere
    it is stored with backslash escapes (readable, but no longer the file's name).
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

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is None or not _has_surrogates(value):
            return value
        raw = value.encode("utf-8", "surrogateescape")
        if dialect.name == "sqlite":
            return raw
        return raw.decode("utf-8", "backslashreplace")

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
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
