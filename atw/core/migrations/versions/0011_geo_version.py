"""A photo's position changed bumps summary_version: the positions held in memory reload.

Revision ID: 0011
Revises: 0010

Issue 15. The class picker and the class browser within a radius took most of their time finding
the radius's photos in SQL (~85,000 ids within 20 km of home at a million photos: ~90 ms).
atw.query.photo_memory holds the listed photos' positions beside their class rows and finds them
in arrays; it must know when they change. listed and time_estimated already bump the version
(revision 0006); a trigger on photo (atw.core.summary_counts.geo_ddl, the one definition, which
a new index gets from create_all) adds every update of lat, lon, geo_x, geo_y or geo_z (a
position is written when a photo is inserted, and by the backfill of an older index). No data
changes.
"""

from __future__ import annotations

from alembic import context, op

from atw.core import summary_counts

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    echo = context.config.attributes.get("echo") or (lambda _line: None)
    echo("    photos' positions' changes counted in summary_version (a trigger on photo) …")
    bind = op.get_bind()
    for stmt in summary_counts.geo_ddl(bind.dialect.name):
        bind.exec_driver_sql(stmt)


def downgrade() -> None:
    """Back to 0010: the trigger on photo's position goes."""
    bind = op.get_bind()
    for stmt in summary_counts.geo_drop_ddl(bind.dialect.name):
        bind.exec_driver_sql(stmt)
