"""The `atw` console script: Flask's command group over atw.create_app (= `flask --app atw`)."""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

import atw

cli = FlaskGroup(
    name="atw",
    create_app=atw.create_app,
    add_version_option=False,
    help="""Around The World: index photo folders, then explore them in a dashboard.

    The same commands as `flask --app atw COMMAND`. The instance folder (the index,
    thumbnails, config.py) is ATW_INSTANCE_PATH when set; otherwise ./instance in the
    current folder (in a source checkout: the checkout's instance/).""",
)
# `--app` would be ignored (create_app wins in Flask's ScriptInfo): not offered.
cli.params = [p for p in cli.params if p.name != "app"]
click.version_option(package_name="atw", prog_name="atw")(cli)


def main() -> None:
    """Entry point of the `atw` console script (pyproject.toml [project.scripts])."""
    cli.main(prog_name="atw")
