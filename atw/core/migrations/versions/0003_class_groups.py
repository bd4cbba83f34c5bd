"""Class groups: the photo_group and group_count tables (per-photo WordNet group rows, counts).

Revision ID: 0003
Revises: 0002

Issue 14. A filter on a group ("dog": 119 classes) or a category reads one index range of
photo_group instead of an IN list over photo_class (atw.core.group_schema: PhotoGroup,
GroupCount).

The tables are created empty. Their rows are derived data that follow the vocabulary file, not
the schema: meta "vocabulary_version" is absent after this revision, so the rows count as stale
and atw.core.group_upkeep.rebuild fills them right after the upgrade (at an index run:
atw.core.engine.create_schema; and `db upgrade`), under the index lock, with progress. Until
then group filters are answered from photo_class (exact, slower).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "photo_group",
        sa.Column("grp", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.Column("photo_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("inet", sa.Integer(), nullable=True),
        *(sa.Column(f"c{i}", sa.Integer(), nullable=True) for i in range(1, 6)),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("grp", "taken_at", "photo_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "group_count",
        sa.Column("grp", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("photos", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("grp", "source", "bucket"),
    )


def downgrade() -> None:
    op.drop_table("group_count")
    op.drop_table("photo_group")
    op.execute(sa.text("DELETE FROM meta WHERE key = 'vocabulary_version'"))
