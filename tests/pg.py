"""A throwaway PostgreSQL cluster for the test session, and a fresh database per test.

Started once per session, only when a test asks for PostgreSQL (the `pg_cluster` fixture in
tests/conftest.py): initdb into a temporary folder owned by a non-root user (`nobody` when the
tests run as root, as CI does: PostgreSQL refuses to run as root), pg_ctl start on a free
loopback port with its Unix socket in that folder, trust authentication for the loopback only;
stopped and removed when the session ends. The binaries are Debian's (`make system-deps` installs
the `postgresql` package; /usr/lib/postgresql/<version>/bin is not on PATH).

The cluster collates text with ICU's English rules, as a typical server does (not bytewise like
SQLite's BINARY): a query whose order must be bytewise has to say so (COLLATE "C").

Each test gets its own database, copied from a template already at the schema's head (CREATE
DATABASE … TEMPLATE is a file copy: much faster than creating the tables), dropped afterwards.
Speed settings for a cluster nobody keeps: fsync, synchronous_commit and full_page_writes off."""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

SUPERUSER = "atw"
TEMPLATE = "atw_template"  # at head (the schema), for apps and index runs
EMPTY = "template0"  # no tables: for tests of creating and migrating a database


class ClusterError(RuntimeError):
    """PostgreSQL could not be found or started; the message says what to install or read."""


def binaries() -> Path:
    """The folder of initdb/pg_ctl: PATH first, then Debian's newest /usr/lib/postgresql/N."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if not versions:
        raise ClusterError(
            "PostgreSQL is not installed (no pg_ctl on PATH or in /usr/lib/postgresql/*/bin): "
            "`make system-deps` as root, or `apt-get install postgresql`"
        )
    return Path(versions[-1]).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """One running cluster: url(name) for a database in it, new_database(), drop(), stop()."""

    def __init__(self) -> None:
        self.bin = binaries()
        self.root = Path(tempfile.mkdtemp(prefix="atw-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.user: str | None = None
        self.port = 0
        self._names = itertools.count(1)
        if os.geteuid() == 0:  # PostgreSQL will not run as root
            self.user = "nobody"
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        os.chmod(self.root, 0o700)
        try:
            self._run(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--locale-provider=icu",
                "--icu-locale=en",
                "--no-sync",
            )
            self._start()
            self._make_template()
        except BaseException:
            self.stop()
            raise

    def _run(self, tool: str, *args: str) -> str:
        done = subprocess.run(
            [str(self.bin / tool), *args],
            user=self.user,
            cwd=self.root,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise ClusterError(f"{tool} failed ({done.returncode}): {done.stderr[-2000:]}{log}")
        return done.stdout

    def _start(self) -> None:
        options = " ".join(
            [
                "-h 127.0.0.1",
                f"-k {self.root}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
                "-c shared_buffers=128MB",
            ]
        )
        for attempt in range(5):  # a free port may be taken between choosing it and binding
            self.port = free_port()
            try:
                self._run(
                    "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                    "-o", f"{options} -p {self.port}", "start",
                )  # fmt: skip
                return
            except ClusterError:
                if attempt == 4:
                    raise
                time.sleep(0.2)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def execute(self, *statements: str) -> None:
        """Statements that cannot run in a transaction (CREATE/DROP DATABASE), autocommitted."""
        engine = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                for sql in statements:
                    conn.execute(text(sql))
        finally:
            engine.dispose()

    def _make_template(self) -> None:
        from atw.core import migrations

        self.execute(f"CREATE DATABASE {TEMPLATE} TEMPLATE template0")
        engine = create_engine(self.url(TEMPLATE))
        try:
            migrations.ensure_current(engine)  # what a new app does to an empty database
        finally:
            engine.dispose()

    def new_database(self, *, empty: bool = False) -> str:
        """A new database, at the schema's head (or without tables when empty); its URL."""
        name = f"t{os.getpid()}_{next(self._names)}"
        self.execute(
            f"CREATE DATABASE {name} TEMPLATE {EMPTY if empty else TEMPLATE} STRATEGY FILE_COPY"
        )
        return self.url(name)

    def drop(self, url: str) -> None:
        """Drop a database made by new_database, closing whatever still uses it."""
        name = url.rsplit("/", 1)[1]
        self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its folder."""
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(ClusterError):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
