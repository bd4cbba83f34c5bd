"""atw ("Around The World"): the package root; create_app() builds the app with its command line.

Kept light on purpose: importing atw (or atw.core from the indexer) imports neither Flask nor
any layer; create_app imports the web layer and the CLI when it is called. `flask --app atw`,
`waitress-serve --call atw:create_app` and wsgi.py all call it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The web app (atw.web.factory) with every command of atw.cli registered on it."""
    from atw import cli
    from atw.web import factory

    app = factory.create_app(test_config)
    cli.init_app(app)
    return app
