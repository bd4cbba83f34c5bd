"""The synthetic benchmark index copied into PostgreSQL by COPY, from synthetic_index's SQLite file.

Both databases then hold exactly the same rows (generating them costs far more than copying).
The copy goes into the app's own schema (create_all, the indexes built after the load, as the
SQLite build does), then VACUUM ANALYZE: the planner needs statistics, which autovacuum would
gather on its own a while after a real index run. The database keeps a meta row naming the file
it holds, so a second run reuses it."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from sqlalchemy import Table, create_engine, insert, select, text
from sqlalchemy.engine import Connection

from atw.core import summary_counts
from atw.core.fspath import FsPath
from atw.core.schema import Base, Meta

KEY = "bench_copy_of"
CHUNK = 100_000


def holds(url: str, source: Path) -> bool:
    """Whether the database already holds a copy of this SQLite file."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if not conn.dialect.has_table(conn, "meta"):
                return False
            return conn.scalar(select(Meta.value).where(Meta.key == KEY)) == source.name
    finally:
        engine.dispose()


def copy_table(src: sqlite3.Connection, conn: Connection, table: Table) -> int:
    """COPY every row of table from the SQLite file (the columns both have); rows copied."""
    have = {r[1] for r in src.execute(f"PRAGMA table_info({table.name})")}
    cols = [c for c in table.c if c.name in have]
    if not cols:
        return 0
    names = ", ".join(c.name for c in cols)
    paths = [isinstance(c.type, FsPath) for c in cols]  # BYTEA here (atw.core.fspath)
    raw = conn.connection.dbapi_connection
    assert raw is not None
    n = 0
    cur = src.execute(f"SELECT {names} FROM {table.name}")
    with raw.cursor() as pg, pg.copy(f"COPY {table.name} ({names}) FROM STDIN") as cp:
        while rows := cur.fetchmany(CHUNK):
            for row in rows:
                values = zip(row, paths, strict=True)
                cp.write_row([os.fsencode(v) if p and isinstance(v, str) else v for v, p in values])
            n += len(rows)
    return n


def build(url: str, source: Path) -> float:
    """Copy the synthetic SQLite index at source into the database at url (its atw tables are
    replaced); seconds taken."""
    t = time.perf_counter()
    engine = create_engine(url)
    Base.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    Base.metadata.create_all(engine)
    indexes = [ix for table in Base.metadata.sorted_tables for ix in table.indexes]
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        with engine.begin() as conn:
            for ix in indexes:
                ix.drop(conn)
            for table in Base.metadata.sorted_tables:
                if table.name in summary_counts.TABLES:
                    continue  # counted by photo's triggers as its rows come in: not copied
                t_tab = time.perf_counter()
                n = copy_table(src, conn, table)
                took = time.perf_counter() - t_tab
                print(f"  {table.name}: {n:,} rows, {took:.1f} s", flush=True)
            for ix in indexes:
                t_ix = time.perf_counter()
                ix.create(conn)
                print(f"  index {ix.name}: {time.perf_counter() - t_ix:.1f} s", flush=True)
            # ids were copied as they are: each sequence starts after them (as in a real index)
            for table in Base.metadata.sorted_tables:
                if "id" in table.c and table.c.id.primary_key:
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"(SELECT coalesce(max(id), 0) + 1 FROM {table.name}), false)"
                        )
                    )
    finally:
        src.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        t_an = time.perf_counter()
        conn.execute(text("VACUUM ANALYZE"))
        print(f"  VACUUM ANALYZE: {time.perf_counter() - t_an:.1f} s", flush=True)
    with engine.begin() as conn:
        conn.execute(insert(Meta.__table__), [{"key": KEY, "value": source.name}])
    engine.dispose()
    return time.perf_counter() - t


def size_gb(url: str) -> float:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return float(conn.scalar(text("SELECT pg_database_size(current_database())"))) / 1e9
    finally:
        engine.dispose()
