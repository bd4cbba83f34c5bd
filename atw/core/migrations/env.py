"""Alembic's environment for the index: run the revisions on the connection atw hands over.

Loaded by Alembic (never imported by atw): atw.core.migrations builds the Config in code (no
alembic.ini) and passes an open connection, already inside the transaction that the whole
upgrade runs in (atw.core.dialect.migrating), in config.attributes["connection"]."""

from __future__ import annotations

from alembic import context

from atw.core.schema import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "atw's migrations run through atw: `flask --app atw db upgrade` (or `atw db upgrade`)"
    )
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things: autogenerate writes batch operations (copy and move)
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
