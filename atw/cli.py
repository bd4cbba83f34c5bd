"""The command line (`flask --app atw …`): index, serve, quarantine, attention; calls code."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext


def init_app(app: Flask) -> None:
    app.cli.add_command(index_command)
    app.cli.add_command(serve_command)
    app.cli.add_command(quarantine_command)
    app.cli.add_command(attention_command)
    from atw import cli_exports  # report, export, export-folders (issue 5)

    cli_exports.init_app(app)


@click.command("index")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, file_okay=True))
@click.option(
    "--relabel",
    multiple=True,
    type=click.Choice(["imagenet", "coco"]),
    help="Re-run this labelling stage on every photo under PATHS, even if it is up to date.",
)
@click.option("--workers", type=int, default=None, help="Worker processes (default: one per core).")
@click.option("--no-labels", is_flag=True, help="Index metadata and thumbnails only.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@with_appcontext
def index_command(
    paths: tuple[str, ...],
    relabel: tuple[str, ...],
    workers: int | None,
    no_labels: bool,
    quiet: bool,
) -> None:
    """Index the photos under PATHS (incremental: unchanged files are skipped)."""
    from atw.clock import UnknownZone
    from pipelines.labelers.base import WeightsMissing
    from pipelines.run import IndexerBusy, run_index

    config = dict(current_app.config)
    if workers is not None:
        config["INDEX_WORKERS"] = workers
    if no_labels:
        config["LABELERS"] = ""
    try:
        summary = run_index(paths, config, relabel=relabel, progress=not quiet)
    except (WeightsMissing, IndexerBusy, FileNotFoundError, UnknownZone) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(summary.line())
    if summary.quarantined or summary.still_quarantined:
        click.echo("Quarantined and damaged files, with reasons: flask --app atw attention")


@click.command("quarantine")
@with_appcontext
def quarantine_command() -> None:
    """List files that could not be indexed, with the reason."""
    from atw import db, query

    for q in query.quarantine(db.session()):
        click.echo(f"{q['path']}\t{q['reason']}")


@click.command("attention")
@with_appcontext
def attention_command() -> None:
    """List what needs attention: damaged photos (indexed; only part of the picture decodes)
    and quarantined files (not indexed), each with the reason."""
    from atw import db, query

    found = query.attention(db.session())
    click.echo(f"Damaged photos ({len(found['damaged'])}): indexed, only part decodes")
    for p in found["damaged"]:
        path = p["paths"][0] if p["paths"] else f"(missing) {p['file_name']}"
        click.echo(f"{path}\t{p['damage_reason']}\t/photos/{p['id']}")
    click.echo(f"Quarantined files ({len(found['quarantined'])}): not indexed")
    for q in found["quarantined"]:
        click.echo(f"{q['path']}\t{q['reason']}")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@with_appcontext
def serve_command(host: str, port: int, threads: int) -> None:
    """Serve the dashboard with waitress (a production WSGI server)."""
    from waitress import serve

    from atw import security

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    trusted = app.extensions[security.HOSTS_KEY]
    if not security.trust_host(app, host) and "*" not in trusted:
        click.echo(
            f"atw: answering to the host names {', '.join(sorted(trusted))} only; add the names "
            "other machines use to TRUSTED_HOSTS (ATW_TRUSTED_HOSTS=name1,name2)"
        )
    click.echo(f"atw: serving on http://{host}:{port}/ (Ctrl+C to stop)")
    serve(app, host=host, port=port, threads=threads)
