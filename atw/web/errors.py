"""Error pages: JSON errors under /api, an HTML page elsewhere."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, http_error)


def wants_json() -> bool:
    """JSON under /api, and for a client that prefers it to HTML (a script's Accept header);
    an HTML page for a browser (and for an Accept of */* or none)."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
    code = exc.code or 500
    if wants_json():
        return jsonify(error=exc.name, message=exc.description, status=code), code
    return page(code, exc.name, exc.description or "")


def page(code: int, name: str, message: str, back: str | None = None) -> tuple[str, int]:
    """An HTML error page: what went wrong, and a link back (to `back`, else the photos)."""
    error = {"code": code, "name": name, "description": message}
    return render_template("error.html", error=error, back=back), code
