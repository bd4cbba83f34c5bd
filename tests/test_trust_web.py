"""Open doors of the web server (issue 10): cross-site writes, foreign Host names (DNS
rebinding), guessing API keys, and unbounded work on open GET endpoints (/report, display.jpg)."""

from __future__ import annotations

import http.client
import io
import os
import shlex
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atw import create_app
from atw.core import media
from atw.core.engine import make_engine
from atw.core.schema import Photo, Upload
from atw.present import reports
from atw.services import upload_worker
from tests.conftest import MODEL_CONFIG, index, need_shared
from tests.photos import pattern, write_jpeg
from tests.uploads import COCO, csrf_token, post_files

ROOT = Path(__file__).resolve().parents[1]
EVIL = "https://evil.example"


@pytest.fixture(autouse=True)
def _stop_workers() -> Iterator[None]:
    yield
    upload_worker.stop_all()


def uploads_on_disk(app: Any) -> list[Path]:
    folder = Path(app.config["INSTANCE_PATH"]) / "uploads"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def count(app: Any, model: Any) -> int:
    with Session(make_engine(app.config["DATABASE_URL"])) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def multipart(path: Path) -> dict[str, Any]:
    return {"file": (io.BytesIO(path.read_bytes()), path.name)}


# --- Cross-site writes ----------------------------------------------------------------------


@pytest.mark.slow  # loads the YOLO detector; then the stored photo is indexed
def test_a_cross_site_post_to_classify_is_refused_and_stores_nothing(make_app, tmp_path):
    """The attack: any page the user visits posts a photo to /api/classify?store=true. With no
    API key configured (the default) that was accepted and landed in the archive."""
    need_shared()
    app = make_app(**{**MODEL_CONFIG, "LABELERS": "coco"}, MODELS_DIR=str(tmp_path / "models"))
    c = app.test_client()
    url = "/api/classify?store=true"
    browsers = [
        {"Origin": EVIL},  # a form or fetch from another site (older browsers: Origin only)
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://localhost:3000"},  # another local app
        {"Origin": "null"},  # a sandboxed frame or a data: page
        {"Origin": "http://localhost.evil.example"},
    ]
    for headers in browsers:
        r = c.post(url, data=multipart(COCO[0]), headers=headers)
        assert r.status_code == 403, (headers, r.status_code, r.get_data(as_text=True)[:300])
        assert r.is_json and "cross-site" in r.get_json()["message"], headers
        assert "X-ATW-Upload-Id" not in r.headers
    assert count(app, Upload) == 0 and uploads_on_disk(app) == []
    # A script (curl: no Origin, no Sec-Fetch-Site) still classifies and stores.
    r = c.post(url, data=multipart(COCO[0]))
    assert r.status_code == 200, r.get_json()
    assert r.headers["X-ATW-Upload-Id"] and count(app, Upload) == 1
    assert len(uploads_on_disk(app)) == 1
    # The server's own pages (same origin, as Chromium and Firefox mark them) still write.
    same = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    r = c.post(url, data=multipart(COCO[1]), headers=same)
    assert r.status_code == 200, r.get_json()
    assert count(app, Upload) == 2 and len(uploads_on_disk(app)) == 2


def test_cross_site_form_posts_are_refused_and_same_origin_forms_work(make_app):
    """The CSRF-protected forms (upload, /key) get the same check; the pages still work."""
    need_shared()
    app = make_app(LABELERS="")
    c = app.test_client()
    token = csrf_token(c)
    photo = [(COCO[0].read_bytes(), COCO[0].name)]
    r = post_files(c, photo, token, Origin=EVIL, **{"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403 and "cross-site" in r.get_json()["message"]
    assert count(app, Upload) == 0 and uploads_on_disk(app) == []
    r = c.post("/key", data={"csrf_token": token, "key": "x"}, headers={"Origin": EVIL})
    assert r.status_code == 403 and "cross-site" in r.get_data(as_text=True)
    ok = post_files(c, photo, token, Origin="http://localhost", **{"Sec-Fetch-Site": "same-origin"})
    assert ok.status_code == 200, ok.get_json()
    assert count(app, Upload) == 1


@pytest.mark.browser
@pytest.mark.slow
def test_an_attack_page_in_a_real_browser_cannot_store_a_photo(make_app, tmp_path):
    """Chromium on a page of another site (http://localhost:<other port>, cross-site to
    http://127.0.0.1:<atw>) posts a photo to /api/classify?store=true: nothing is stored. The
    same browser on atw's own page still can."""
    need_shared()
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from tests.browser import chromium, live_server

    app = make_app(**{**MODEL_CONFIG, "LABELERS": "coco"}, MODELS_DIR=str(tmp_path / "models"))
    attack = """<!doctype html><title>cute cats</title><script>
    window.sent = (async () => {
      const bytes = Uint8Array.from(atob(PHOTO), (ch) => ch.charCodeAt(0));
      const form = new FormData();
      form.append("file", new Blob([bytes], {type: "image/jpeg"}), "stolen.jpg");
      try { await fetch(TARGET + "/api/classify?store=true", {method: "POST", mode: "no-cors",
                                                              body: form}); }
      catch (e) { return "error " + e; }
      return "sent";
    })();</script>"""

    class Attacker(BaseHTTPRequestHandler):
        page = b""

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(Attacker.page)

        def log_message(self, *_args: Any) -> None:
            pass

    import base64

    photo_b64 = base64.b64encode(COCO[0].read_bytes()).decode()
    evil = ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        with live_server(app) as url, chromium() as page:
            Attacker.page = (
                attack.replace("PHOTO", repr(photo_b64)).replace("TARGET", repr(url)).encode()
            )
            page.goto(f"http://localhost:{evil.server_address[1]}/")
            assert page.evaluate("window.sent") == "sent"  # the browser did send it
            time.sleep(0.5)
            assert count(app, Upload) == 0 and uploads_on_disk(app) == []
            # atw's own page, same browser: its same-origin write works.
            page.goto(url + "/upload")
            status = page.evaluate(
                """async ([b64]) => {
                  const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
                  const form = new FormData();
                  form.append("file", new Blob([bytes], {type: "image/jpeg"}), "mine.jpg");
                  const r = await fetch("/api/classify?store=true", {method: "POST", body: form});
                  return r.status;
                }""",
                [photo_b64],
            )
            assert status == 200
            assert count(app, Upload) == 1
    finally:
        evil.shutdown()
        evil.server_close()


# --- Foreign host names (DNS rebinding) -----------------------------------------------------


def test_foreign_host_names_get_400_on_every_route(make_app):
    """A page under another name that resolves to 127.0.0.1 must not read the archive."""
    app = make_app(LABELERS="")
    c = app.test_client()
    for path in ["/", "/api/photos", "/api/map", "/static/atw.css", "/thumbs/1.jpg", "/nope"]:
        for host in ["evil.example", "evil.example:5000", "127.0.0.1.nip.io:5000", "a b"]:
            r = c.get(path, headers={"Host": host})
            assert r.status_code == 400, (path, host, r.status_code)
            assert "TRUSTED_HOSTS" in r.get_data(as_text=True), (path, host)
    r = c.get("/api/photos", headers={"Host": "evil.example"})
    assert r.is_json and "evil.example" in r.get_json()["message"]
    r = c.post("/api/classify", data=b"x", headers={"Host": "evil.example"})
    assert r.status_code == 400
    page = c.get("/", headers={"Host": "<b>evil</b>.example"})
    assert page.status_code == 400 and "<b>" not in page.get_data(as_text=True)
    # The loopback names, with or without a port, any case.
    for host in ["localhost", "localhost:5000", "127.0.0.1:5000", "[::1]:5000", "LocalHost"]:
        for path in ["/", "/api/photos"]:
            assert c.get(path, headers={"Host": host}).status_code == 200, (host, path)


def test_configured_host_names_for_a_lan_or_a_proxy(make_app, monkeypatch):
    app = make_app(LABELERS="", TRUSTED_HOSTS=["photos.lan", ".home.arpa"])
    c = app.test_client()
    for host in ["photos.lan", "photos.lan:8080", "nas.home.arpa:5000", "home.arpa", "localhost"]:
        assert c.get("/api/photos", headers={"Host": host}).status_code == 200, host
    for host in ["evil.example", "photos.lan.evil.example", "xhome.arpa"]:
        assert c.get("/api/photos", headers={"Host": host}).status_code == 400, host
    # From the environment, comma-separated (as ATW_TRUSTED_HOSTS gives it).
    monkeypatch.setenv("ATW_TRUSTED_HOSTS", "photos.lan, 192.168.1.20")
    env_app = create_app({"TESTING": True, "LABELERS": "", "INSTANCE_PATH": app.instance_path})
    c = env_app.test_client()
    assert c.get("/", headers={"Host": "192.168.1.20:5000"}).status_code == 200
    assert c.get("/", headers={"Host": "photos.lan"}).status_code == 200
    assert c.get("/", headers={"Host": "evil.example"}).status_code == 400
    # "*" turns the check off (a reverse proxy that checks Host itself).
    monkeypatch.setenv("ATW_TRUSTED_HOSTS", "*")
    anyhost = create_app({"TESTING": True, "LABELERS": "", "INSTANCE_PATH": app.instance_path})
    assert anyhost.test_client().get("/", headers={"Host": "evil.example"}).status_code == 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(host: str, port: int, path: str, host_header: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_host=True)
        conn.putheader("Host", host_header)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_serve_answers_to_the_host_it_binds_and_refuses_others(tmp_path):
    """`flask --app atw serve --host 127.0.0.2` (a loopback address, not a default name): the
    real server answers to Host 127.0.0.2 and refuses a rebound name, over real HTTP."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATW_")}
    env |= {"ATW_INSTANCE_PATH": str(tmp_path / "inst"), "ATW_LABELERS": ""}
    cmd = [sys.executable, "-m", "flask", "--app", "atw", "serve", "--host", "127.0.0.2"]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port), "--threads", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _body = _get("127.0.0.2", port, "/api/photos", f"127.0.0.2:{port}")
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        assert status == 200
        status, body = _get("127.0.0.2", port, "/api/photos", f"rebound.evil.example:{port}")
        assert status == 400 and b"TRUSTED_HOSTS" in body
        assert _get("127.0.0.2", port, "/", f"localhost:{port}")[0] == 200
    finally:
        proc.terminate()
        proc.wait(10)


# --- Guessing keys --------------------------------------------------------------------------


def empty_post(client: Any, headers: dict[str, str]) -> Any:
    """POST /api/classify with an empty JPEG body: 400 once the key is accepted."""
    return client.post("/api/classify", data=b"", content_type="image/jpeg", headers=headers)


def test_the_nth_wrong_key_in_a_minute_gets_429_from_that_address_only(make_app):
    app = make_app(LABELERS="", API_KEY="right-key", KEY_ATTEMPTS_PER_MINUTE=3)
    c = app.test_client()
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.7"
    right = {"X-API-Key": "right-key"}
    # Right keys and requests without a key never count (normal traffic is not limited).
    for _ in range(10):
        assert empty_post(c, right).status_code == 400  # empty body: the key was accepted
        assert c.get("/api/photos").status_code == 200
    # Three wrong keys (X-API-Key or Bearer) are refused as wrong …
    wrong = [{"X-API-Key": "guess-1"}, {"Authorization": "Bearer guess-2"}, {"X-API-Key": "g3"}]
    for h in wrong:
        assert empty_post(c, h).status_code == 403
    # … the next attempt from this address is 429, JSON under /api, with Retry-After.
    r = empty_post(c, {"X-API-Key": "guess-4"})
    assert r.status_code == 429 and r.is_json and r.get_json()["status"] == 429
    assert 0 < int(r.headers["Retry-After"]) <= 60
    # Even the right key is refused from this address for now (a guess cannot succeed) …
    assert empty_post(c, right).status_code == 429
    # … while another address is not blocked by these failures.
    assert empty_post(other, right).status_code == 400
    assert empty_post(other, {"X-API-Key": "x"}).status_code == 403
    # Requests without a key from the blocked address are not guesses: reads stay open.
    assert c.get("/api/photos").status_code == 200


def test_the_key_page_is_rate_limited_too(make_app):
    app = make_app(LABELERS="", API_KEY="right-key", KEY_ATTEMPTS_PER_MINUTE=3)
    c = app.test_client()
    token = csrf_token(c, "/key")
    for i in range(3):
        r = c.post("/key", data={"csrf_token": token, "key": f"guess-{i}"})
        assert r.status_code == 403 and "not a valid API key" in r.get_data(as_text=True)
    r = c.post("/key", data={"csrf_token": token, "key": "right-key"})
    assert r.status_code == 429 and "Too Many Requests" in r.get_data(as_text=True)
    # Failures on /key and on the API share one budget per address.
    assert c.get("/api/photos", headers={"X-API-Key": "right-key"}).status_code == 429
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.8"
    ok = other.post("/key", data={"csrf_token": csrf_token(other, "/key"), "key": "right-key"})
    assert ok.status_code == 302


# --- Unbounded work on open GET endpoints ---------------------------------------------------


def test_the_web_report_is_capped_before_anything_is_built(make_app, tmp_path, monkeypatch):
    root = tmp_path / "photos"
    for i in range(5):
        folder = root / ("trip" if i < 2 else "home")
        taken = f"2020:01:0{i + 1} 10:00:00"
        write_jpeg(folder / f"p{i}.jpg", pattern((160, 120), seed=i), taken=taken)
    app = make_app(LABELERS="", REPORT_MAX_PHOTOS=3)
    assert index(app, root).indexed == 5
    built: list[int] = []
    real = reports.build_report

    def counting(*args: Any, **kw: Any) -> bytes:
        built.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(reports, "build_report", counting)
    c = app.test_client()
    r = c.get("/report")
    text = r.get_data(as_text=True)
    assert r.status_code == 400 and built == []  # refused before anything was built
    assert "5 photos" in text and "REPORT_MAX_PHOTOS" in text
    assert "flask --app atw report --out report.html" in text
    # A narrower filter fits and is built.
    trip = str(root / "trip")
    r = c.get("/report", query_string={"folder": trip})
    assert r.status_code == 200 and built == [1] and 'id="total">2<' in r.get_data(as_text=True)
    # The command the message names writes the whole set: the CLI has no cap.
    import html
    import re

    line = html.unescape(re.search(r"flask --app atw report[^<]*", text).group(0))
    args = shlex.split(line)[3:]
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(out)
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    assert 'id="total">5<' in (out / "report.html").read_text()
    # The message carries the filter as options.
    narrow = c.get("/report", query_string={"start": "2020-01-02", "privacy": "1"})
    line = html.unescape(re.search(r"flask --app atw report[^<]*", narrow.text).group(0))
    assert narrow.status_code == 400 and "--start 2020-01-02" in line and "--private" in line


def big_png(path: Path, seed: int) -> Path:
    """A 24-megapixel PNG (≈0.3 s to decode and scale here), distinct per seed."""
    img = Image.linear_gradient("L").resize((6000, 4000)).convert("RGB")
    ImageDraw.Draw(img).rectangle([seed * 50, 0, seed * 50 + 40, 40], fill=(255, 0, seed))
    img.save(path, compress_level=1)
    return path


@pytest.fixture(scope="module")
def big_photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("big")
    for i in range(4):
        big_png(root / f"big{i}.png", i)
    return root


def _display_in_parallel(app: Any, ids: list[int], width: int) -> list[Any]:
    """One request per photo, all started at once from their own threads."""
    barrier = threading.Barrier(len(ids))
    out: list[Any] = [None] * len(ids)

    def one(i: int) -> None:
        c = app.test_client()
        barrier.wait()
        out[i] = c.get(f"/photos/{ids[i]}/display.jpg?w={width}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(ids))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out


@pytest.mark.slow
def test_full_decodes_for_display_are_bounded(make_app, big_photos, monkeypatch):
    """DISPLAY_DECODES=1: concurrent display.jpg requests for 24 MP PNGs decode one at a
    time (measured through the real decode function), or get 503 + Retry-After if they cannot
    get the slot within DISPLAY_DECODE_WAIT."""
    active, peak, lock = [0], [0], threading.Lock()
    real = media.display_bytes

    def measured(*args: Any, **kw: Any) -> bytes:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            return real(*args, **kw)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(media, "display_bytes", measured)
    app = make_app(LABELERS="", DISPLAY_DECODES=1, DISPLAY_DECODE_WAIT=60.0)
    assert index(app, big_photos).indexed == 4
    with Session(make_engine(app.config["DATABASE_URL"])) as s:
        ids = list(s.scalars(select(Photo.id)))
    started = time.monotonic()
    done = _display_in_parallel(app, ids, 800)
    took = time.monotonic() - started
    assert [r.status_code for r in done] == [200] * 4
    assert peak[0] == 1, f"{peak[0]} decodes ran at once"
    print(f"4 serialised decodes took {took:.2f} s")
    # A short wait: the requests that cannot get the slot in time are told to come back.
    peak[0] = 0
    hurried = make_app(LABELERS="", DISPLAY_DECODES=1, DISPLAY_DECODE_WAIT=0.05)
    done = _display_in_parallel(hurried, ids, 1600)
    codes = sorted(r.status_code for r in done)
    assert codes.count(200) >= 1 and codes.count(503) >= 1, codes
    for r in done:
        if r.status_code == 503:
            assert r.headers["Retry-After"] == "1" and "DISPLAY_DECODES" in r.text
    assert peak[0] == 1
    # Two slots: two decodes may overlap, never three.
    peak[0] = 0
    two = make_app(LABELERS="", DISPLAY_DECODES=2, DISPLAY_DECODE_WAIT=60.0)
    done = _display_in_parallel(two, ids, 2560)
    assert [r.status_code for r in done] == [200] * 4 and peak[0] <= 2
