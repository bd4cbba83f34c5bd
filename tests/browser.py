"""Browser-test plumbing: the real app under waitress on a loopback port, driven by headless
Chromium (Debian's /usr/bin/chromium) through Playwright. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ARTIFACTS

CHROMIUM = os.environ.get("ATW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


@contextmanager
def live_server(app: Any) -> Iterator[str]:
    """Serve app with waitress on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    from waitress.server import create_server

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = create_server(app, host="127.0.0.1", port=port, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        thread.join(5)


@contextmanager
def chromium(block_network: bool = True) -> Iterator[Any]:
    """A headless Chromium page; with block_network only loopback requests are allowed."""
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        if block_network:
            context.route("**/*", _loopback_only)
        # Every Content-Security-Policy violation fails the test that caused it.
        context.add_init_script(
            "document.addEventListener('securitypolicyviolation', function (e) {"
            " console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI); });"
        )
        page = context.new_page()
        errors: list[str] = []
        csp: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: (
                csp.append(msg.text)
                if "CSP violation" in msg.text or "Content Security Policy" in msg.text
                else None
            ),
        )
        page.js_errors = errors  # type: ignore[attr-defined]
        page.csp_violations = csp  # type: ignore[attr-defined]
        try:
            yield page
            assert csp == [], f"Content-Security-Policy violations: {csp}"
        finally:
            context.close()
            browser.close()


def _loopback_only(route: Any) -> None:
    url = route.request.url
    if url.startswith(("http://127.0.0.1", "http://localhost", "data:", "blob:", "about:")):
        route.continue_()
    else:
        route.abort()


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_until(page: Any, expression: str, arg: Any = None, timeout: float = 30_000) -> None:
    """Poll a JS expression (or function, with arg) until it is truthy.

    Playwright's wait_for_function compiles its predicate inside the page, which atw's CSP
    (script-src 'self', no 'unsafe-eval') refuses whenever the first check is false;
    page.evaluate goes through the DevTools protocol, outside the page's CSP."""
    import time

    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expression, arg):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout / 1000:g} s waiting for {expression}")
        page.wait_for_timeout(50)
