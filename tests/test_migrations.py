"""Alembic migrations: one head, revisions that agree with the models, old index files upgraded.

The old index files are built from SQL captured from the code that wrote them
(tests/fixtures/index_schema_N.sql: atw before Alembic, at the commits named in each file),
filled with every row of a real index of a few shared photos (real models), then upgraded
with the real command; the result must hold exactly what a fresh index of those photos holds."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from click.testing import CliRunner
from flask.cli import FlaskGroup
from sqlalchemy import text

import atw
from atw.core import derived, dialect, migrations
from atw.core.engine import make_engine
from atw.core.locks import index_lock
from tests.conftest import (
    COCO_DIR,
    EXIF_DIR,
    IMAGENET_DIR,
    MODEL_CONFIG,
    app_config,
    fresh_app,
    index,
    need_shared,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
PHOTOS = [
    EXIF_DIR / "bird.jpg",  # GPS, a date, a bird
    EXIF_DIR / "big_ben.jpg",
    EXIF_DIR / "DSCN0010.jpg",
    COCO_DIR / "images" / "train2017" / "000000000036.jpg",  # people: several boxes
    COCO_DIR / "images" / "train2017" / "000000000009.jpg",
    IMAGENET_DIR / "n01440764_tench.JPEG",
]
UPGRADE = "flask --app atw db upgrade"


# --- what a database holds, read with sqlite3 (independent of the code under test) ----------


def facts(path: Path) -> dict[str, Any]:
    """Every table's columns (name, type, not null, primary key), foreign keys, indexes (with
    their partial conditions) and WITHOUT ROWID: the schema, whatever order it was built in."""
    con = sqlite3.connect(path)
    out: dict[str, Any] = {}
    tables = con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
    for name, sql in tables:
        cols = sorted(
            (r[1], r[2].upper(), r[3], r[5]) for r in con.execute(f"PRAGMA table_info('{name}')")
        )
        fks = sorted(
            (r[2], r[3], r[4], r[6]) for r in con.execute(f"PRAGMA foreign_key_list('{name}')")
        )
        indexes = {}
        for _seq, ix, unique, origin, partial in con.execute(f"PRAGMA index_list('{name}')"):
            columns = tuple(r[2] for r in con.execute(f"PRAGMA index_info('{ix}')"))
            where = None
            if partial:
                ddl = con.execute("SELECT sql FROM sqlite_master WHERE name = ?", (ix,)).fetchone()
                where = " ".join(ddl[0].split(" WHERE ", 1)[1].split())
            key = ix if origin == "c" else f"{origin}{columns}"  # automatic ones by columns
            indexes[key] = (unique, columns, where)
        out[name] = {
            "columns": cols,
            "foreign_keys": fks,
            "indexes": indexes,
            "without_rowid": "WITHOUT ROWID" in sql.upper(),
        }
    # The summary counts' triggers on photo (revision 0006): the same on every path.
    out["triggers"] = sorted(
        con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
    )
    con.close()
    return out


def table_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, columns in name order, rows sorted."""
    con = sqlite3.connect(path)
    out = {}
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        if name == "summary_version":
            continue  # a count of writes (revision 0006), not data: differs by how rows came
        cols = sorted(r[1] for r in con.execute(f"PRAGMA table_info('{name}')"))
        rows = con.execute(f"SELECT {', '.join(cols)} FROM {name}").fetchall()
        out[name] = [tuple(cols), *sorted(rows, key=repr)]
    con.close()
    return out


def legacy_index(version: int, source: Path, target: Path) -> None:
    """An index file as atw wrote it before Alembic, at schema `version`: the DDL captured from
    that code, holding the rows of `source` (the columns that schema had)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(target)
    con.executescript((FIXTURES / f"index_schema_{version}.sql").read_text())
    src = sqlite3.connect(source)
    for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        if table == "meta":
            continue  # the fixture's own schema_version
        have = {r[1] for r in src.execute(f"PRAGMA table_info('{table}')")}
        cols = [r[1] for r in con.execute(f"PRAGMA table_info('{table}')") if r[1] in have]
        rows = src.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall()
        marks = ", ".join("?" for _ in cols)
        con.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows)
    # The old code's photo.utc_offset: the offset written with the date (exif_offset since
    # revision 0002) or an estimated time's file offset; and it had no places stage.
    old = "SELECT id, CASE WHEN time_estimated THEN utc_offset ELSE exif_offset END FROM photo"
    con.executemany(
        "UPDATE photo SET utc_offset = ? WHERE id = ?", [r[::-1] for r in src.execute(old)]
    )
    con.execute("DELETE FROM stage_done WHERE stage = 'places'")
    con.commit()
    con.close()
    src.close()


# Revision 0002: what only the places stage writes (the next index run does), and the GPS clock,
# which no index stored before it.
PLACES_ONLY = ("time_zone", "country_code", "region", "place", "place_km", "near", "gps_at")


def after_0002(fresh: dict[str, list[tuple[Any, ...]]]) -> dict[str, Any]:
    """The fresh rows as revision 0002 leaves an older index: no places; the instant from the
    stored offset alone ("exif", or "file" for an estimated time), sort_time and its copies
    (photo_class's, photo_group's)."""
    cols, *rows = fresh["photo"]
    c = {name: i for i, name in enumerate(cols)}
    photos, sort = [], {}
    for row in rows:
        r = list(row)
        estimated = r[c["time_estimated"]]
        old = r[c["utc_offset"]] if estimated else r[c["exif_offset"]]
        for name in PLACES_ONLY:
            r[c[name]] = None
        r[c["at_sea"]] = 0
        instant = None
        if old and r[c["taken_at"]]:
            off = timedelta(hours=int(old[1:3]), minutes=int(old[4:6]))
            off = -off if old[0] == "-" else off
            when = datetime.fromisoformat(r[c["taken_at"]]) - off
            instant = when.strftime("%Y-%m-%d %H:%M:%S.%f")
        r[c["utc_offset"]] = old if instant else None
        r[c["offset_source"]] = "none" if instant is None else "file" if estimated else "exif"
        r[c["taken_at_utc"]] = instant
        r[c["sort_time"]] = sort[r[c["id"]]] = instant or r[c["taken_at"]]
        photos.append(tuple(r))
    pcols, *prows = fresh["photo_class"]
    pid, st = pcols.index("photo_id"), pcols.index("sort_time")
    classes = [tuple(sort[r[pid]] if i == st else v for i, v in enumerate(r)) for r in prows]
    gcols, *grows = fresh["photo_group"]  # its sort_time copies too (revision 0005)
    gid, gst = gcols.index("photo_id"), gcols.index("sort_time")
    grouped = [tuple(sort[r[gid]] if i == gst else v for i, v in enumerate(r)) for r in grows]
    scols, *srows = fresh["stage_done"]
    stages = [r for r in srows if r[scols.index("stage")] != "places"]
    # Revision 0006 counts the listed photos per place: none has a place yet.
    ccols, *_ = fresh["place_count"]
    listed = sum(1 for r in photos if r[c["listed"]])
    unplaced = {"country_code": "", "region": "", "place": "", "photos": listed}
    return {
        **fresh,
        "place_count": [ccols, *([tuple(unplaced[k] for k in ccols)] if listed else [])],
        "photo": [cols, *sorted(photos, key=repr)],
        "photo_class": [pcols, *sorted(classes, key=repr)],
        "photo_group": [gcols, *sorted(grouped, key=repr)],
        "stage_done": [scols, *stages],
    }


def expected_after(version: int, fresh: dict[str, list[tuple[Any, ...]]]) -> dict[str, Any]:
    """What the upgraded file must hold: the fresh index's rows as revision 0002 leaves an
    older index (after_0002); before schema 3 no file knew which photos were damaged (none,
    as far as it was concerned)."""
    fresh = after_0002(fresh)
    if version >= 3:
        return fresh
    cols, *rows = fresh["photo"]
    damaged, reason = cols.index("damaged"), cols.index("damage_reason")
    fixed = []
    for row in rows:
        r = list(row)
        r[damaged], r[reason] = 0, None
        fixed.append(tuple(r))
    return {**fresh, "photo": [cols, *sorted(fixed, key=repr)]}


def same_rows(got: dict[str, Any], want: dict[str, Any]) -> None:
    """Assert both files hold the same tables and rows; a failure names each table that
    differs, with a few of the rows found only on one side."""
    problems = []
    for table in sorted(set(got) | set(want)):
        if table not in got or table not in want:
            problems.append(f"{table}: only in the {'upgraded' if table in got else 'fresh'} file")
            continue
        if got[table][0] != want[table][0]:
            problems.append(f"{table}: columns {got[table][0]} != {want[table][0]}")
            continue
        extra = sorted(set(got[table][1:]) - set(want[table][1:]), key=repr)
        lost = sorted(set(want[table][1:]) - set(got[table][1:]), key=repr)
        if extra or lost or len(got[table]) != len(want[table]):
            problems.append(
                f"{table} {got[table][0]}: {len(got[table]) - 1} rows upgraded, "
                f"{len(want[table]) - 1} fresh; only upgraded {extra[:3]}; only fresh {lost[:3]}"
            )
    assert not problems, "\n".join(problems)


def database(instance: Path) -> Path:
    return instance / "atw.sqlite"


def cli(instance: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    """Run a command as `flask --app atw …` does (FlaskGroup over atw.create_app)."""
    for name in [n for n in os.environ if n.startswith("ATW_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ATW_INSTANCE_PATH", str(instance))
    group = FlaskGroup(create_app=atw.create_app, load_dotenv=False)
    return CliRunner().invoke(group, list(args))


def differences(path: Path) -> list[Any]:
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            return migrations.differences(conn)
    finally:
        engine.dispose()


# --- the fresh index every upgraded file is compared with ------------------------------------


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, Path]:
    """A fresh index (this tree, at head) of a few shared photos with real labels and boxes,
    two paths of one photo, a damaged (truncated) photo and a file that is no image."""
    need_shared(*PHOTOS, Path(MODEL_CONFIG["IMAGENET_WEIGHTS"]), Path(MODEL_CONFIG["YOLO_MODEL"]))
    base = tmp_path_factory.mktemp("fresh")
    root = base / "photos"
    (root / "again").mkdir(parents=True)
    for p in PHOTOS:
        shutil.copyfile(p, root / p.name)
    shutil.copyfile(PHOTOS[0], root / "again" / PHOTOS[0].name)
    data = PHOTOS[3].read_bytes()
    (root / "cut.jpg").write_bytes(data[: len(data) // 2])
    (root / "notes.jpg").write_text("not a picture")
    app = fresh_app(base / "instance", **MODEL_CONFIG)
    summary = index(app, root)
    assert summary.indexed == len(PHOTOS) + 1 and summary.quarantined == 1
    return app, root, database(base / "instance")


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, Path]:
    """The same photos indexed without labels (no models: quick), for the tests that need an
    index with rows but not the labels'."""
    need_shared(*PHOTOS)
    base = tmp_path_factory.mktemp("plain")
    root = base / "photos"
    root.mkdir()
    for p in PHOTOS:
        shutil.copyfile(p, root / p.name)
    app = fresh_app(base / "instance")
    assert index(app, root).indexed == len(PHOTOS)
    return app, root, database(base / "instance")


# --- the revisions -----------------------------------------------------------------------------


def test_there_is_exactly_one_head():
    """Two revisions written at once on two branches both follow the same parent: merge them
    (or renumber one) before landing."""
    heads = migrations.script().get_heads()
    assert heads == [migrations.head()], f"more than one head: {heads}"
    assert migrations.script().get_base() == "0001"


def test_the_baseline_builds_schema_3_as_the_old_code_wrote_it(tmp_path):
    old = tmp_path / "old.sqlite"
    sqlite3.connect(old).executescript((FIXTURES / "index_schema_3.sql").read_text())
    new = tmp_path / "new.sqlite"
    engine = make_engine(f"sqlite:///{new}")
    with dialect.migrating(engine) as conn:
        command.upgrade(migrations.config(conn), "0001")
    engine.dispose()
    got, want = facts(new), facts(old)
    assert got.pop("alembic_version")
    assert got == want
    assert table_rows(new)["meta"] == table_rows(old)["meta"]


def test_the_revisions_and_the_models_agree(tmp_path):
    """Every revision run on an empty database gives what the models declare (no autogenerate
    difference) and what a new database gets (create_all + stamp, the fast path)."""
    by_revisions = tmp_path / "revisions.sqlite"
    engine = make_engine(f"sqlite:///{by_revisions}")
    with dialect.migrating(engine) as conn:
        command.upgrade(migrations.config(conn), "head")
    engine.dispose()
    assert differences(by_revisions) == []
    new = tmp_path / "new.sqlite"
    engine = make_engine(f"sqlite:///{new}")
    before = migrations.upgrade(engine)
    engine.dispose()
    assert before.kind == "empty"
    assert facts(new) == facts(by_revisions)
    assert table_rows(new) == table_rows(by_revisions)  # meta and alembic_version rows
    assert differences(new) == []


def test_a_new_instance_is_created_at_head_quickly(make_app, tmp_path):
    import time

    t = time.perf_counter()
    app = make_app()
    took = time.perf_counter() - t
    engine = make_engine(app.config["DATABASE_URL"])
    assert migrations.state(engine).current
    engine.dispose()
    assert took < 2.0, f"building an app over a new instance took {took:.2f} s"


# --- an index written before Alembic, upgraded in place --------------------------------------


@pytest.mark.parametrize("version", [1, 2, 3])
def test_an_index_written_before_alembic_is_upgraded_in_place(
    version, fresh, tmp_path, monkeypatch
):
    fresh_app_, _root, fresh_db = fresh
    instance = tmp_path / "instance"
    db = database(instance)
    legacy_index(version, fresh_db, db)
    before = facts(db), table_rows(db)

    # The web app refuses it, naming the command, and leaves the file as it was.
    with pytest.raises(migrations.SchemaOutdated, match=UPGRADE):
        atw.create_app(app_config(instance))
    assert (facts(db), table_rows(db)) == before

    result = cli(instance, monkeypatch, "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert f"schema {version}, written before atw used Alembic" in result.output
    assert "0001: Baseline" in result.output
    assert ("derived rows" in result.output) == (version == 1)

    same_rows(table_rows(db), expected_after(version, table_rows(fresh_db)))
    assert facts(db) == facts(fresh_db)
    assert differences(db) == []
    again = cli(instance, monkeypatch, "db", "upgrade")
    assert again.exit_code == 0 and "up to date" in again.output

    # The web app starts, and answers as the fresh index's does.
    app = atw.create_app(app_config(instance))
    cols, *rows = table_rows(db)["photo"]
    times = {r[cols.index("id")]: dict(zip(cols, r, strict=True)) for r in rows}
    for url in ("/api/photos?per_page=100", "/api/classes", "/api/map", "/api/quarantine"):
        got, want = app.test_client().get(url), fresh_app_.test_client().get(url)
        assert got.status_code == want.status_code == 200
        got_body, want_body = got.get_json(), api_after(version, want.get_json(), times)
        if url == "/api/map":  # a set of dots, in the order of the plan's index (no order kept)
            got_body["points"].sort()
            want_body["points"].sort()
        assert got_body == want_body, url


def api_after(version: int, body: Any, rows: dict[int, dict[str, Any]]) -> Any:
    """The fresh index's API answer as an upgraded file of this version gives it (see
    expected_after: no places and instants from stored offsets only after revision 0002; no
    damaged photo before schema 3). rows: the upgraded file's photo rows by id."""
    if "photos" not in body:
        return body
    photos = []
    for p in body["photos"]:
        r = rows[p["id"]]
        utc = r["taken_at_utc"] and datetime.fromisoformat(r["taken_at_utc"]).isoformat()
        p = {**p, "place": None, "time_zone": None, "taken_at_utc": utc}
        p |= {"utc_offset": r["utc_offset"], "offset_source": r["offset_source"]}
        if version < 3:
            p |= {"damaged": False, "damage_reason": None}
        photos.append(p)
    return {**body, "photos": photos}


def test_the_commands_refuse_an_outdated_index_and_upgrade_it_once(plain, tmp_path):
    """The real `flask` command: serve and a read-only command refuse, db upgrade upgrades."""
    _app, _root, fresh_db = plain
    instance = tmp_path / "instance"
    legacy_index(2, fresh_db, database(instance))
    env = {"ATW_INSTANCE_PATH": str(instance), "PATH": "/usr/bin:/bin"}

    def flask(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "flask", "--app", "atw", *args]
        return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    current = flask("db", "current")
    assert current.returncode == 0 and "schema 2, written before atw used Alembic" in current.stdout
    for refused in (flask("serve", "--port", "0"), flask("attention")):
        assert refused.returncode != 0
        assert f"`{UPGRADE}`" in refused.stderr and "Traceback" not in refused.stderr
    assert flask("db", "check").returncode != 0
    done = flask("db", "upgrade")
    assert done.returncode == 0, done.stderr
    assert f"to {migrations.head()}" in done.stdout
    assert flask("db", "check").returncode == 0
    assert "head: up to date" in flask("db", "current").stdout
    assert flask("attention").returncode == 0


def test_an_index_run_upgrades_the_index_it_writes(plain, tmp_path, monkeypatch):
    _app, root, fresh_db = plain
    instance = tmp_path / "instance"
    legacy_index(1, fresh_db, database(instance))
    result = cli(instance, monkeypatch, "index", "--no-labels", str(root))
    assert result.exit_code == 0, result.output
    assert "upgrading the index" in result.output
    engine = make_engine(f"sqlite:///{database(instance)}")
    assert migrations.state(engine).current
    engine.dispose()
    assert differences(database(instance)) == []


def test_the_upgrade_waits_for_an_index_run(plain, tmp_path, monkeypatch):
    _app, _root, fresh_db = plain
    instance = tmp_path / "instance"
    legacy_index(3, fresh_db, database(instance))
    held = index_lock(str(instance))
    try:
        result = cli(instance, monkeypatch, "db", "upgrade")
    finally:
        held.close()
    assert result.exit_code != 0 and "another index run" in result.output
    assert "alembic_version" not in facts(database(instance))


def test_a_failed_upgrade_leaves_the_index_as_it_was(plain, tmp_path, monkeypatch):
    """One transaction on SQLite too (BEGIN IMMEDIATE): the columns added before the failure
    are gone again."""
    _app, _root, fresh_db = plain
    db = tmp_path / "old.sqlite"
    legacy_index(1, fresh_db, db)
    before = facts(db), table_rows(db)

    def broken(session: Any, progress: Any = None) -> None:
        session.execute(text("UPDATE photo SET listed = 1"))
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(derived, "rebuild", broken)
    engine = make_engine(f"sqlite:///{db}")
    with pytest.raises(RuntimeError, match="the disk is full"):
        migrations.upgrade(engine)
    assert migrations.state(engine).kind == "legacy"
    engine.dispose()
    assert (facts(db), table_rows(db)) == before


def test_an_index_from_a_newer_atw_is_refused(make_app, tmp_path, monkeypatch):
    app = make_app()
    url = app.config["DATABASE_URL"]
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(migrations.SchemaOutdated, match="a newer atw upgraded it"):
        make_app()
    result = cli(Path(app.instance_path), monkeypatch, "db", "upgrade")
    assert result.exit_code != 0 and "a newer atw upgraded it" in result.output


def test_two_processes_opening_a_new_instance_at_once_both_get_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    engines = [make_engine(url) for _ in range(4)]
    errors: list[BaseException] = []

    def open_it(engine: Any) -> None:
        try:
            migrations.ensure_current(engine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    con = sqlite3.connect(tmp_path / "new.sqlite")
    assert con.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
    assert con.execute("SELECT count(*) FROM meta").fetchone() == (1,)
    for e in engines:
        e.dispose()


def test_a_web_app_loaded_by_the_command_line_answers_503_on_an_outdated_index(plain, tmp_path):
    """`flask --app atw run` builds the app in a click context (the check waits for the first
    use): its pages then say what to run instead of failing."""
    import click

    _app, _root, fresh_db = plain
    instance = tmp_path / "instance"
    legacy_index(3, fresh_db, database(instance))
    with click.Context(click.Command("run")):
        app = atw.create_app(app_config(instance))
    api = app.test_client().get("/api/photos")
    assert api.status_code == 503 and UPGRADE in api.get_json()["message"]
    page = app.test_client().get("/", headers={"Accept": "text/html"})
    assert page.status_code == 503 and UPGRADE in page.get_data(as_text=True)
    assert "alembic_version" not in facts(database(instance))


def test_db_revision_writes_the_next_revision_after_the_head(tmp_path, monkeypatch):
    """The developers' command (docs/architecture.md, "Migrations"), on a copy of the folder."""
    copy = tmp_path / "migrations"
    shutil.copytree(migrations.HERE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrations, "HERE", copy)
    migrations.script.cache_clear()
    try:
        before = migrations.head()
        path = migrations.new_revision("photo gains nothing", autogenerate=True)
        number = int(before) + 1
        assert path == copy / "versions" / f"{number:04d}_photo_gains_nothing.py"
        body = path.read_text()
        assert f"down_revision = '{before}'" in body or f'down_revision = "{before}"' in body
        assert migrations.head() == f"{number:04d}"
        upgrade = body.split("def upgrade() -> None:")[1].split("def downgrade")[0]
        assert "pass" in upgrade and "op." not in upgrade  # the models match the revisions
    finally:
        migrations.script.cache_clear()
