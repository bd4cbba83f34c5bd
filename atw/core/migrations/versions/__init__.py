"""The index's Alembic revisions, oldest first (0001 is the baseline: schema 3, adopted or made)."""
