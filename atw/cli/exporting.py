"""The export commands: `flask --app atw report | export | export-folders`.

Filter options mirror the API parameters and go through atw.query.filters.parse; the work is in
atw.present (reports, tables, folders)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from atw.present import folders, reports, tables
from atw.query import trip_store
from atw.query.filters import FilterError, PhotoFilter, parse
from atw.web import db

# (option, parameter name in the API, help); each is passed as a string to filters.parse.
FILTER_OPTIONS = [
    ("--start", "start", "First capture date, YYYY-MM-DD (inclusive)."),
    ("--end", "end", "Last capture date, YYYY-MM-DD (inclusive)."),
    ("--estimated", "estimated", "include | exclude photos whose time is estimated."),
    ("--match", "match", "any | all of the classes."),
    ("--source", "source", "any | imagenet | coco."),
    ("--min-score", "min_score", "A class counts at this score or more (0–1)."),
    ("--min-count", "min_count", "At least this many COCO boxes of the class."),
    ("--lat", "lat", "Centre latitude."),
    ("--lon", "lon", "Centre longitude."),
    ("--radius-km", "radius_km", "Great-circle distance from the centre, km."),
    ("--has-gps", "has_gps", "yes | no | any."),
    ("--country", "country", "Countries by ISO code or name (PT, Portugal; several: PT,ES)."),
    ("--region", "region", "A first-level region by name (Lisbon, California)."),
    ("--place", "place", "A populated place by name (Lisbon; Paris, Texas)."),
    ("--camera-make", "camera_make", "Exact EXIF camera make."),
    ("--camera-model", "camera_model", "Exact EXIF camera model."),
    ("--folder", "folder", "Only photos under this folder."),
    ("--trip", "trip", "A trip's id (its first day, YYYY-MM-DD: GET /api/trips)."),
    ("--sort", "sort", "newest | oldest | nearest."),
]


def filter_options(with_classes: bool = True) -> Callable[[Any], Any]:
    """Decorate a command with the filter options (and --classes, repeatable or comma-separated)."""

    def wrap(fn: Any) -> Any:
        for opt, name, help_text in reversed(FILTER_OPTIONS):
            fn = click.option(opt, name, default=None, help=help_text)(fn)
        if with_classes:
            fn = click.option(
                "--classes", "classes", multiple=True, help="Classes (repeat, or a,b,c)."
            )(fn)
        return fn

    return wrap


def filter_from(opts: dict[str, Any]) -> PhotoFilter:
    """The PhotoFilter of the command's filter options (errors name the option)."""
    args: dict[str, Any] = {n: opts.get(n) for _o, n, _h in FILTER_OPTIONS if opts.get(n)}
    if opts.get("classes"):
        args["classes"] = ",".join(opts["classes"])
    try:
        flt = parse(args)
        if flt.trip is not None:  # a trip of this index? (FilterError naming the nearest)
            trip_store.find(db.session(), flt.trip)
        return flt
    except FilterError as exc:
        hint = "--" + exc.param.replace("_", "-")
        raise click.BadParameter(exc.message, param_hint=hint) from None


@click.command("report")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The HTML file.")
@click.option(
    "--base-url",
    default="http://127.0.0.1:5000",
    show_default=True,
    help="Where atw is served: the report links back to the filter there.",
)
@click.option("--private", is_flag=True, help="Leave out GPS positions and camera details.")
@filter_options()
@with_appcontext
def report_command(out: str, base_url: str, private: bool, **opts: Any) -> None:
    """Write the self-contained HTML report of the filtered photos."""
    flt = filter_from(opts)
    body = reports.build_report(
        db.session(), flt, current_app.config["THUMBS_DIR"], base_url, private=private
    )
    Path(out).write_bytes(body)
    click.echo(f"wrote {out} ({len(body) / 1e6:.1f} MB)")


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv")
@click.option("--out", default="-", help="The file (- for standard output).")
@click.option("--private", is_flag=True, help="Leave out GPS positions and camera details.")
@filter_options()
@with_appcontext
def export_command(fmt: str, out: str, private: bool, **opts: Any) -> None:
    """Export the filtered photos as CSV or JSON (one row per photo), streamed."""
    flt = filter_from(opts)
    chunks = (tables.iter_csv if fmt == "csv" else tables.iter_json)(db.session(), flt, private)
    fh = sys.stdout if out == "-" else open(out, "w", encoding="utf-8", newline="")  # noqa: SIM115
    try:
        for chunk in chunks:
            fh.write(chunk)
    finally:
        if fh is not sys.stdout:
            fh.close()


@click.command("export-folders")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--classes", "first", required=True, help="Classes: --classes cat dog truck.")
@click.argument("more", nargs=-1)
@click.option(
    "--mode", type=click.Choice(["copy", "hardlink", "symlink"]), default="copy", show_default=True
)
@click.option("--annotate", is_flag=True, help="Also write copies with the class's boxes drawn.")
@filter_options(with_classes=False)
@with_appcontext
def export_folders_command(
    out: str, first: str, more: tuple[str, ...], mode: str, annotate: bool, **opts: Any
) -> None:
    """Copy (or link) the filtered photos into one folder per class, with a manifest.csv.
    Originals are never moved or changed; a folder inside an indexed root is refused."""
    classes = [c.strip() for part in (first, *more) for c in part.split(",") if c.strip()]
    flt = filter_from(opts)
    try:
        result = folders.export_folders(
            db.session(), flt, classes, Path(out), mode=mode, annotate=annotate
        )
    except folders.ExportRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {result['written']} files; manifest: {result['manifest']}")
    for name in result["missing"]:
        click.echo(f"skipped (original not on disk): {name}", err=True)
