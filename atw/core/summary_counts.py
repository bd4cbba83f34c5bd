"""Listed photos per local day and per stored place, kept exact by the database's own triggers.

Issue 15 (queries at a million photos). Two summary tables of `photo`:
- photo_day_count (day, estimated, photos): listed photos per local day of taken_at (the wall
  clock's date, as the date filter reads it), split by time_estimated; photos without a time
  under the day UNDATED (0001-01-01: no real capture time is that old);
- place_count (country_code, region, place, photos): listed photos per stored place, a missing
  part as "" (no stored place name is empty).
Triggers on photo (AFTER INSERT / DELETE / UPDATE OF listed, taken_at, time_estimated,
country_code, region, place) keep them, so no write path (index runs, the places stage, prune,
uploads, relisting, migrations) can forget them. A row whose count falls to 0 is deleted: the
tables always equal a GROUP BY over the listed photos; summary_version's n goes up with every
such write, with every write to photo_class's classes and scores (revision 0010: triggers
on photo_class) and with every change of a photo's position (revision 0011), so readers
cache what they compute from these tables or from the class rows and positions
(atw.query.class_memory) under it. This module is the ONE definition: a new index gets the
tables with create_all and the triggers from the metadata's after_create hook (install);
revision 0006 creates both on an older index and fills the tables (fill); revision 0010 adds
the triggers on photo_class (class_ddl), 0011 the one on photo's position (geo_ddl).
Readers: atw.query.day_counts."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import Boolean, Date, Integer, String, cast, event, exists, func, insert, select
from sqlalchemy import true as sa_true
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from atw.core.dialect import BIG_INTEGER
from atw.core.schema import Base, Photo

UNDATED = date(1, 1, 1)
TABLES = ("photo_day_count", "place_count", "summary_version")
KEEP = "listed, taken_at, time_estimated, country_code, region, place"  # UPDATE OF …


class PhotoDayCount(Base):
    """Listed photos per local day of taken_at and time_estimated (UNDATED: no time)."""

    __tablename__ = "photo_day_count"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    estimated: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    photos: Mapped[int] = mapped_column(Integer, default=0)


class PlaceCount(Base):
    """Listed photos per stored (country_code, region, place), "" for a missing part."""

    __tablename__ = "place_count"
    country_code: Mapped[str] = mapped_column(String(2), primary_key=True)
    region: Mapped[str] = mapped_column(String(128), primary_key=True)
    place: Mapped[str] = mapped_column(String(128), primary_key=True)
    photos: Mapped[int] = mapped_column(Integer, default=0)


class SummaryVersion(Base):
    """One row: n goes up with every write the triggers count (at least), so an answer
    computed from the tables can be reused while it stays; epoch tells a database made again
    at the same address from the one before."""

    __tablename__ = "summary_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    epoch: Mapped[str] = mapped_column(String(32))
    n: Mapped[int] = mapped_column(BIG_INTEGER)


_BUMP = "UPDATE summary_version SET n = n + 1"

# --- the triggers, per database ------------------------------------------------------------
# {row}: NEW or OLD. SQLite stores DATETIME as "YYYY-MM-DD HH:MM:SS.ffffff" text, compared as
# text by the date filter: its first 10 characters are the day.

_SQLITE_DAY = "coalesce(substr({row}.taken_at, 1, 10), '0001-01-01'), {row}.time_estimated"
_PG_DAY = "coalesce(CAST({row}.taken_at AS date), DATE '0001-01-01'), {row}.time_estimated"
_PLACE = "coalesce({row}.country_code, ''), coalesce({row}.region, ''), coalesce({row}.place, '')"
_DAY_KEY = "(day, estimated)"
_PLACE_KEY = "(country_code, region, place)"


def _add(day: str, row: str, where: str = "WHERE true") -> list[str]:
    """INSERT … SELECT … ON CONFLICT statements adding 1 to the row's day and place (the
    SELECT has a WHERE: SQLite's parser needs one before an UPSERT's ON)."""
    out = []
    for table, key, values in (
        ("photo_day_count", _DAY_KEY, day),
        ("place_count", _PLACE_KEY, _PLACE),
    ):
        cols = key[:-1] + ", photos)"
        out.append(
            f"INSERT INTO {table} {cols} SELECT {values.format(row=row)}, 1 {where} "
            f"ON CONFLICT {key} DO UPDATE SET photos = {table}.photos + 1"
        )
    return out


def _take(day: str, row: str, extra: str = "") -> list[str]:
    """Statements taking 1 from the row's day and place (a row at 0 is deleted)."""
    out = []
    for table, key, values in (
        ("photo_day_count", _DAY_KEY, day),
        ("place_count", _PLACE_KEY, _PLACE),
    ):
        where = f"WHERE {key} = ({values.format(row=row)}){extra}"
        out.append(f"UPDATE {table} SET photos = photos - 1 {where}")
        out.append(f"DELETE FROM {table} {where} AND photos = 0")
    return out


_CHANGED = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in KEEP.split(", "))
CLASS_KEEP = "label, source, photo_id, score"  # photo_class: UPDATE OF … (not the times)


def class_ddl(dialect_name: str) -> list[str]:
    """The triggers bumping summary_version on every write to photo_class's classes and scores
    (revision 0010): SQLite's for each row, PostgreSQL's once per statement."""
    if dialect_name == "postgresql":
        return [
            *class_drop_ddl(dialect_name),
            "CREATE TRIGGER photo_class_version AFTER INSERT OR DELETE OR UPDATE OF "
            f"{CLASS_KEEP} ON photo_class FOR EACH STATEMENT EXECUTE FUNCTION atw_summary_bump()",
        ]
    return [
        *class_drop_ddl(dialect_name),
        *(
            f"CREATE TRIGGER photo_class_version_{op.split()[0].lower()} AFTER {op} ON "
            f"photo_class BEGIN {_BUMP}; END"
            for op in ("INSERT", "DELETE", f"UPDATE OF {CLASS_KEEP}")
        ),
    ]


GEO_KEEP = "lat, lon, geo_x, geo_y, geo_z"  # photo: UPDATE OF … (revision 0011)


def geo_ddl(dialect_name: str) -> list[str]:
    """The trigger bumping summary_version on every change of a photo's position (revision
    0011: the positions held in memory, atw.query.photo_memory; listed and time_estimated
    already bump it)."""
    on = f"AFTER UPDATE OF {GEO_KEEP} ON photo"
    if dialect_name == "postgresql":
        run = "FOR EACH STATEMENT EXECUTE FUNCTION atw_summary_bump()"
        return [*geo_drop_ddl(dialect_name), f"CREATE TRIGGER photo_geo_version {on} {run}"]
    return [
        *geo_drop_ddl(dialect_name),
        f"CREATE TRIGGER photo_geo_version {on} BEGIN {_BUMP}; END",
    ]


def geo_drop_ddl(dialect_name: str) -> list[str]:
    """The statement that removes geo_ddl's trigger (revision 0011's downgrade)."""
    on = " ON photo" if dialect_name == "postgresql" else ""
    return [f"DROP TRIGGER IF EXISTS photo_geo_version{on}"]


def class_drop_ddl(dialect_name: str) -> list[str]:
    """The statements that remove class_ddl's triggers (revision 0010's downgrade)."""
    if dialect_name == "postgresql":
        return ["DROP TRIGGER IF EXISTS photo_class_version ON photo_class"]
    ops = ("insert", "delete", "update")
    return [f"DROP TRIGGER IF EXISTS photo_class_version_{op}" for op in ops]


def sqlite_ddl() -> list[str]:
    """CREATE TRIGGER statements for SQLite (UPSERT in trigger bodies: SQLite ≥ 3.24), each
    bumping summary_version."""
    body = "; ".join
    return [
        *drop_ddl("sqlite"),
        "CREATE TRIGGER photo_counts_insert AFTER INSERT ON photo "
        f"WHEN NEW.listed BEGIN {body(_add(_SQLITE_DAY, 'NEW'))}; {_BUMP}; END",
        "CREATE TRIGGER photo_counts_delete AFTER DELETE ON photo "
        f"WHEN OLD.listed BEGIN {body(_take(_SQLITE_DAY, 'OLD'))}; {_BUMP}; END",
        f"CREATE TRIGGER photo_counts_update AFTER UPDATE OF {KEEP} ON photo "
        f"WHEN (OLD.listed OR NEW.listed) AND ({_CHANGED}) BEGIN "
        f"{body(_take(_SQLITE_DAY, 'OLD', ' AND OLD.listed'))}; "
        f"{body(_add(_SQLITE_DAY, 'NEW', 'WHERE NEW.listed'))}; {_BUMP}; END",
    ]


def postgres_ddl() -> list[str]:
    """plpgsql functions and their triggers for PostgreSQL: the counts per row, summary_version
    once per statement (a bump per row would make one row many versions within a bulk load)."""
    take = "; ".join(_take(_PG_DAY, "OLD"))
    add = "; ".join(_add(_PG_DAY, "NEW"))
    changed = _CHANGED.replace(" IS NOT ", " IS DISTINCT FROM ")
    return [
        "CREATE OR REPLACE FUNCTION atw_photo_counts() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        f"IF TG_OP <> 'INSERT' THEN IF OLD.listed THEN {take}; END IF; END IF; "
        f"IF TG_OP <> 'DELETE' THEN IF NEW.listed THEN {add}; END IF; END IF; "
        "RETURN NULL; END $$",
        "CREATE OR REPLACE FUNCTION atw_summary_bump() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN {_BUMP}; RETURN NULL; END $$",
        *_PG_DROP_TRIGGERS,
        f"CREATE TRIGGER photo_counts_version AFTER INSERT OR DELETE OR UPDATE OF {KEEP} ON photo "
        "FOR EACH STATEMENT EXECUTE FUNCTION atw_summary_bump()",
        "CREATE TRIGGER photo_counts_write AFTER INSERT OR DELETE ON photo "
        "FOR EACH ROW EXECUTE FUNCTION atw_photo_counts()",
        f"CREATE TRIGGER photo_counts_update AFTER UPDATE OF {KEEP} ON photo FOR EACH ROW "
        f"WHEN ((OLD.listed OR NEW.listed) AND ({changed})) EXECUTE FUNCTION atw_photo_counts()",
    ]


def drop_ddl(dialect_name: str) -> list[str]:
    """The statements that remove the triggers (revision 0006's downgrade), photo_class's too."""
    if dialect_name == "postgresql":
        return [
            *class_drop_ddl(dialect_name),
            *geo_drop_ddl(dialect_name),
            *_PG_DROP_TRIGGERS,
            "DROP FUNCTION IF EXISTS atw_photo_counts()",
            "DROP FUNCTION IF EXISTS atw_summary_bump()",
        ]
    ops = ("insert", "delete", "update")
    return [
        *class_drop_ddl(dialect_name),
        *geo_drop_ddl(dialect_name),
        *(f"DROP TRIGGER IF EXISTS photo_counts_{op}" for op in ops),
    ]


_PG_DROP_TRIGGERS = [
    f"DROP TRIGGER IF EXISTS photo_counts_{name} ON photo"
    for name in ("write", "update", "version")
]


def install(conn: Connection) -> None:
    """Create (or replace) the triggers and the version row (the tables exist), then fill the
    tables if they are empty while listed photos exist (an index whose tables were just made)."""
    name = conn.dialect.name
    if conn.scalar(select(SummaryVersion.n).where(SummaryVersion.id == 1)) is None:
        conn.execute(insert(SummaryVersion).values(id=1, epoch=uuid.uuid4().hex, n=0))
    for stmt in postgres_ddl() if name == "postgresql" else sqlite_ddl():
        conn.exec_driver_sql(stmt)
    for stmt in [*class_ddl(name), *geo_ddl(name)]:
        conn.exec_driver_sql(stmt)
    filled = conn.scalar(select(exists().select_from(PhotoDayCount)))
    if not filled and conn.scalar(select(exists().where(Photo.listed == sa_true()))):
        fill(conn)


def fill(conn: Connection) -> None:
    """(Re)count both tables from photo: one GROUP BY each."""
    conn.execute(PhotoDayCount.__table__.delete())
    conn.execute(PlaceCount.__table__.delete())
    listed = Photo.listed == sa_true()
    day = day_expr(Photo.taken_at, conn.dialect.name)
    n = func.count().label("photos")
    q = (
        select(day.label("day"), Photo.time_estimated, n)
        .where(listed)
        .group_by(day, Photo.time_estimated)
    )
    conn.execute(insert(PhotoDayCount).from_select(["day", "estimated", "photos"], q))
    parts = [func.coalesce(c, "") for c in (Photo.country_code, Photo.region, Photo.place)]
    q = select(*parts, n).where(listed).group_by(*parts)
    conn.execute(insert(PlaceCount).from_select(["country_code", "region", "place", "photos"], q))
    conn.exec_driver_sql(_BUMP)


def version(conn: Connection) -> tuple[str, int] | None:
    """(epoch, n): changes whenever the counts may have (None without the row)."""
    row = conn.execute(select(SummaryVersion.epoch, SummaryVersion.n)).first()
    return None if row is None else (row[0], int(row[1]))


def day_expr(col: Any, dialect_name: str) -> Any:
    """The day key of a taken_at column, as the triggers compute it."""
    if dialect_name == "postgresql":
        return func.coalesce(cast(col, Date), UNDATED)
    return func.coalesce(func.substr(col, 1, 10), UNDATED.isoformat())


@event.listens_for(Base.metadata, "after_create")
def _after_create(_target: Any, conn: Connection, **_kw: Any) -> None:
    """create_all (a new index, the benches' builds) installs the triggers too."""
    install(conn)
