"""A big place's newest photos from the date index: ix_photo_sort_time gains lat, lon, geo_x/y/z.

Revision ID: 0009
Revises: 0008

Issue 15. A newest-first page of a place that holds a large share of the archive (home: ~10 %
of the photos within 50 km) is read by walking ix_photo_sort_time newest first within a window
of the newest photos (atw.query.recent), checking each photo's place. With the position at
the end of the index (the place columns are there since 0008) the walk reads the index alone,
~0.2 µs a photo instead of a table row look-up each (~1.5 µs), so a window of tens of thousands
of photos costs a few milliseconds. The index is rebuilt: seconds at a million photos.
"""

from __future__ import annotations

from alembic import context, op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BEFORE = ["sort_time", "id", "listed", "time_estimated", "taken_at"]
PLACE = ["country_code", "region", "place"]
POSITION = ["lat", "lon", "geo_x", "geo_y", "geo_z"]


def upgrade() -> None:
    echo = context.config.attributes.get("echo") or (lambda _line: None)
    echo("    the date index with the position (ix_photo_sort_time) …")
    op.drop_index("ix_photo_sort_time", table_name="photo")
    op.create_index("ix_photo_sort_time", "photo", [*BEFORE, *PLACE, *POSITION])


def downgrade() -> None:
    """Back to 0008: the date index without the position."""
    op.drop_index("ix_photo_sort_time", table_name="photo")
    op.create_index("ix_photo_sort_time", "photo", [*BEFORE, *PLACE])
