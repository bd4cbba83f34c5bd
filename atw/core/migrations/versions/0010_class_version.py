"""Writes to photo_class bump summary_version: the class rows held in memory know when to reload.

Revision ID: 0010
Revises: 0009

Issue 15. The class picker's counts within a radius read every class row of the photos there
(~630,000 rows within 20 km of home at a million photos: 0.2-0.3 s). atw.query.class_memory
holds the class rows in memory and counts them there; it must know when they change. Triggers
on photo_class (atw.core.summary_counts.class_ddl, the one definition, which a new index gets
from create_all) bump summary_version's n on every insert, delete or change of a class or a
score, as the triggers on photo do. No data changes.
"""

from __future__ import annotations

from alembic import context, op

from atw.core import summary_counts

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    echo = context.config.attributes.get("echo") or (lambda _line: None)
    echo("    class rows' writes counted in summary_version (triggers on photo_class) …")
    bind = op.get_bind()
    for stmt in summary_counts.class_ddl(bind.dialect.name):
        bind.exec_driver_sql(stmt)


def downgrade() -> None:
    """Back to 0009: the triggers on photo_class go."""
    bind = op.get_bind()
    for stmt in summary_counts.class_drop_ddl(bind.dialect.name):
        bind.exec_driver_sql(stmt)
