"""The `prune-uploads` command: delete expired uploads now (atw.services.retention)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from atw.web import db


@click.command("prune-uploads")
@click.option(
    "--days",
    type=float,
    default=None,
    help="Delete uploads older than this many days (default: UPLOAD_RETENTION_DAYS).",
)
@click.option(
    "--wait",
    type=float,
    default=120.0,
    show_default=True,
    help="Seconds to wait for a running index run to finish.",
)
@with_appcontext
def prune_command(days: float | None, wait: float) -> None:
    """Delete expired uploads: atw's copies, their index rows and thumbnails."""
    from atw.core.locks import IndexerBusy
    from atw.services import retention

    db.engine()  # an outdated index: refuse, naming `flask --app atw db upgrade`
    config = current_app.config
    effective = float(config.get("UPLOAD_RETENTION_DAYS") or 0) if days is None else days
    if effective <= 0:
        click.echo("Upload retention is off (UPLOAD_RETENTION_DAYS = 0): nothing deleted.")
        return
    try:
        result = retention.prune(config, days=effective, wait=wait)
    except IndexerBusy as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(result.line())
