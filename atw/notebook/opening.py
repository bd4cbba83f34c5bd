"""Opening an index for reading: an instance folder (its settings give the database), an index
file or a SQLAlchemy URL → a read-only engine at the schema this atw reads."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import QueuePool

from atw.core import migrations
from atw.core import settings as cfg
from atw.core.engine import make_engine


class ArchiveError(RuntimeError):
    """The archive cannot be opened: nothing there, not an atw index, malformed settings."""


def locate(where: str | os.PathLike[str] | None) -> tuple[str, Path | None]:
    """(database URL, instance folder or None) for an instance folder, an index file or a
    SQLAlchemy URL. None: ATW_INSTANCE_PATH, else ./instance (where `atw` looks too). An
    instance folder's database is its DATABASE_URL (instance/config.py, then ATW_DATABASE_URL:
    the layers the web app reads), by default <instance>/atw.sqlite."""
    if where is None:
        where = os.environ.get("ATW_INSTANCE_PATH") or "instance"
    text = os.fspath(where)
    if "://" in text:
        return text, None
    path = Path(text).expanduser()
    if path.is_dir():
        config = instance_settings(path)
        url = config.get("DATABASE_URL") or f"sqlite:///{path.resolve() / 'atw.sqlite'}"
        return str(url), path.resolve()
    if path.is_file():
        return f"sqlite:///{path.resolve()}", None
    raise ArchiveError(
        f"no instance folder or index file at {path} (name the instance folder, an index file "
        "or a database URL; or set ATW_INSTANCE_PATH)"
    )


def instance_settings(instance: Path) -> dict[str, Any]:
    """The instance's settings as the web app reads them, without Flask: the declared
    defaults, then instance/config.py (its upper-case names), then the ATW_* environment, each
    checked (atw.core.settings). Malformed: ArchiveError naming each value and why."""
    values: dict[str, Any] = dict(cfg.DEFAULTS)
    file = instance / "config.py"
    try:
        if file.is_file():
            namespace: dict[str, Any] = {"__file__": str(file)}
            exec(compile(file.read_bytes(), str(file), "exec"), namespace)
            upper = {k: v for k, v in namespace.items() if k.isupper()}
            values.update(cfg.check_file(upper, str(file), passthrough=()))
        values.update(cfg.from_environ(os.environ))
    except cfg.SettingsError as exc:
        raise ArchiveError(f"malformed settings:\n{exc}") from None
    return values


def read_only_engine(url: str) -> Engine:
    """An engine that reads the index. A SQLite file is opened read-only (mode=ro: a write
    fails, a missing file is an error rather than a new empty database); another database
    gets atw's usual engine, on which this package issues no write (for a guarantee, connect
    as a role that may only read)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return make_engine(url)
    name = u.database or ""
    if name in ("", ":memory:") or name.startswith("file:"):
        raise ArchiveError(f"{url}: name the index file (sqlite:///path/to/atw.sqlite)")
    path = Path(name).expanduser().resolve()
    if not path.is_file():
        raise ArchiveError(f"no index at {path}: index photos first (atw index PHOTOS)")
    uri = f"file:{quote(str(path))}?mode=ro"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False)

    return create_engine("sqlite://", creator=connect, poolclass=QueuePool, pool_size=2)


def open_index(url: str) -> Engine:
    """The read-only engine of an atw index at the schema this atw reads; ArchiveError when
    the database holds no atw index, SchemaOutdated (naming the command) when its schema is
    older or newer."""
    engine = read_only_engine(url)
    try:
        state = migrations.state(engine)
    except Exception:
        engine.dispose()
        raise
    where = make_url(url).render_as_string(hide_password=True)
    if state.kind == "empty":
        engine.dispose()
        raise ArchiveError(f"no atw index in {where}")
    if not state.current:
        engine.dispose()
        raise migrations.SchemaOutdated(state.refusal(where))
    return engine
