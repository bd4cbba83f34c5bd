"""The migrations on SQLite and on PostgreSQL alike: every revision from an empty database gives
the models, `db upgrade` through the command line, down to the baseline and up again with rows,
and several processes creating one new database at once.

(Indexes written before atw used Alembic exist on SQLite only: tests/test_migrations.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import func, inspect, select

from atw.core import dialect, migrations
from atw.core.engine import create_schema, make_engine
from atw.core.schema import Meta
from tests.conftest import index
from tests.photos import pattern, write_jpeg
from tests.snapshot import full_snapshot, sqlite_url

pytestmark = pytest.mark.databases  # on SQLite and on PostgreSQL (tests/conftest.py)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def empty_url(tmp_path: Path, database: Any) -> str:
    """A database without tables (SQLite: a file not made yet)."""
    return database(tmp_path / "empty", empty=True) or sqlite_url(tmp_path / "empty")


def shape(url: str) -> dict[str, Any]:
    """Tables, their columns (name, type, nullable) and indexes, as the database reports them."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ins = inspect(conn)
            return {
                t: (
                    sorted((c["name"], str(c["type"]), c["nullable"]) for c in ins.get_columns(t)),
                    sorted((ix["name"], tuple(ix["column_names"])) for ix in ins.get_indexes(t)),
                )
                for t in sorted(ins.get_table_names())
            }
    finally:
        engine.dispose()


def test_every_revision_from_an_empty_database_gives_the_models(empty_url, tmp_path, database):
    (tmp_path / "empty").mkdir()
    engine = make_engine(empty_url)
    try:
        with dialect.migrating(engine) as conn:
            command.upgrade(migrations.config(conn), "head")
        assert migrations.state(engine).current
        with engine.connect() as conn:
            assert migrations.differences(conn) == []
    finally:
        engine.dispose()
    other = database(tmp_path / "made", empty=True) or sqlite_url(tmp_path)
    engine = make_engine(other)
    try:
        migrations.ensure_current(engine)  # a new database: create_all and the stamp
    finally:
        engine.dispose()
    assert shape(empty_url) == shape(other)


def test_db_upgrade_creates_then_finds_the_index_up_to_date(empty_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATW_")}
    env.update(ATW_INSTANCE_PATH=str(tmp_path / "empty"), ATW_DATABASE_URL=empty_url)

    def db(*args: str) -> str:
        cmd = [sys.executable, "-m", "flask", "--app", "atw", "db", *args]
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    assert f"created a new index {empty_url.split('://')[0]}" in db("upgrade")
    assert "up to date" in db("upgrade")
    assert migrations.head() in db("current")
    db("check")


def test_down_to_the_baseline_and_up_again_keeps_every_row(make_app, tmp_path):
    """Every revision's downgrade and upgrade on an index with rows; the next index run (its
    places stage) fills what the downgrade removed: the index equals the one before."""
    root = tmp_path / "photos"
    for i in range(6):
        write_jpeg(
            root / f"p{i}.jpg",
            pattern((160, 120), seed=i),
            taken=f"2019:0{1 + i}:0{1 + i} 10:00:00",
            gps=(38.7 + i, -9.1 + i) if i % 2 else None,
        )
    app = make_app()
    index(app, root)
    url = app.config["DATABASE_URL"]
    before = full_snapshot(url)
    api = app.test_client().get("/api/photos?per_page=100").get_json()
    engine = make_engine(url)
    try:
        with dialect.migrating(engine) as conn:
            command.downgrade(migrations.config(conn), "0001")
        assert migrations.state(engine).kind == "outdated"
        create_schema(engine)  # as `db upgrade` or an index run
        assert migrations.state(engine).current
        with engine.connect() as conn:
            assert migrations.differences(conn) == []
    finally:
        engine.dispose()
    index(app, root)
    assert full_snapshot(url) == before
    assert app.test_client().get("/api/photos?per_page=100").get_json() == api


def test_processes_creating_one_new_database_at_once_all_get_it(empty_url, tmp_path):
    (tmp_path / "empty").mkdir()
    engines = [make_engine(empty_url) for _ in range(4)]
    errors: list[BaseException] = []

    def open_it(engine: Any) -> None:
        try:
            migrations.upgrade(engine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with engines[0].connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Meta)) == 1
        assert migrations.state_of(conn).current
    for e in engines:
        e.dispose()
