"""Places and capture instants: Photo's place, zone and time columns, PhotoClass.sort_time.

Revision ID: 0002
Revises: 0001

Issue 13. Photo gains offset_source, taken_at_utc, sort_time (the instant where known, else the
wall-clock time: the key of every time order), the raw time facts exif_offset and gps_at, and
the place: time_zone, country_code, region, place, place_km, at_sea, near; the index
ix_photo_place. PhotoClass gains sort_time (a copy, like taken_at).

What an existing index holds after it (no photo is read, and the gazetteer is NOT run here: a
migration changes the schema, it does not compute places):
- every photo's utc_offset as the old code stored it was the EXIF offset of its date tag, or
  FILE_TIME_ZONE's offset for an estimated time: it becomes exif_offset (resp. stays the file
  offset), offset_source "exif" (resp. "file"), and taken_at_utc = taken_at − offset;
- sort_time = taken_at_utc where there is one, else taken_at; PhotoClass.sort_time copies it;
- the place columns stay empty and no photo has its "places" StageDone row, so the next index
  run's places stage (pipelines/places.py) fills them for every photo under its roots from the
  index alone, resolving the offsets again (GPS clocks of photos indexed before this revision
  were not stored: those photos get exif → zone → none).
Frozen: the computation below is this revision's own, not atw.core.localtime's.
"""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
from alembic import context, op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CHUNK = 5000
PHOTO = sa.table(
    "photo",
    sa.column("id", sa.Integer),
    sa.column("taken_at", sa.DateTime),
    sa.column("utc_offset", sa.String),
    sa.column("time_estimated", sa.Boolean),
    sa.column("offset_source", sa.String),
    sa.column("taken_at_utc", sa.DateTime),
    sa.column("sort_time", sa.DateTime),
    sa.column("exif_offset", sa.String),
)
PHOTO_CLASS = sa.table(
    "photo_class",
    sa.column("photo_id", sa.Integer),
    sa.column("taken_at", sa.DateTime),
    sa.column("sort_time", sa.DateTime),
)
_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")


def _offset(text: str | None) -> timedelta | None:
    """ "+HH:MM" as the old writer stored it → timedelta; None beyond ±14:00 or malformed."""
    m = _OFFSET.fullmatch(text or "")
    if m is None or int(m[3]) >= 60:
        return None
    off = timedelta(hours=int(m[2]), minutes=int(m[3]))
    off = -off if m[1] == "-" else off
    return off if abs(off) <= timedelta(hours=14) else None


def upgrade() -> None:
    echo = context.config.attributes.get("echo") or (lambda _line: None)
    op.add_column(
        "photo",
        sa.Column("offset_source", sa.String(length=8), server_default="none", nullable=False),
    )
    for name, kind in (
        ("taken_at_utc", sa.DateTime()),
        ("sort_time", sa.DateTime()),
        ("exif_offset", sa.String(length=6)),
        ("gps_at", sa.DateTime()),
        ("time_zone", sa.String(length=64)),
        ("country_code", sa.String(length=2)),
        ("region", sa.String(length=128)),
        ("place", sa.String(length=128)),
        ("place_km", sa.Float()),
    ):
        op.add_column("photo", sa.Column(name, kind, nullable=True))
    op.add_column(
        "photo",
        sa.Column("at_sea", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column("photo", sa.Column("near", sa.String(length=200), nullable=True))
    op.add_column("photo_class", sa.Column("sort_time", sa.DateTime(), nullable=True))

    bind = op.get_bind()
    echo("    capture instants from the stored offsets …")
    bind.execute(PHOTO.update().values(sort_time=PHOTO.c.taken_at))
    bind.execute(PHOTO_CLASS.update().values(sort_time=PHOTO_CLASS.c.taken_at))
    timed = sa.select(PHOTO.c.id, PHOTO.c.taken_at, PHOTO.c.utc_offset, PHOTO.c.time_estimated)
    timed = timed.where(PHOTO.c.utc_offset.is_not(None), PHOTO.c.taken_at.is_not(None))
    last = 0
    while True:
        rows = bind.execute(timed.where(PHOTO.c.id > last).order_by(PHOTO.c.id).limit(CHUNK)).all()
        if not rows:
            break
        last = rows[-1].id
        _instants(bind, rows)
    op.create_index(
        "ix_photo_place",
        "photo",
        [
            "country_code",
            "region",
            "place",
            "listed",
            "time_estimated",
            "sort_time",
            "id",
            "taken_at",
        ],
        unique=False,
    )
    echo("    places come with the next index run (its places stage; no photo is read again)")


def _instants(bind: sa.Connection, rows: list[sa.Row]) -> None:  # type: ignore[type-arg]
    """exif_offset, offset_source, utc_offset, taken_at_utc and sort_time for photos with a
    stored offset; their PhotoClass rows' sort_time."""
    photos, classes = [], []
    for r in rows:
        off = _offset(r.utc_offset)
        utc = None if off is None else r.taken_at - off
        photos.append(
            {
                "b_id": r.id,
                "b_exif_offset": None if r.time_estimated else r.utc_offset,
                "b_source": "none" if off is None else "file" if r.time_estimated else "exif",
                "b_utc_offset": None if off is None else r.utc_offset,
                "b_utc": utc,
                "b_sort": utc if utc is not None else r.taken_at,
            }
        )
        if utc is not None:
            classes.append({"b_id": r.id, "b_sort": utc})
    bind.execute(
        PHOTO.update()
        .where(PHOTO.c.id == sa.bindparam("b_id"))
        .values(
            exif_offset=sa.bindparam("b_exif_offset"),
            offset_source=sa.bindparam("b_source"),
            utc_offset=sa.bindparam("b_utc_offset"),
            taken_at_utc=sa.bindparam("b_utc"),
            sort_time=sa.bindparam("b_sort"),
        ),
        photos,
    )
    if classes:
        bind.execute(
            PHOTO_CLASS.update()
            .where(PHOTO_CLASS.c.photo_id == sa.bindparam("b_id"))
            .values(sort_time=sa.bindparam("b_sort")),
            classes,
        )


def downgrade() -> None:
    """Back to 0001: utc_offset holds what the old code stored (the offset written with the
    date, or an estimated time's file offset), the places stage's records go with its columns."""
    bind = op.get_bind()
    bind.execute(
        PHOTO.update()
        .where(PHOTO.c.time_estimated == sa.false())
        .values(utc_offset=PHOTO.c.exif_offset)
    )
    bind.execute(sa.text("DELETE FROM stage_done WHERE stage = 'places'"))
    op.drop_index("ix_photo_place", table_name="photo")
    with op.batch_alter_table("photo_class") as batch:
        batch.drop_column("sort_time")
    with op.batch_alter_table("photo") as batch:
        for name in (
            "near",
            "at_sea",
            "place_km",
            "place",
            "region",
            "country_code",
            "time_zone",
            "gps_at",
            "exif_offset",
            "sort_time",
            "taken_at_utc",
            "offset_source",
        ):
            batch.drop_column(name)
