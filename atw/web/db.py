"""The app's database engine, the schema check, and a request-scoped SQLAlchemy session."""

from __future__ import annotations

import click
from flask import Flask, abort, current_app, g, has_request_context
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from atw.core import migrations
from atw.core.engine import make_engine
from atw.query import trip_store

CHECKED = "atw_schema_checked"


def init_app(app: Flask) -> None:
    """Create the app's engine; close sessions after requests.

    The web process never migrates. Started by a server or wsgi.py (or a test), the app checks
    the index now: a database without tables is created at head, an outdated one raises
    migrations.SchemaOutdated, whose message names `flask --app atw db upgrade`. Loaded by the
    command line (`flask --app atw …`, `atw …`), it checks on the first use of engine()
    instead: `db upgrade` and `index` must open an outdated index (under the index lock)."""
    app.extensions["atw_engine"] = make_engine(app.config["DATABASE_URL"])
    app.extensions[CHECKED] = False
    if click.get_current_context(silent=True) is None:
        require_current(app)
    app.teardown_appcontext(_close_session)


def require_current(app: Flask) -> None:
    """Raise migrations.SchemaOutdated unless the index is at head (a new one is created)."""
    if not app.extensions[CHECKED]:
        migrations.ensure_current(app.extensions["atw_engine"])
        app.extensions[CHECKED] = True


def engine() -> Engine:
    """The app's engine, over an index at head: otherwise a 503 naming the upgrade command (in
    a request) or the command line's error (in a command)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not app.extensions[CHECKED]:
        try:
            require_current(app)
        except migrations.SchemaOutdated as exc:
            if has_request_context():
                abort(503, description=str(exc))
            raise click.ClickException(str(exc)) from None
    return app.extensions["atw_engine"]


def session() -> Session:
    """The session of the current request (or app context), created on first use."""
    if "db_session" not in g:
        g.db_session = Session(engine(), expire_on_commit=False)
        trip_store.use_settings(g.db_session, current_app.config)  # HOME, TRIP_*
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    s = g.pop("db_session", None)
    if s is not None:
        s.close()
