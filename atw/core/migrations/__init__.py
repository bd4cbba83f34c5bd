"""The index's schema under Alembic: where it stands, a new one made at head, an old one upgraded.

Who does what (docs/architecture.md, "Migrations"):
- `flask --app atw db upgrade` (atw.cli.database) upgrades once, holding the index lock;
- an index run (pipelines.run, also the upload worker's) upgrades the index it is about to
  write, under the lock it holds;
- the web app never migrates: `ensure_current` refuses an outdated index (SchemaOutdated names
  the command); a database with no tables at all is created at head (nothing to migrate).
A new database is made by create_all and stamped at head (fast: tests build apps constantly);
tests/test_migrations.py checks that the revisions build the same schema."""

from __future__ import annotations

import functools
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import create_engine, insert, inspect, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from atw.core import (  # group_schema: its tables are part of Base.metadata
    dialect,
    group_schema,  # noqa: F401
    summary_counts,
)
from atw.core.schema import SCHEMA_VERSION, Base, Meta

HERE = Path(__file__).resolve().parent
UPGRADE_COMMAND = "flask --app atw db upgrade"
# Tables that only an atw index has: one of them present means the database is not new.
ATW_TABLES = frozenset({"photo", "meta", "alembic_version"})

Echo = Callable[[str], None]


class SchemaOutdated(RuntimeError):
    """The index's schema is not the one this atw reads (older: upgrade it; newer: a newer atw
    wrote it). The message says which, and the command to run."""


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands. kind: "empty" (no atw table), "current" (at head), "legacy"
    (written before atw used Alembic: no alembic_version), "outdated" (an older revision) or
    "ahead" (a revision this atw does not know: written by a newer atw)."""

    kind: str
    revisions: tuple[str, ...]
    head: str
    legacy_version: str | None = None

    @property
    def current(self) -> bool:
        return self.kind == "current"

    def describe(self) -> str:
        """One line for `db current` and messages."""
        revs = ", ".join(self.revisions) or "none"
        return {
            "empty": "a new database (no tables yet)",
            "current": f"revision {revs} (head: up to date)",
            "legacy": f"schema {self.legacy_version or '?'}, written before atw used Alembic",
            "outdated": f"revision {revs} (this atw's head is {self.head})",
            "ahead": f"revision {revs}, unknown to this atw (head {self.head})",
        }[self.kind]

    def refusal(self, where: str) -> str:
        """Why a process that only reads the index will not open it, and what to do."""
        if self.kind == "ahead":
            return (
                f"the index {where} is at {self.describe()}: a newer atw upgraded it; run that "
                "version (an older atw cannot read it)"
            )
        return (
            f"the index {where} needs an upgrade ({self.describe()}): stop atw, run "
            f"`{UPGRADE_COMMAND}` (or `atw db upgrade`) once, then start it again"
        )


def where(engine: Engine) -> str:
    """The database's URL without its password, for messages."""
    return engine.url.render_as_string(hide_password=True)


@functools.cache
def script() -> ScriptDirectory:
    """The revisions in versions/ (read once per process)."""
    return ScriptDirectory(str(HERE))


def head() -> str:
    """The newest revision (tests/test_migrations.py checks there is exactly one)."""
    rev = script().get_current_head()
    assert rev is not None, "no revision in atw/core/migrations/versions"
    return rev


def config(connection: Connection | None = None, echo: Echo | None = None) -> Config:
    """Alembic's Config, built in code: no alembic.ini, paths relative to this package (works
    from a source tree and an installed wheel alike). env.py runs on `connection`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE).replace("%", "%%"))
    cfg.attributes["connection"] = connection
    cfg.attributes["echo"] = echo or _quiet
    return cfg


def state(engine: Engine) -> SchemaState:
    with engine.connect() as conn:
        return state_of(conn)


def state_of(conn: Connection) -> SchemaState:
    tables = set(inspect(conn).get_table_names())
    top = head()
    if "alembic_version" in tables:
        revs = tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
        if revs == (top,):
            return SchemaState("current", revs, top)
        return SchemaState("outdated" if all(map(_known, revs)) else "ahead", revs, top)
    if not tables & ATW_TABLES:
        return SchemaState("empty", (), top)
    legacy = None
    if "meta" in tables:
        legacy = conn.scalar(select(Meta.value).where(Meta.key == "schema_version"))
    return SchemaState("legacy", (), top, legacy)


def ensure_current(engine: Engine) -> SchemaState:
    """For processes that only read the index (the web app, read-only commands): a database
    without tables is created at head; any other state but head raises SchemaOutdated."""
    st = state(engine)
    if st.kind == "empty":
        st = _create_new(engine)
    if not st.current:
        raise SchemaOutdated(st.refusal(where(engine)))
    return st


def upgrade(engine: Engine, echo: Echo | None = None) -> SchemaState:
    """Bring the index to head; returns where it stood before. The caller holds the index lock
    (atw.core.locks): `db upgrade`, or an index run. New database: created at head; older
    revision or pre-Alembic index: the revisions run, in one transaction; newer: refused."""
    say = echo or _quiet
    with dialect.migrating(engine) as conn:
        before = state_of(conn)  # under the write lock (SQLite), so nobody else is midway
        if before.kind == "ahead":
            raise SchemaOutdated(before.refusal(where(engine)))
        if before.kind == "empty":
            _create(conn)
        elif not before.current:
            steps = pending(conn)
            say(f"atw: upgrading the index {where(engine)} ({before.describe()}) to {head()}:")
            for rev in steps:
                say(f"  {rev.revision}: {rev.doc.splitlines()[0]}")
            t0 = time.monotonic()
            command.upgrade(config(conn, say), "head")
            # photo's summary triggers and counts, whatever a revision did to photo (SQLite's
            # batch mode copies a table without its triggers): seconds at a million photos.
            summary_counts.install(conn)
            summary_counts.fill(conn)
            say(f"atw: the index is at {head()} ({time.monotonic() - t0:.1f} s)")
    return before


def pending(conn: Connection) -> list:  # type: ignore[type-arg]
    """The revisions an upgrade to head would run on this database, oldest first."""
    current = MigrationContext.configure(conn).get_current_heads()
    steps = script().iterate_revisions("head", tuple(current) or "base")
    return list(reversed(list(steps)))


def differences(conn: Connection) -> list:  # type: ignore[type-arg]
    """What autogenerate finds between the models (atw.core.schema) and this database: empty
    when the migrations and the models agree (`db check`, tests/test_migrations.py)."""
    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    return compare_metadata(ctx, Base.metadata)


def new_revision(message: str, autogenerate: bool) -> Path:
    """Write versions/NNNN_<slug>.py after the head (for developers: `flask --app atw db
    revision`); with autogenerate, the operations that bring a database built by the
    revisions so far (a temporary SQLite file) to the models."""
    number = len(list(script().walk_revisions())) + 1
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{tmp}/head.db")
        try:
            with dialect.migrating(engine) as conn:
                command.upgrade(config(conn), "head")
                out = command.revision(
                    config(conn),
                    message=message,
                    autogenerate=autogenerate,
                    rev_id=f"{number:04d}",
                )
        finally:
            engine.dispose()
    script.cache_clear()
    assert out is not None and not isinstance(out, list)
    for fix in (["check", "--fix", "--quiet"], ["format", "--quiet"]):  # the project's style
        subprocess.run([sys.executable, "-m", "ruff", *fix, out.path], check=False)
    return Path(out.path)


def _create(conn: Connection) -> None:
    """A new database at head: today's tables (the models) and the head stamp. The revisions
    would build the same (tests/test_migrations.py); this is faster, in one transaction."""
    Base.metadata.create_all(conn)
    conn.execute(insert(Meta).values(key="schema_version", value=SCHEMA_VERSION))
    MigrationContext.configure(conn).stamp(script(), "head")


def _create_new(engine: Engine) -> SchemaState:
    """Create a database at head unless another process did meanwhile; the state after."""
    try:
        with dialect.migrating(engine) as conn:
            if state_of(conn).kind == "empty":
                _create(conn)
    except DBAPIError:  # PostgreSQL: two processes creating at once; one of them fails
        if not state(engine).current:
            raise
    return state(engine)


def _known(rev: str) -> bool:
    try:
        return script().get_revision(rev) is not None
    except CommandError:
        return False


def _quiet(_line: str) -> None:
    pass
