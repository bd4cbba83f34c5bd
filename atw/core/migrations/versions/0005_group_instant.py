"""Class groups newest/oldest first by the capture instant: photo_group.sort_time and its index.

Revision ID: 0005
Revises: 0004

Issue 13. Revision 0004 ordered photo and photo_class by sort_time (the capture instant where
its offset is known, else the wall-clock time); photo_group was still keyed and ordered by the
wall clock (grp, taken_at, photo_id), so a filter naming a group (dog, animals …) sorted by
taken_at. This revision gives photo_group what 0004 gave photo_class:
- photo_group.sort_time, a copy of photo.sort_time (NULL for a photo without a time), filled
  here from photo and kept by atw.core.group_upkeep (the places stage re-times photos);
- ix_photo_group_sort (grp, sort_time, photo_id, score, inet, c1…c5, taken_at): a group's rows
  in that order with what its score and date conditions read (atw.query.plan reads the local
  dates as a window on sort_time plus the exact test on taken_at, atw.query.conditions).
The primary key stays (grp, taken_at, photo_id): a photo's row is still found by it. At a
million photos (~40 million group rows) the fill and the index take a few minutes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

INDEX = ["grp", "sort_time", "photo_id", "score", "inet", "c1", "c2", "c3", "c4", "c5"]

PHOTO = sa.table("photo", sa.column("id", sa.Integer), sa.column("sort_time", sa.DateTime))
GROUP = sa.table("photo_group", sa.column("photo_id", sa.Integer), sa.column("sort_time"))


def upgrade() -> None:
    echo = context.config.attributes.get("echo") or (lambda _line: None)
    echo("    class groups ordered by the capture instant (photo_group.sort_time) …")
    op.add_column("photo_group", sa.Column("sort_time", sa.DateTime(), nullable=True))
    own = sa.select(PHOTO.c.sort_time).where(PHOTO.c.id == GROUP.c.photo_id).scalar_subquery()
    op.get_bind().execute(GROUP.update().values(sort_time=own))
    op.create_index("ix_photo_group_sort", "photo_group", [*INDEX, "taken_at"])


def downgrade() -> None:
    """Back to 0004: the index and the copy go (the rows keep their wall-clock key)."""
    op.drop_index("ix_photo_group_sort", table_name="photo_group")
    op.drop_column("photo_group", "sort_time")
