"""Error pages: JSON errors under /api, an HTML page elsewhere."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, http_error)


def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
    code = exc.code or 500
    if request.path.startswith("/api/"):
        return jsonify(error=exc.name, message=exc.description, status=code), code
    return render_template("error.html", error=exc), code
