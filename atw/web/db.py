"""The app's database engine and a request-scoped SQLAlchemy session."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from atw.core.engine import create_schema, make_engine


def init_app(app: Flask) -> None:
    """Create the engine (and any missing tables) once per app; close sessions after requests."""
    engine = make_engine(app.config["DATABASE_URL"])
    create_schema(engine)
    app.extensions["atw_engine"] = engine
    app.teardown_appcontext(_close_session)


def engine() -> Engine:
    return current_app.extensions["atw_engine"]


def session() -> Session:
    """The session of the current request (or app context), created on first use."""
    if "db_session" not in g:
        g.db_session = Session(engine(), expire_on_commit=False)
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    s = g.pop("db_session", None)
    if s is not None:
        s.close()
