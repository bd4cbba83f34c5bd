"""API keys and CSRF: which requests need a key, reading it, constant-time checks, sign-in,
and the rate limit on wrong keys (Flask-Limiter)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import Flask, Response, abort, current_app, g, redirect, request, session, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_KEY = "atw_key"  # holds a fingerprint of the key a browser signed in with, never the key
F = TypeVar("F", bound=Callable[..., Any])


def init_app(app: Flask) -> None:
    """The wrong-key rate limit runs first (a blocked address learns nothing more), then the key
    checks (a missing key is a 401 before anything else), then CSRF."""
    per_minute = int(app.config.get("KEY_ATTEMPTS_PER_MINUTE") or 0)
    if per_minute > 0:
        Limiter(
            get_remote_address,
            app=app,
            application_limits=[f"{per_minute} per minute"],
            application_limits_exempt_when=_not_a_key_attempt,
            application_limits_deduct_when=_key_failed,
            strategy="moving-window",
            storage_uri="memory://",
            headers_enabled=True,
        )
    app.before_request(_guard)
    csrf.init_app(app)


def _not_a_key_attempt() -> bool:
    """Only requests that try a key count: a key header when keys are set, or POST /key."""
    if request.endpoint == "auth.key" and request.method == "POST":
        return False
    return presented_key() is None or not configured_keys(current_app.config)


def _key_failed(_response: Response) -> bool:
    """A wrong key costs one attempt (a right one costs nothing)."""
    return bool(g.get("atw_key_failed"))


def key_failed() -> None:
    """Record that this request tried a wrong key (counted by the rate limit)."""
    g.atw_key_failed = True


def configured_keys(config: Mapping[str, Any]) -> list[bytes]:
    """API_KEY plus API_KEYS (a list, or a comma/space separated string from ATW_API_KEYS)."""
    raw: list[str] = [str(config.get("API_KEY") or "")]
    more = config.get("API_KEYS") or []
    raw += more.replace(",", " ").split() if isinstance(more, str) else [str(k) for k in more]
    keys: list[bytes] = []
    for k in raw:
        b = k.strip().encode()
        if b and b not in keys:
            keys.append(b)
    return keys


def presented_key() -> str | None:
    """The key the request carries: `Authorization: Bearer <key>` or `X-API-Key: <key>`.
    Never read from the query string (it would end up in access logs)."""
    auth = request.headers.get("Authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    value = request.headers.get("X-API-Key", "").strip()
    return value or None


def key_matches(candidate: str, keys: list[bytes]) -> bool:
    """Constant-time comparison against every key (no early exit on the first match)."""
    given = candidate.encode()
    ok = False
    for k in keys:
        ok |= hmac.compare_digest(given, k)
    return ok


def fingerprint(key: bytes) -> str:
    """What a browser session stores after signing in: an HMAC of the key, not the key."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, b"atw-api-key:" + key, hashlib.sha256).hexdigest()


def session_signed_in(keys: list[bytes]) -> bool:
    held = session.get(SESSION_KEY)
    if not isinstance(held, str):
        return False
    ok = False
    for k in keys:
        ok |= hmac.compare_digest(held, fingerprint(k))
    return ok


def sign_in(candidate: str) -> bool:
    """Check a key typed into the /key page; remember the browser on success."""
    keys = configured_keys(current_app.config)
    if not keys or not key_matches(candidate, keys):
        key_failed()
        return False
    session[SESSION_KEY] = fingerprint(candidate.encode())
    return True


def sign_out() -> None:
    session.pop(SESSION_KEY, None)


def keys_required() -> bool:
    return bool(configured_keys(current_app.config))


def browser_signed_in() -> bool:
    keys = configured_keys(current_app.config)
    return not keys or session_signed_in(keys)


def writes_state(view: F) -> F:
    """Mark a GET view as part of a write flow (the upload page): it needs a key like a POST."""
    view.atw_writes_state = True  # type: ignore[attr-defined]
    return view


def _guard() -> Any:
    """Refuse requests that need a key and do not carry a valid one (401 missing, 403 wrong).

    State-changing methods always need one when keys are configured; reads only with
    API_KEYS_FOR_READS. A browser signed in on /key counts for reads and for CSRF-protected
    forms, never for the CSRF-exempt JSON API (it must send the key itself)."""
    keys = configured_keys(current_app.config)
    if not keys or request.endpoint in (None, "static", "auth.key", "auth.forget"):
        return None
    view = current_app.view_functions.get(request.endpoint)
    write = request.method not in SAFE_METHODS or getattr(view, "atw_writes_state", False)
    if not write and not current_app.config.get("API_KEYS_FOR_READS"):
        return None
    api = request.path.startswith("/api/")
    given = presented_key()
    if given is not None:
        if key_matches(given, keys):
            return None
        key_failed()
        abort(403, description="the API key is not valid")
    if session_signed_in(keys) and (request.method in SAFE_METHODS or not api):
        return None
    if not api and request.method in SAFE_METHODS and request.accept_mimetypes.accept_html:
        return redirect(url_for("auth.key", next=request.full_path.rstrip("?")))
    abort(
        401,
        description="an API key is required: send it as 'Authorization: Bearer <key>' or "
        "'X-API-Key: <key>' (browsers: sign in at /key)",
    )


def safe_next(target: str | None) -> str:
    """A local path to return to after signing in (never another site)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("pages.home")
