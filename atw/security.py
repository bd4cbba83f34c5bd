"""Security headers on every response: CSP (own assets + OSM tiles), nosniff, no framing."""

from __future__ import annotations

from flask import Flask, Response

# Scripts and styles from our own origin only; images also from data: URLs and the OSM tiles.
# plotly.js applies inline styles, so the /charts view (atw/views/exports.py) adds exactly
# style-src 'unsafe-inline' to its own responses; every other page keeps this policy.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: https://tile.openstreetmap.org",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def init_app(app: Flask) -> None:
    app.after_request(add_headers)


def add_headers(response: Response) -> Response:
    """Set the headers a view has not set itself (a view may relax its own CSP)."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response
