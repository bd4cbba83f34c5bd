"""The places within a radius from the radius index: ix_photo_lat_lon gains the place columns.

Revision ID: 0007
Revises: 0006

Issue 13/15. GET /api/places and the place autocomplete with a radius count the photos of the
circle per stored place (atw.query.place_counts): the circle came from ix_photo_lat_lon (lat,
lon, geo_x/y/z, listed, taken_at, id, sort_time) but each photo's country_code, region and place
from its table row, one look-up per photo (≈2–3 µs: ~130 ms for the 42,000 photos within 20 km
of Paris at a million photos). With the three columns at the end of the index the count reads
the index alone. The index is rebuilt: seconds at a million photos.
"""

from __future__ import annotations

from alembic import context, op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BEFORE = ["lat", "lon", "geo_x", "geo_y", "geo_z", "listed", "taken_at", "id", "sort_time"]
PLACE = ["country_code", "region", "place"]


def upgrade() -> None:
    echo = context.config.attributes.get("echo") or (lambda _line: None)
    echo("    the radius index with the place columns (ix_photo_lat_lon) …")
    op.drop_index("ix_photo_lat_lon", table_name="photo")
    op.create_index("ix_photo_lat_lon", "photo", [*BEFORE, *PLACE])


def downgrade() -> None:
    """Back to 0006: the radius index without the place columns."""
    op.drop_index("ix_photo_lat_lon", table_name="photo")
    op.create_index("ix_photo_lat_lon", "photo", BEFORE)
