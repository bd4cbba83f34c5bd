"""Everything an index holds, keyed by content (ids differ between runs), on either database."""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool


def sqlite_url(instance: Any) -> str:
    return f"sqlite:///{instance}/atw.sqlite"


_ENGINES: dict[str, Engine] = {}


def _engine(url: str) -> Engine:
    """One engine per URL for the session's polling (a new PostgreSQL connection per poll would
    start a server process each time); SQLite files are opened anew each time."""
    if url.startswith("sqlite"):
        return create_engine(url, poolclass=NullPool)
    if url not in _ENGINES:
        _ENGINES[url] = create_engine(url, pool_size=1, max_overflow=0)
    return _ENGINES[url]


def _rows(url: str, *statements: str) -> list[list[tuple[Any, ...]]]:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            return [[tuple(r) for r in conn.execute(text(sql))] for sql in statements]
    finally:
        if url.startswith("sqlite"):
            engine.dispose()


def full_snapshot(url: str) -> dict[str, Any]:
    """Rows of every table by content, checked whole: integrity (SQLite), no duplicates, no
    orphans. Text is ordered bytewise (COLLATE "C" on PostgreSQL, SQLite's BINARY)."""
    pg = url.startswith("postgresql")
    c = ' COLLATE "C"' if pg else ""
    queries = {
        "photos": "SELECT sha256, bytes, format, width, height, orientation, taken_at, "
        "utc_offset, time_estimated, lat, lon, camera_make, camera_model, exif_json, listed, "
        f"source FROM photo ORDER BY sha256{c}",
        "paths": "SELECT pp.path, pp.root, p.sha256, pp.size, pp.mtime_ns, "
        "pp.missing_since IS NULL FROM photo_path pp "
        "JOIN photo p ON p.id = pp.photo_id ORDER BY pp.path",
        "labels": "SELECT p.sha256, l.source, l.label, l.score, l.model, l.weights_id, "
        "l.taken_at FROM label l JOIN photo p ON p.id = l.photo_id "
        f"ORDER BY p.sha256{c}, l.source{c}, l.label{c}, l.score",
        "detections": "SELECT p.sha256, d.label, d.score, d.x0, d.y0, d.x1, d.y1, d.model, "
        "d.weights_id FROM detection d JOIN photo p ON p.id = d.photo_id "
        f"ORDER BY p.sha256{c}, d.label{c}, d.score, d.x0, d.y0",
        "stage_done": "SELECT p.sha256, s.stage, s.model, s.weights_id FROM stage_done s "
        f"JOIN photo p ON p.id = s.photo_id ORDER BY p.sha256{c}, s.stage{c}",
        "photo_class": "SELECT c.label, c.source, p.sha256, c.taken_at, c.score, c.s2, c.s3, "
        "c.s4, c.s5, c.n FROM photo_class c JOIN photo p ON p.id = c.photo_id "
        f"ORDER BY c.label{c}, c.source{c}, p.sha256{c}",
        "class_count": "SELECT source, label, bucket, photos FROM class_count "
        f"WHERE photos != 0 ORDER BY source{c}, label{c}, bucket",
        "quarantine": "SELECT path, reason FROM quarantine ORDER BY path",
    }
    checks = [
        "SELECT sha256 FROM photo GROUP BY sha256 HAVING count(*) > 1",
        "SELECT path FROM photo_path GROUP BY path HAVING count(*) > 1",
        "SELECT id FROM photo WHERE id NOT IN (SELECT photo_id FROM photo_path)",
        "SELECT id FROM label WHERE photo_id NOT IN (SELECT id FROM photo)",
        "SELECT id FROM detection WHERE photo_id NOT IN (SELECT id FROM photo)",
        "SELECT id FROM photo_path WHERE photo_id NOT IN (SELECT id FROM photo)",
        "SELECT photo_id FROM photo_class WHERE photo_id NOT IN (SELECT id FROM photo)",
        "SELECT photo_id FROM stage_done WHERE photo_id NOT IN (SELECT id FROM photo)",
        "SELECT photo_id, source, label FROM label "
        "GROUP BY photo_id, source, label, score HAVING count(*) > 1",
    ]
    if not pg:
        checks_sqlite = ["PRAGMA integrity_check", "PRAGMA foreign_key_check"]
        integrity, fks = _rows(url, *checks_sqlite)
        assert integrity == [("ok",)] and fks == [], (integrity, fks)
    got = _rows(url, *queries.values(), *checks)
    snap: dict[str, Any] = dict(zip(queries, got[: len(queries)], strict=True))
    for sql, rows in zip(checks, got[len(queries) :], strict=True):
        assert rows == [], sql
    snap["shas"] = {r[0] for r in snap["photos"]}
    return snap


def photo_count(url: str) -> int:
    """Photos committed so far (0 while the database or its tables do not exist yet)."""
    if url.startswith("sqlite:///"):  # sqlite3 itself: cheap enough to poll every 10 ms
        path = url.removeprefix("sqlite:///")
        if not os.path.exists(path):
            return 0  # (connecting would create the file)
        con = sqlite3.connect(path, timeout=30)
        try:
            return int(con.execute("SELECT count(*) FROM photo").fetchone()[0])
        except sqlite3.OperationalError:
            return 0
        finally:
            con.close()
    try:
        return int(_rows(url, "SELECT count(*) FROM photo")[0][0][0])
    except DBAPIError:
        return 0


def run_statuses(url: str) -> list[tuple[Any, ...]]:
    """(status, started_at, finished_at, roots_json) of every index run, in order."""
    return _rows(
        url, "SELECT status, started_at, finished_at, roots_json FROM index_run ORDER BY id"
    )[0]
