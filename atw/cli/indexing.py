"""The indexing commands: `index` (pipelines.run), and the `quarantine` and `attention` lists."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from atw.query import records
from atw.web import db


@click.command("index")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, file_okay=True))
@click.option(
    "--relabel",
    multiple=True,
    type=click.Choice(["imagenet", "coco", "places"]),
    help="Re-run this stage on every photo under PATHS, even if it is up to date (places: "
    "country, region, place and time zone, from the index alone; no photo is read again).",
)
@click.option("--workers", type=int, default=None, help="Worker processes (default: one per core).")
@click.option("--no-labels", is_flag=True, help="Index metadata and thumbnails only.")
@click.option(
    "--two-phase",
    type=click.Choice(["auto", "always", "never"]),
    default=None,
    help="List every new photo before labelling any (default: INDEX_TWO_PHASE).",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default=None,
    help="Workers on this machine, or Ray actors (default: INDEX_ENGINE).",
)
@click.option("--address", default=None, help="Ray: the cluster's head, host:port (RAY_ADDRESS).")
@click.option("--num-gpus", type=float, default=None, help="Ray: GPUs per actor (RAY_GPUS).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@with_appcontext
def index_command(
    paths: tuple[str, ...],
    relabel: tuple[str, ...],
    workers: int | None,
    no_labels: bool,
    two_phase: str | None,
    engine: str | None,
    address: str | None,
    num_gpus: float | None,
    quiet: bool,
) -> None:
    """Index the photos under PATHS (incremental: unchanged files are skipped)."""
    from atw.core.clock import UnknownZone
    from atw.core.locks import IndexerBusy
    from pipelines.labelers.base import WeightsMissing
    from pipelines.pool import WorkerStartupError
    from pipelines.raypool import RayUnavailable
    from pipelines.run import run_index

    config = dict(current_app.config)
    options = {
        "INDEX_WORKERS": workers,
        "INDEX_TWO_PHASE": two_phase,
        "INDEX_ENGINE": engine,
        "RAY_ADDRESS": address,
        "RAY_GPUS": num_gpus,
    }
    config.update({k: v for k, v in options.items() if v is not None})
    if no_labels:
        config["LABELERS"] = ""
    if address is not None and config.get("INDEX_ENGINE") != "ray":
        raise click.UsageError("--address is the Ray cluster's: use it with --engine ray")
    try:
        summary = run_index(paths, config, relabel=relabel, progress=not quiet)
    except (WeightsMissing, IndexerBusy, FileNotFoundError, UnknownZone, RayUnavailable) as exc:
        raise click.ClickException(str(exc)) from None
    except WorkerStartupError as exc:  # a model (or LABEL_DEVICE) that cannot load
        raise click.ClickException(f"a worker could not start: {exc}") from None
    click.echo(summary.line())
    if summary.quarantined or summary.still_quarantined:
        click.echo("Quarantined and damaged files, with reasons: flask --app atw attention")


@click.command("quarantine")
@with_appcontext
def quarantine_command() -> None:
    """List files that could not be indexed, with the reason."""
    for q in records.quarantine(db.session()):
        click.echo(f"{q['path']}\t{q['reason']}")


@click.command("attention")
@with_appcontext
def attention_command() -> None:
    """List what needs attention: damaged photos (indexed; only part of the picture decodes)
    and quarantined files (not indexed), each with the reason."""
    found = records.attention(db.session())
    click.echo(f"Damaged photos ({len(found['damaged'])}): indexed, only part decodes")
    for p in found["damaged"]:
        path = p["paths"][0] if p["paths"] else f"(missing) {p['file_name']}"
        click.echo(f"{path}\t{p['damage_reason']}\t/photos/{p['id']}")
    click.echo(f"Quarantined files ({len(found['quarantined'])}): not indexed")
    for q in found["quarantined"]:
        click.echo(f"{q['path']}\t{q['reason']}")
