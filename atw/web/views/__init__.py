"""The views, one blueprint each: registered on the app here."""

from __future__ import annotations

from flask import Flask

from atw.web.views import (
    api,
    classification,
    files,
    journeys,
    pages,
    reporting,
    signin,
    upload,
)


def init_app(app: Flask) -> None:
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(files.bp)  # thumbnails and display copies ("media" endpoints)
    app.register_blueprint(upload.bp)  # the upload page and its status endpoint
    app.register_blueprint(classification.bp)  # POST /api/classify
    app.register_blueprint(signin.bp)  # /key: a browser signs in with an API key ("auth")
    app.register_blueprint(reporting.bp)  # /charts, /report, /export.csv|json, plotly.js
    app.register_blueprint(journeys.bp)  # /trips, /api/trips, /api/trips/<id> ("trips")
