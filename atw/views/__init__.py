"""Blueprint registration and error handling (JSON errors under /api, pages elsewhere)."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException


def init_app(app: Flask) -> None:
    from atw.views import api, classify, exports, media, pages, upload
    from atw.views import auth as auth_views

    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(media.bp)
    app.register_blueprint(upload.bp)  # the upload page and its status endpoint
    app.register_blueprint(classify.bp)  # POST /api/classify
    app.register_blueprint(auth_views.bp)  # /key: a browser signs in with an API key
    app.register_blueprint(exports.bp)  # /charts.json, /report, /export.csv|json, plotly.js
    app.register_error_handler(HTTPException, _http_error)


def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
    code = exc.code or 500
    if request.path.startswith("/api/"):
        return jsonify(error=exc.name, message=exc.description, status=code), code
    return render_template("error.html", error=exc), code
