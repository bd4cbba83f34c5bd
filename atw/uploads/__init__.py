"""Uploads: the content-addressed store, the background indexer thread, retention (prune)."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

MIB = 1024 * 1024


def init_app(app: Flask) -> None:
    """Derive the request size limit, register `flask prune-uploads`, and start the background
    worker on the first request when retention is on (so the daily prune runs without uploads)."""
    if not app.config.get("MAX_CONTENT_LENGTH"):
        app.config["MAX_CONTENT_LENGTH"] = (
            int(app.config["UPLOAD_MAX_BYTES"]) * int(app.config["UPLOAD_MAX_FILES"]) + MIB
        )
    app.cli.add_command(prune_command)
    if float(app.config.get("UPLOAD_RETENTION_DAYS") or 0) > 0:
        started: list[bool] = []

        @app.before_request
        def _start_retention() -> None:
            if not started:
                from atw.uploads import worker

                worker.worker_for(current_app.config)
                started.append(True)


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
    from atw.uploads import retention
    from pipelines.run import IndexerBusy

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
