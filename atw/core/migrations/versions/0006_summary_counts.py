"""Listed photos per day and per place, kept by triggers: photo_day_count and place_count.

Revision ID: 0006
Revises: 0005

Issue 15 (queries at a million photos). The total of a filter that is only dates (a trip's
form too) and /api/places without a filter were counted over every matching photo (≈0.2–0.5 s
at a million). Two summary tables hold those counts, kept exact by triggers on photo
(atw.core.summary_counts, the one definition, which a new index gets from create_all):
- photo_day_count (day, estimated, photos): listed photos per local day of taken_at;
- place_count (country_code, region, place, photos): listed photos per stored place;
- summary_version (id, epoch, n): n goes up with each write the triggers count.
Here: the tables, the triggers, and one GROUP BY over photo each to fill them (seconds at a
million photos).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from atw.core import summary_counts

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    echo = context.config.attributes.get("echo") or (lambda _line: None)
    echo("    photos per day and per place, kept by triggers (photo_day_count, place_count) …")
    op.create_table(
        "photo_day_count",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("estimated", sa.Boolean(), nullable=False),
        sa.Column("photos", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "estimated"),
    )
    op.create_table(
        "place_count",
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("region", sa.String(length=128), nullable=False),
        sa.Column("place", sa.String(length=128), nullable=False),
        sa.Column("photos", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("country_code", "region", "place"),
    )
    op.create_table(
        "summary_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.String(length=32), nullable=False),
        sa.Column("n", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    summary_counts.install(op.get_bind())  # the triggers, then the counts from photo


def downgrade() -> None:
    """Back to 0005: the triggers and the tables go (photo is untouched)."""
    bind = op.get_bind()
    for stmt in summary_counts.drop_ddl(bind.dialect.name):
        bind.exec_driver_sql(stmt)
    op.drop_table("summary_version")
    op.drop_table("place_count")
    op.drop_table("photo_day_count")
