"""Engine setup and the schema's upkeep: create missing tables, upgrade older index files."""

from __future__ import annotations

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from atw.core.derived import rebuild
from atw.core.schema import SCHEMA_VERSION, Base, Meta, Photo


def make_engine(url: str) -> Engine:
    """An engine for the index; SQLite gets WAL, a busy timeout and foreign keys, and a small
    pool of connections shared by threads (each keeps its page cache warm between requests)."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            pool_size=8,
            max_overflow=8,
            connect_args={"timeout": 30, "check_same_thread": False},
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def create_schema(engine: Engine) -> None:
    """Create missing tables and record the schema version (idempotent)."""
    Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        version = session.get(Meta, "schema_version")
        if version is None:
            session.add(Meta(key="schema_version", value=SCHEMA_VERSION))
            return
        if version.value == "1":  # schema 2 added derived columns and tables: fill them
            _upgrade_2_to_3(session)  # first: the 1 → 2 step creates every index of photo
            upgrade_from_1(session)
            version.value = "2"
        if version.value == "2":
            _upgrade_2_to_3(session)
            version.value = "3"


def _upgrade_2_to_3(session: Session) -> None:
    """Schema 3: Photo.damaged and Photo.damage_reason (every photo indexed before decoded
    fully, so the defaults are right for them)."""
    present = {c["name"] for c in inspect(session.connection()).get_columns("photo")}
    if "damaged" not in present:
        session.execute(text("ALTER TABLE photo ADD COLUMN damaged BOOLEAN DEFAULT FALSE NOT NULL"))
    if "damage_reason" not in present:
        session.execute(text("ALTER TABLE photo ADD COLUMN damage_reason TEXT"))
    for ix in Photo.__table__.indexes:
        if ix.name == "ix_photo_damaged":
            ix.create(session.connection(), checkfirst=True)


def upgrade_from_1(session: Session) -> None:
    """Schema 1 → 2: add Photo.listed and geo_*, redefine two photo indexes and add one, derive
    the new rows (the new tables already exist: create_all made them)."""
    bind = session.connection()
    session.execute(text("ALTER TABLE photo ADD COLUMN listed BOOLEAN DEFAULT FALSE NOT NULL"))
    for col in ("geo_x", "geo_y", "geo_z"):
        session.execute(text(f"ALTER TABLE photo ADD COLUMN {col} FLOAT"))
    for ix in Photo.__table__.indexes:
        if ix.name in ("ix_photo_taken_at", "ix_photo_lat_lon"):  # redefined in schema 2
            ix.drop(bind, checkfirst=True)  # DROP INDEX by name: the old definition goes
        ix.create(bind, checkfirst=True)
    rebuild(session)
