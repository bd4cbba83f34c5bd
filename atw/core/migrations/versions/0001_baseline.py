"""Baseline: schema 3, made on an empty database or adopted from an index written before Alembic.

Revision ID: 0001
Revises: (none)

Before Alembic, atw kept meta.schema_version and upgraded at every start: 1 → 2 added
Photo.listed and geo_*, the PhotoClass and ClassCount tables and redefined two photo indexes
(its derived rows filled from the labels); 2 → 3 added Photo.damaged and damage_reason. An index
of any of those versions has no alembic_version table, so Alembic runs this revision on it: it
inspects the tables and does only what is missing, and the index leaves it at schema 3 (an
index already at 3 only gains the stamp). Frozen: later changes are later revisions.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.orm import Session

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = 3  # meta.schema_version after this revision (the last version before Alembic)
META = sa.table("meta", sa.column("key", sa.String), sa.column("value", sa.Text))
# PostgreSQL (supported since issue 16: no index there predates these; SQLite's DDL unchanged):
# 64-bit sizes and mtimes (atw.core.dialect.BIG_INTEGER), paths as BYTEA (atw.core.fspath).
BIG = sa.Integer().with_variant(sa.BigInteger(), "postgresql")
PATH = sa.Text().with_variant(sa.LargeBinary(), "postgresql")


def _index_run() -> None:
    op.create_table(
        "index_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("roots_json", sa.Text(), nullable=False),
        sa.Column("stages", sa.String(length=256), nullable=False),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in (
                "seen",
                "indexed",
                "unchanged",
                "new_paths",
                "relabelled",
                "quarantined",
                "missing",
            )
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def _meta() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def _photo() -> None:
    op.create_table(
        "photo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("bytes", BIG, nullable=False),
        sa.Column("format", sa.String(length=16), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("orientation", sa.Integer(), nullable=True),
        sa.Column("taken_at", sa.DateTime(), nullable=True),
        sa.Column("utc_offset", sa.String(length=6), nullable=True),
        sa.Column("time_estimated", sa.Boolean(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("altitude", sa.Float(), nullable=True),
        sa.Column("camera_make", sa.String(length=128), nullable=True),
        sa.Column("camera_model", sa.String(length=128), nullable=True),
        sa.Column("exif_json", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("previous_version_id", sa.Integer(), nullable=True),
        sa.Column("indexed_at", sa.DateTime(), nullable=False),
        sa.Column("first_run_id", sa.Integer(), nullable=True),
        sa.Column("listed", sa.Boolean(), nullable=False),
        sa.Column("geo_x", sa.Float(), nullable=True),
        sa.Column("geo_y", sa.Float(), nullable=True),
        sa.Column("geo_z", sa.Float(), nullable=True),
        sa.Column("damaged", sa.Boolean(), nullable=False),
        sa.Column("damage_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256"),
        sa.ForeignKeyConstraint(["previous_version_id"], ["photo.id"]),
        sa.ForeignKeyConstraint(["first_run_id"], ["index_run.id"]),
    )
    for name, columns, where in PHOTO_INDEXES:
        _photo_index(name, columns, where)


# Schema 3's indexes on photo: (name, columns, partial index condition as (sqlite, postgresql)).
PHOTO_INDEXES: list[tuple[str, list[str], tuple[str, str] | None]] = [
    ("ix_photo_taken_at", ["taken_at", "id", "listed", "time_estimated"], None),
    (
        "ix_photo_lat_lon",
        ["lat", "lon", "geo_x", "geo_y", "geo_z", "listed", "taken_at", "id"],
        None,
    ),
    ("ix_photo_camera", ["camera_make", "camera_model"], None),
    ("ix_photo_unlisted", ["listed"], ("listed = 0", "listed = false")),
    ("ix_photo_damaged", ["damaged"], ("damaged = 1", "damaged = true")),
]


def _photo_index(name: str, columns: list[str], where: tuple[str, str] | None) -> None:
    partial = {}
    if where:  # a partial index: the condition is written per dialect (booleans differ)
        partial = {"sqlite_where": sa.text(where[0]), "postgresql_where": sa.text(where[1])}
    op.create_index(name, "photo", columns, unique=False, **partial)


def _quarantine() -> None:
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", PATH, nullable=False),  # atw.core.fspath.FsPath
        sa.Column("root", PATH, nullable=False),  # FsPath
        sa.Column("size", BIG, nullable=False),
        sa.Column("mtime_ns", BIG, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("path"),
        sa.ForeignKeyConstraint(["run_id"], ["index_run.id"]),
    )


def _photo_path() -> None:
    op.create_table(
        "photo_path",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("photo_id", sa.Integer(), nullable=False),
        sa.Column("path", PATH, nullable=False),  # FsPath
        sa.Column("root", PATH, nullable=False),  # FsPath
        sa.Column("size", BIG, nullable=False),
        sa.Column("mtime_ns", BIG, nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("missing_since", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["photo_id"], ["photo.id"], ondelete="CASCADE"),
        sa.UniqueConstraint("path"),
    )
    op.create_index("ix_photo_path_photo_id", "photo_path", ["photo_id"], unique=False)


def _label() -> None:
    op.create_table(
        "label",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("photo_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=128), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("weights_id", sa.String(length=64), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["photo_id"], ["photo.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_label_photo", "label", ["photo_id"], unique=False)
    op.create_index("ix_label_label", "label", ["label", "taken_at", "score", "photo_id"])


def _detection() -> None:
    op.create_table(
        "detection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("photo_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        *(sa.Column(name, sa.Float(), nullable=False) for name in ("x0", "y0", "x1", "y1")),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("weights_id", sa.String(length=64), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["photo_id"], ["photo.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_detection_photo", "detection", ["photo_id"], unique=False)
    op.create_index("ix_detection_label", "detection", ["label", "taken_at", "score", "photo_id"])


def _photo_class() -> None:
    op.create_table(
        "photo_class",
        sa.Column("label", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("photo_id", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        *(sa.Column(name, sa.Float(), nullable=True) for name in ("s2", "s3", "s4", "s5")),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("label", "source", "photo_id"),
        sa.ForeignKeyConstraint(["photo_id"], ["photo.id"], ondelete="CASCADE"),
        sqlite_with_rowid=False,  # SQLite table option; other databases ignore it
    )
    op.create_index(
        "ix_photo_class_label",
        "photo_class",
        ["label", "source", "taken_at", "photo_id", "score", "s2", "s3", "s4", "s5"],
    )
    op.create_index("ix_photo_class_photo", "photo_class", ["photo_id"], unique=False)


def _class_count() -> None:
    op.create_table(
        "class_count",
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=128), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("photos", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("source", "label", "bucket"),
    )


def _stage_done() -> None:
    op.create_table(
        "stage_done",
        sa.Column("photo_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("weights_id", sa.String(length=64), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("photo_id", "stage"),
        sa.ForeignKeyConstraint(["photo_id"], ["photo.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_stage_done_stage", "stage_done", ["stage", "model", "weights_id"])


def _upload() -> None:
    op.create_table(
        "upload",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("bytes", BIG, nullable=False),
        sa.Column("first_uploaded_at", sa.DateTime(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("photo_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256"),
        sa.UniqueConstraint("path"),
        sa.ForeignKeyConstraint(["photo_id"], ["photo.id"], ondelete="SET NULL"),
    )
    op.create_index("ix_upload_uploaded_at", "upload", ["uploaded_at"], unique=False)
    op.create_index("ix_upload_status", "upload", ["status"], unique=False)


# Schema 3's tables, in an order that creates every referenced table first.
TABLES: dict[str, Callable[[], None]] = {
    "index_run": _index_run,
    "meta": _meta,
    "photo": _photo,
    "quarantine": _quarantine,
    "photo_path": _photo_path,
    "label": _label,
    "detection": _detection,
    "photo_class": _photo_class,
    "class_count": _class_count,
    "stage_done": _stage_done,
    "upload": _upload,
}


def later_photo_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    """Photo columns added after schema 1, with what they hold on a photo indexed before them
    (listed and geo_* are then derived from the other rows; nothing decoded as damaged)."""
    return [
        sa.Column("listed", sa.Boolean(), server_default=sa.false(), nullable=False),  # 2
        sa.Column("geo_x", sa.Float(), nullable=True),  # 2
        sa.Column("geo_y", sa.Float(), nullable=True),  # 2
        sa.Column("geo_z", sa.Float(), nullable=True),  # 2
        sa.Column("damaged", sa.Boolean(), server_default=sa.false(), nullable=False),  # 3
        sa.Column("damage_reason", sa.Text(), nullable=True),  # 3
    ]


def upgrade() -> None:
    bind = op.get_bind()
    tables = set(sa.inspect(bind).get_table_names())
    if not tables & {"photo", "meta"}:  # an empty database: schema 3 as it was
        for create in TABLES.values():
            create()
        op.bulk_insert(META, [{"key": "schema_version", "value": str(SCHEMA)}])
    else:
        _adopt(bind, tables)


def _adopt(bind: sa.Connection, tables: set[str]) -> None:
    """Bring an index written before Alembic (schema 1, 2 or 3) to schema 3, doing only what
    is missing (an old upgrade that was interrupted may have added some columns already)."""
    version = bind.scalar(sa.select(META.c.value).where(META.c.key == "schema_version"))
    if version is not None and version.isdigit() and int(version) > SCHEMA:
        raise RuntimeError(f"this index is at schema {version}: written by a newer atw")
    for name, create in TABLES.items():  # the old start-up's create_all added missing tables
        if name not in tables:
            create()
    present = {c["name"] for c in sa.inspect(bind).get_columns("photo")}
    for column in later_photo_columns():  # ADD COLUMN: no table copy needed, even on SQLite
        if column.name not in present:
            op.add_column("photo", column)
    indexes = {ix["name"]: ix["column_names"] for ix in sa.inspect(bind).get_indexes("photo")}
    for name, columns, where in PHOTO_INDEXES:  # schema 2 redefined two of them
        if indexes.get(name) != columns:
            if name in indexes:
                op.drop_index(name, table_name="photo")
            _photo_index(name, columns, where)
    if version == "1" or not {"listed", "photo_class", "class_count"} <= present | tables:
        _fill_derived_rows(bind)
    if version is None:
        op.bulk_insert(META, [{"key": "schema_version", "value": str(SCHEMA)}])
    else:
        op.execute(META.update().where(META.c.key == "schema_version").values(value=str(SCHEMA)))


def _fill_derived_rows(bind: sa.Connection) -> None:
    """Schema 1 → 2: Photo.listed and geo_*, PhotoClass and ClassCount, from the other rows."""
    from atw.core.derived import rebuild

    echo = context.config.attributes.get("echo") or (lambda _line: None)
    last = [time.monotonic()]

    def progress(done: int, total: int) -> None:
        if done == total or time.monotonic() - last[0] > 5:
            echo(f"    derived rows: {done:,} of {total:,} photos")
            last[0] = time.monotonic()

    echo("    filling the derived rows (schema 2) from the labels and detections …")
    with Session(bind=bind) as session:
        rebuild(session, progress=progress)
        session.flush()


def downgrade() -> None:
    raise NotImplementedError(
        "the baseline has no downgrade (it would delete the index): restore a backup instead"
    )
