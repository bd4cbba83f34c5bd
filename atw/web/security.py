"""Request screening and security headers: the Host allow-list (DNS rebinding), refusing
cross-site writes, and CSP / nosniff / no framing on every response."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, jsonify, request
from markupsafe import escape

from atw.web import apikeys

# Scripts and styles from our own origin only; images also from data: URLs and the OSM tiles.
# plotly.js applies inline styles, so the /charts view (atw/web/views/reporting.py) adds exactly
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

# Names that only ever reach this machine: always trusted (a rebinding attack needs its own name).
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::", "[::]", "*"})
SAME_ORIGIN_FETCH = frozenset({"same-origin", "none"})  # Sec-Fetch-Site values of our own pages
HOSTS_KEY = "atw.trusted_hosts"


def init_app(app: Flask) -> None:
    """Register the Host check and the cross-site check; call before any other before_request
    hook (atw/web/factory.py does), so a refused request runs no other code."""
    app.extensions[HOSTS_KEY] = trusted_hosts(app.config.get("TRUSTED_HOSTS"))
    # Flask 3.1 gives TRUSTED_HOSTS a meaning of its own, which check_host replaces (see there):
    # keep Flask's check off, or it would refuse [::1] and the loopback names the user left out.
    app.config["TRUSTED_HOSTS"] = None
    app.before_request(check_host)
    app.before_request(refuse_cross_site_writes)
    app.after_request(add_headers)


def trusted_hosts(configured: Any, *more: str) -> frozenset[str]:
    """The host names (lower case, no port) this server answers to: the loopback names, the
    configured TRUSTED_HOSTS (a list, or a comma/space separated string from the environment;
    a leading dot also allows every subdomain, "*" allows any name) and `more`."""
    if isinstance(configured, str):
        names: Iterable[str] = configured.replace(",", " ").split()
    else:
        names = [str(n) for n in configured or []]
    out = {_bare(n.strip()) for n in (*LOOPBACK_HOSTS, *names, *more) if n.strip()}
    return frozenset(out - {""})


def trust_host(app: Flask, host: str) -> bool:
    """Add the host `serve --host` binds to (False for a wildcard such as 0.0.0.0)."""
    if host.strip().lower() in WILDCARD_BINDS:
        return False
    app.extensions[HOSTS_KEY] = app.extensions[HOSTS_KEY] | {_bare(host)}
    return True


def _bare(host: str) -> str:
    """host[:port] → host, lower case, without a trailing dot; IPv6 literals keep brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        host = host.partition("]")[0] + "]"
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    elif ":" in host:  # a bare IPv6 address, as in `serve --host ::1`
        host = f"[{host}]"
    return host.rstrip(".")


def host_allowed(host: str, allowed: frozenset[str]) -> bool:
    if "*" in allowed:
        return True
    name = _bare(host)
    return bool(name) and any(
        name == a or (a.startswith(".") and (name == a[1:] or name.endswith(a))) for a in allowed
    )


def check_host() -> Any:
    """400 for a Host header this server does not answer to (DNS rebinding: a page served
    under another name that resolves to this machine). No Host header (HTTP/1.0 scripts) is
    allowed: browsers always send one. Flask 3.1's own TRUSTED_HOSTS is not used: it cannot
    match IPv6 literals such as [::1], and its error leaves no URL adapter to render a page."""
    if "Host" not in request.headers:
        return None
    allowed: frozenset[str] = current_app.extensions[HOSTS_KEY]
    host = request.host  # Werkzeug's parse: "" when the header has invalid characters
    if host_allowed(host, allowed):
        return None
    shown = request.headers.get("Host", "")[:200]
    message = (
        f"this server does not answer to the host name {shown!r}; if it should, add it to "
        "TRUSTED_HOSTS (ATW_TRUSTED_HOSTS=name1,name2)"
    )
    # A plain answer: nothing else runs for this request (no templates, no URL building).
    if request.path.startswith("/api/"):
        return jsonify(error="Bad Request", message=message, status=400), 400
    page = f"<!doctype html><title>400 Bad Request</title><h1>Bad Request</h1><p>{escape(message)}"
    return Response(page, 400, mimetype="text/html")


def refuse_cross_site_writes() -> None:
    """403 for a state-changing request that a browser sent from another site's page.

    Applies to every method but GET/HEAD/OPTIONS without a valid API key (the JSON API is
    CSRF-exempt, so this is what protects it when no key is configured). A browser marks its
    requests with Sec-Fetch-Site and Origin; both must say same origin when present. Requests
    with neither (curl, scripts) are not a browser's and pass."""
    if request.method in apikeys.SAFE_METHODS or request.endpoint in (None, "static"):
        return
    fetch_site = request.headers.get("Sec-Fetch-Site", "").strip().lower()
    origin = request.headers.get("Origin")
    cross = bool(fetch_site) and fetch_site not in SAME_ORIGIN_FETCH
    cross = cross or (origin is not None and not _same_origin(origin))
    if not cross:
        return
    keys = apikeys.configured_keys(current_app.config)
    given = apikeys.presented_key()
    if keys and given is not None and apikeys.key_matches(given, keys):
        return  # a script holding a key (browsers cannot send it cross-site without CORS)
    abort(
        403,
        description="cross-site request refused: this write did not come from a page of this "
        "server (scripts: send no Origin header, or send the API key)",
    )


def _same_origin(origin: str) -> bool:
    """Origin's host[:port] is the request's own (schemes may differ behind a TLS proxy)."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False  # "null" (sandboxed frames, opaque origins) and anything odd
    try:
        port = parts.port
    except ValueError:
        return False
    default = 443 if parts.scheme == "https" else 80
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = host if port in (None, default) else f"{host}:{port}"
    own = request.host.lower()
    for suffix in (":80", ":443"):
        own = own.removesuffix(suffix)
    return netloc.lower() == own


def add_headers(response: Response) -> Response:
    """Set the headers a view has not set itself (a view may relax its own CSP)."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response
