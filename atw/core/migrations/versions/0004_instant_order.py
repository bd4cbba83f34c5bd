"""Newest/oldest first by the capture instant: the listing indexes ordered by sort_time.

Revision ID: 0004
Revises: 0003

Issue 13. Revision 0002 added Photo.sort_time and PhotoClass.sort_time (the capture instant
where its offset is known, else the wall-clock time); the query layer orders every list by it
(atw.query.plan) and reads local-date ranges as a window on it plus the exact test on taken_at
(atw.query.conditions). The indexes that give the order are redefined:
- photo: ix_photo_taken_at (taken_at, id, listed, time_estimated) becomes ix_photo_sort_time
  (sort_time, id, listed, time_estimated, taken_at);
- photo: ix_photo_lat_lon gains sort_time at its end (a radius search sorts its matches
  without reading the rows);
- photo_class: ix_photo_class_label (label, source, taken_at, photo_id, scores) becomes
  (label, source, sort_time, photo_id, scores, taken_at).
Indexes only: no row changes; at a million photos the rebuild takes about a minute.
"""

from __future__ import annotations

from alembic import context, op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

LAT_LON = ["lat", "lon", "geo_x", "geo_y", "geo_z", "listed", "taken_at", "id"]
SCORES = ["score", "s2", "s3", "s4", "s5"]


def upgrade() -> None:
    echo = context.config.attributes.get("echo") or (lambda _line: None)
    echo("    photo list ordered by the capture instant (indexes on sort_time) …")
    op.drop_index("ix_photo_taken_at", table_name="photo")
    op.create_index(
        "ix_photo_sort_time", "photo", ["sort_time", "id", "listed", "time_estimated", "taken_at"]
    )
    op.drop_index("ix_photo_lat_lon", table_name="photo")
    op.create_index("ix_photo_lat_lon", "photo", [*LAT_LON, "sort_time"])
    echo("    class index ordered by the capture instant …")
    op.drop_index("ix_photo_class_label", table_name="photo_class")
    op.create_index(
        "ix_photo_class_label",
        "photo_class",
        ["label", "source", "sort_time", "photo_id", *SCORES, "taken_at"],
    )


def downgrade() -> None:
    """Back to 0003: the indexes ordered by the wall-clock time (nothing else changed)."""
    op.drop_index("ix_photo_class_label", table_name="photo_class")
    op.create_index(
        "ix_photo_class_label", "photo_class", ["label", "source", "taken_at", "photo_id", *SCORES]
    )
    op.drop_index("ix_photo_lat_lon", table_name="photo")
    op.create_index("ix_photo_lat_lon", "photo", LAT_LON)
    op.drop_index("ix_photo_sort_time", table_name="photo")
    op.create_index("ix_photo_taken_at", "photo", ["taken_at", "id", "listed", "time_estimated"])
