"""The command line (`flask --app atw …`): registers every command on the app's CLI group."""

from __future__ import annotations

from flask import Flask

from atw.cli import database, exporting, indexing, pruning, serving

COMMANDS = (
    indexing.index_command,
    indexing.quarantine_command,
    indexing.attention_command,
    serving.serve_command,
    exporting.report_command,
    exporting.export_command,
    exporting.export_folders_command,
    pruning.prune_command,
    database.db_group,
)


def init_app(app: Flask) -> None:
    """Add every command to `app.cli` (what `flask --app atw --help` lists)."""
    for command in COMMANDS:
        app.cli.add_command(command)
