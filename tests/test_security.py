"""What the web server serves: indexed files only, no traversal, escaped text, CSRF, headers,
no secret in code; query-complexity caps of the API."""

from __future__ import annotations

import http.client
import io
import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlparse

import piexif
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from atw.core import settings as atw_config
from atw.core.engine import make_engine
from atw.core.schema import Label, Photo, Upload
from tests.browser import chromium, live_server
from tests.conftest import index
from tests.photos import pattern

ATW_DIR = Path(__file__).resolve().parents[1] / "atw"

PAYLOADS = [
    "<script>window.__xss=1</script>",
    '"><img src=x onerror="window.__xss=2">',
    "'><svg onload=window.__xss=3>",
]
FILE_PAYLOAD = '"><img src=x onerror=window.__xss=4>.jpg'


def hostile_jpeg(path: Path, seed: int = 0) -> Path:
    """A JPEG whose EXIF text fields (Make, Model, Software, LensModel, …) carry HTML."""
    zeroth = {
        piexif.ImageIFD.Make: PAYLOADS[0].encode(),
        piexif.ImageIFD.Model: PAYLOADS[1].encode(),
        piexif.ImageIFD.Software: PAYLOADS[2].encode(),
        piexif.ImageIFD.Artist: PAYLOADS[0].encode(),
        piexif.ImageIFD.ImageDescription: PAYLOADS[1].encode(),
    }
    exif = {
        piexif.ExifIFD.LensModel: PAYLOADS[1].encode(),
        piexif.ExifIFD.LensMake: PAYLOADS[2].encode(),
        piexif.ExifIFD.DateTimeOriginal: b"2020:01:02 03:04:05",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    pattern((320, 240), seed=seed).save(
        path, "JPEG", exif=piexif.dump({"0th": zeroth, "Exif": exif})
    )
    return path


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):  # type: ignore[no-untyped-def]
    from atw import create_app

    tmp = tmp_path_factory.mktemp("hostile")
    root = tmp / "photos"
    hostile_jpeg(root / FILE_PAYLOAD)
    hostile_jpeg(root / "plain.jpg", seed=1)
    (root / "<b>broken.jpg").write_bytes(b"<script>window.__xss=5</script>")
    outside = tmp / "outside"
    outside.mkdir()
    pattern((200, 100), seed=9).save(outside / "secret.jpg")
    (outside / "secret.txt").write_text("TOP-SECRET-CONTENT")
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp / "instance"), "LABELERS": ""})
    index(app, root)
    # A label carrying HTML, as a model (or a tampered database) might name a class.
    with Session(make_engine(app.config["DATABASE_URL"])) as s, s.begin():
        pid = s.scalar(select(Photo.id).order_by(Photo.id))
        s.add(
            Label(
                photo_id=pid,
                source="imagenet",
                label=PAYLOADS[0],
                score=0.9,
                model="m",
                weights_id="w",
            )
        )
    return app, root, outside


def _ids(app) -> list[int]:  # type: ignore[no-untyped-def]
    body = app.test_client().get("/api/photos").get_json()
    return [p["id"] for p in body["photos"]]


def assert_escaped(text: str) -> None:
    for raw in [*PAYLOADS, FILE_PAYLOAD, "<b>broken", "<svg onload", "<img src=x"]:
        assert raw not in text, raw


def test_strings_from_files_are_escaped_in_pages_and_api(hostile_site):
    app, _root, _outside = hostile_site
    c = app.test_client()
    ids = _ids(app)
    assert len(ids) == 2
    pages = ["/", "/?classes=" + PAYLOADS[0], "/?camera_make=" + PAYLOADS[1], "/upload"]
    pages += [f"/photos/{i}" for i in ids]
    pages += ["/?folder=" + PAYLOADS[2], "/nope/" + PAYLOADS[0]]
    for url in pages:
        r = c.get(url)
        assert r.status_code in (200, 404), url
        html = r.get_data(as_text=True)
        assert_escaped(html)
    viewer = c.get(f"/photos/{ids[0]}").get_data(as_text=True) + c.get(
        f"/photos/{ids[1]}"
    ).get_data(as_text=True)
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in viewer  # shown, as text
    for url in ["/api/photos", "/api/classes", "/api/quarantine", f"/api/photos/{ids[0]}"]:
        r = c.get(url)
        assert r.status_code == 200 and r.mimetype == "application/json", url
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    # The JSON carries the text faithfully (it is data; the page escapes it).
    camera = {p["camera_make"] for p in c.get("/api/photos").get_json()["photos"]}
    assert PAYLOADS[0] in camera


def test_report_page_escapes_strings(hostile_site):
    app, _root, _outside = hostile_site
    r = app.test_client().get("/report")
    assert r.status_code == 200
    assert_escaped(r.get_data(as_text=True))


@pytest.mark.browser
@pytest.mark.slow
def test_no_script_from_a_file_runs_in_the_browser(hostile_site):
    app, _root, _outside = hostile_site
    ids = _ids(app)
    with live_server(app) as url, chromium() as page:
        for path in ["/", f"/photos/{ids[0]}", f"/photos/{ids[1]}", "/?classes=x%3Cscript%3E"]:
            page.goto(url + path)
            page.wait_for_load_state("networkidle")
            assert page.evaluate("typeof window.__xss") == "undefined", path
        assert page.js_errors == []  # type: ignore[attr-defined]


def raw_get(base: str, target: str) -> tuple[int, bytes]:
    """GET a raw request target (no client-side normalisation of ../ or %2e)."""
    u = urlparse(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.putrequest("GET", target, skip_accept_encoding=True)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_only_indexed_files_under_roots_are_served_over_http(hostile_site, tmp_path):
    app, root, outside = hostile_site
    inst = Path(app.instance_path)
    secret_key = (inst / "secret_key").read_bytes().strip()
    db_head = b"SQLite format 3"
    targets = [
        "/static/../../instance/secret_key",
        "/static/%2e%2e/%2e%2e/instance/secret_key",
        "/static/..%2f..%2finstance%2fsecret_key",
        "/static/%252e%252e/%252e%252e/instance/secret_key",
        "/static//etc/passwd",
        "/static/" + str(inst / "secret_key"),
        "/static/..%5c..%5cinstance%5csecret_key",
        # (No "../" probes of /thumbs/<int>.jpg or /photos/<int>/…: an int converter never
        # matches them, so they could not fail. The other path-like input, an upload's file
        # name, is probed in test_upload_file_names_cannot_place_files_outside_the_uploads.)
        "/" + str(outside / "secret.txt"),
        "//" + str(outside / "secret.txt"),
        "/thumbs/99999.jpg",
        "/photos/99999/display.jpg",
        "/thumbs/-1.jpg",
        "/photos/0/display.jpg",
        "/static/../atw/core/settings.py",
        "/upload/../instance/atw.sqlite",
    ]
    with live_server(app) as url:
        for t in targets:
            status, body = raw_get(url, t)
            # 308: Werkzeug merges a doubled slash by redirecting to the same app's URL.
            assert status in (308, 400, 404, 405), (t, status)
            assert secret_key not in body and b"root:x:0" not in body, t
            assert db_head not in body and b"TOP-SECRET" not in body, t
        # What is indexed is served.
        for i in _ids(app):
            assert raw_get(url, f"/thumbs/{i}.jpg")[0] == 200
        # After indexing, the file of an indexed photo becomes a symlink out of its root:
        # its original is no longer served (the cached display copy is cleared first).
        shutil.rmtree(inst / "display", ignore_errors=True)
        victim = root / "plain.jpg"
        saved = victim.read_bytes()
        victim.unlink()
        victim.symlink_to(outside / "secret.jpg")
        photos = app.test_client().get("/api/photos").get_json()["photos"]
        plain = next(p["id"] for p in photos if p["paths"] == [str(victim)])
        other = next(p["id"] for p in photos if p["id"] != plain)
        try:
            status, body = raw_get(url, f"/photos/{plain}/display.jpg")
            assert status == 404 and b"TOP-SECRET" not in body
            assert raw_get(url, f"/photos/{other}/display.jpg")[0] == 200
            # A link to a folder, or a loop, is refused too.
            for target in (outside, victim):
                victim.unlink()
                victim.symlink_to(target)
                assert raw_get(url, f"/photos/{plain}/display.jpg")[0] == 404
        finally:
            victim.unlink()
            victim.write_bytes(saved)


def test_upload_file_names_cannot_place_files_outside_the_uploads(make_app, tmp_path):
    """The client's file name is the one path-like value a request hands to code that writes
    files: names that climb out, absolute names and Windows separators all end up as atw's
    content-addressed copies under <instance>/uploads, and nothing is written anywhere else."""
    from atw.services import upload_store, upload_worker
    from tests.uploads import csrf_token, post_files

    app = make_app(UPLOAD_WORKERS=1)
    inst = Path(app.config["INSTANCE_PATH"])
    outside = tmp_path / "outside"
    outside.mkdir()
    depth = len(upload_store.uploads_dir(inst).parts) + 2
    names = [
        "../" * depth + str(outside).lstrip("/") + "/climbed.jpg",
        "../../escaped.jpg",
        str(outside / "absolute.jpg"),
        "..\\..\\..\\windows.jpg",
        "sub/../../../dotted.jpg",
    ]
    before = {p for p in tmp_path.rglob("*") if not p.is_relative_to(inst)}
    client = app.test_client()
    token = csrf_token(client)
    try:
        for i, name in enumerate(names):
            buf = io.BytesIO()
            pattern((96, 64), seed=40 + i).save(buf, "JPEG")
            r = post_files(client, [(buf.getvalue(), name)], token)
            assert r.status_code == 200, (name, r.get_json())
            (f,) = r.get_json()["files"]
            assert "/" not in f["name"] and "\\" not in f["name"], f
    finally:
        upload_worker.stop_all()
    after = {p for p in tmp_path.rglob("*") if not p.is_relative_to(inst)}
    assert after == before, sorted(map(str, after - before))
    assert list(outside.iterdir()) == []
    with Session(make_engine(app.config["DATABASE_URL"])) as s:
        paths = [Path(u.path) for u in s.scalars(select(Upload))]
    assert len(paths) == len(names)
    for p in paths:
        assert p.parent.parent == upload_store.uploads_dir(inst) and p.is_file(), p


def test_security_headers_on_every_response(hostile_site):
    app, _root, _outside = hostile_site
    c = app.test_client()
    i = _ids(app)[0]
    urls = ["/", f"/photos/{i}", "/api/photos", f"/thumbs/{i}.jpg", "/static/atw.css"]
    urls += ["/nope", "/api/nope", "/api/photos?per_page=0", "/upload", "/key"]
    for url in urls:
        r = c.get(url)
        h = r.headers
        csp = h.get("Content-Security-Policy", "")
        assert "default-src 'self'" in csp and "script-src 'self'" in csp, url
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, url
        assert "img-src 'self' data: https://tile.openstreetmap.org" in csp, url
        assert "unsafe-eval" not in csp and "script-src 'self' 'unsafe-inline'" not in csp
        assert h["X-Content-Type-Options"] == "nosniff", url
        assert h["X-Frame-Options"] == "DENY", url
        assert h["Referrer-Policy"] == "same-origin", url
    r = c.post("/upload")
    assert r.headers["X-Frame-Options"] == "DENY"


def test_templates_have_no_inline_script_or_style():
    """The CSP allows no inline code: keep templates free of it. (report.html is the
    standalone report, downloaded as a file and opened offline: its scripts are inline.)"""
    for tpl in (ATW_DIR / "templates").glob("*.html"):
        if tpl.name == "report.html":
            continue
        text = tpl.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), tpl.name
        assert "<style" not in text and " style=" not in text, tpl.name
        assert not re.search(r"\son[a-z]+=", text), tpl.name


def test_every_state_changing_form_needs_a_csrf_token(make_app):
    app = make_app(TESTING=False, WTF_CSRF_ENABLED=True)
    c = app.test_client()
    writes = [
        (r.rule, m)
        for r in app.url_map.iter_rules()
        for m in sorted(r.methods - {"GET", "HEAD", "OPTIONS"})
    ]
    assert ("/upload", "POST") in writes and ("/key", "POST") in writes
    for rule, method in writes:
        r = c.open(rule, method=method, data={"key": "x"})
        body = r.get_data(as_text=True)
        if rule.startswith("/api/"):
            # The JSON API is CSRF-exempt by design: it never trusts a browser session (an API
            # key when keys are set). Without keys it is open, like the rest of the app.
            continue
        assert r.status_code == 400 and "CSRF" in body, (rule, method, r.status_code)


def test_api_is_csrf_exempt_only_because_it_ignores_browser_sessions(make_app):
    app = make_app(TESTING=False, WTF_CSRF_ENABLED=True, API_KEY="k" * 32)
    c = app.test_client()
    with c.session_transaction() as sess:  # a browser signed in on /key
        from atw.web import apikeys

        with app.test_request_context():
            sess[apikeys.SESSION_KEY] = apikeys.fingerprint(b"k" * 32)
    r = c.post("/api/classify", data={})
    assert r.status_code == 401


def test_no_default_secret_in_code_and_one_is_generated_per_instance(make_app, tmp_path):
    assert atw_config.DEFAULTS["SECRET_KEY"] == ""
    a = make_app(INSTANCE_PATH=str(tmp_path / "a"))
    b = make_app(INSTANCE_PATH=str(tmp_path / "b"))
    a2 = make_app(INSTANCE_PATH=str(tmp_path / "a"))
    ka, kb = a.config["SECRET_KEY"], b.config["SECRET_KEY"]
    assert re.fullmatch(r"[0-9a-f]{64}", ka) and ka != kb and a2.config["SECRET_KEY"] == ka
    key_file = tmp_path / "a" / "secret_key"
    assert key_file.read_text().strip() == ka
    assert (key_file.stat().st_mode & 0o777) == 0o600
    # No secret-looking literal anywhere in the code (a default someone could copy).
    for py in ATW_DIR.rglob("*.py"):
        text = py.read_text()
        assert not re.search(r"SECRET_KEY['\"]?\s*[:=]\s*['\"][^'\"\n]+['\"]", text), py
        assert not re.search(r"['\"](dev|change.?me|secret|s3cr3t)['\"]", text, re.I), py


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("classes=" + ",".join(f"c{i}" for i in range(21)), "classes"),
        ("folder=/" + "a" * 1001, "folder"),
        ("camera_make=" + "a" * 1001, "camera_make"),
        ("camera_model=" + "a" * 1001, "camera_model"),
        ("lat=1&lon=1&radius_km=20038", "radius_km"),
        ("lat=1&lon=1&radius_km=1e300", "radius_km"),
        ("per_page=501", "per_page"),
        ("per_page=100000000000000000000", "per_page"),
        ("page=0", "page"),
    ],
)
def test_api_caps_query_complexity(client, query, param):
    r = client.get("/api/photos?" + query)
    assert r.status_code == 400
    assert r.get_json()["parameter"] == param
    if param not in ("per_page", "page"):
        r = client.get("/api/classes?" + query)
        assert r.status_code == 400 and r.get_json()["parameter"] == param
        r = client.get("/api/map?" + query)
        assert r.status_code == 400 and r.get_json()["parameter"] == param
        assert client.get("/?" + query).status_code == 200  # the page shows the form


def test_caps_allow_the_largest_valid_query(client):
    from atw.core import gazetteer
    from atw.query.place_filter import MAX_COUNTRIES

    # Twenty known class words (an unknown word is refused: atw.query.words), groups among them.
    names = "dog,cat,person,car,bird,beach,seashore,zebra,kite,boat,bicycle,pizza,umbrella,horse"
    q = "classes=" + names + ",bus,truck,train,airplane,alp,volcano"
    q += "&folder=/" + "a" * 999 + "&lat=0&lon=0&radius_km=20037.5&per_page=500"
    codes = sorted(c.code for c in gazetteer.gazetteer().countries.all())[:MAX_COUNTRIES]
    q += "&country=" + ",".join(codes) + "&region=Lisbon&place=Sintra"
    r = client.get("/api/photos?" + q)
    assert r.status_code == 200, r.get_json()
    assert client.get("/api/photos?" + q.replace("&country=", "&country=xx,")).status_code == 400


def test_non_utf8_and_control_characters_in_names_are_indexed_and_served(make_app, tmp_path):
    root = tmp_path / "photos"
    root.mkdir()
    names = [
        b"caf\xe9.jpg",
        b"ctl\x01\x1b[31m\x7f.jpg",
        b"\xff\xfe<x>.jpg",
        "ünï\u202e.jpg".encode(),
    ]
    for i, raw in enumerate(names):
        pattern((64, 48), seed=i).save(os.fsdecode(os.path.join(os.fsencode(root), raw)), "JPEG")
    (root / os.fsdecode(b"bad\xe9.jpg")).write_bytes(b"junk")
    app = make_app()
    first = index(app, root)
    assert first.indexed == 4 and first.quarantined == 1
    again = index(app, root)  # unchanged, none missing
    assert again.unchanged == 4 and again.missing == 0 and again.still_quarantined == 1
    c = app.test_client()
    body = c.get("/api/photos").get_json()
    assert body["total"] == 4
    paths = {p for rec in body["photos"] for p in rec["paths"]}
    assert str(root / "caf\\xe9.jpg") in paths
    quarantine = c.get("/api/quarantine").get_json()
    assert quarantine[0]["path"] == str(root / "bad\\xe9.jpg")
    for rec in body["photos"]:
        assert c.get(f"/photos/{rec['id']}").status_code == 200
        assert c.get(f"/photos/{rec['id']}/display.jpg?w=800").status_code == 200
    assert c.get("/").status_code == 200


@pytest.mark.browser
@pytest.mark.slow
def test_charts_and_map_work_under_the_csp(hostile_site):
    """Leaflet (styles through the CSSOM) works under the strict policy on every page; plotly.js
    applies inline styles, so /charts alone adds exactly style-src 'unsafe-inline' (scripts stay
    'self'), and its charts then draw with no Content-Security-Policy violation."""
    from atw.web.security import CSP

    app, _root, _outside = hostile_site
    client = app.test_client()
    assert client.get("/").headers["Content-Security-Policy"] == CSP
    charts_csp = client.get("/charts").headers["Content-Security-Policy"]
    assert charts_csp == CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
    with live_server(app) as url, chromium() as page:
        page.goto(url + "/charts")
        page.wait_for_selector("#charts .main-svg", timeout=30000)
        page.wait_for_load_state("networkidle")
        styles = page.evaluate("document.querySelectorAll('style').length")
        violations = list(page.csp_violations)  # type: ignore[attr-defined]
        print(f"\ncharts: {styles} <style> elements, CSP violations: {violations}")
        assert page.js_errors == []  # type: ignore[attr-defined]


@pytest.mark.browser
@pytest.mark.slow
def test_the_csp_blocks_inline_code_and_the_tests_see_violations(hostile_site):
    """The control for every browser test's "no CSP violation" check: inline code is refused
    and the refusal is seen."""
    app, _root, _outside = hostile_site
    with live_server(app) as url, chromium() as page:
        page.goto(url + "/")
        page.evaluate(
            "document.body.insertAdjacentHTML('beforeend',"
            ' \'<img src="data:," onerror="window.__xss=9"><div style="color:red"></div>\');'
            "var s = document.createElement('script'); s.textContent = 'window.__xss=8';"
            "document.body.appendChild(s);"
        )
        page.wait_for_timeout(300)
        assert page.evaluate("typeof window.__xss") == "undefined"
        seen = list(page.csp_violations)  # type: ignore[attr-defined]
        assert any("script-src" in v for v in seen) and any("style-src" in v for v in seen)
        page.csp_violations.clear()  # type: ignore[attr-defined]
