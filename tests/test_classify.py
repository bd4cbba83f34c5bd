"""POST /api/classify with the real models: the same detections as the index, boxes, ImageNet
classes, bad inputs with their documented status, API keys, and store=true."""

from __future__ import annotations

import http.client
import io
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atw import create_app
from atw.core.engine import make_engine
from atw.core.schema import Detection, Label, Photo, PhotoPath, Upload
from atw.services import classifier as atw_classify
from atw.services import upload_store, upload_worker
from tests.browser import live_server
from tests.conftest import EXIF_DIR, MODEL_CONFIG, index, need_shared
from tests.photos import stored_rotated, write_jpeg
from tests.uploads import COCO, bomb_png, gif_bytes, truncated_jpeg, wait_done

# Photos whose index rows the API must reproduce: three coco128 images, and the giraffes stored
# sideways with EXIF orientation 6, as a phone does (boxes are normalised to the upright image).
ROTATED = "rotated_giraffes.jpg"
SAMPLES = [*COCO, Path(ROTATED)]
MAX_BODY = 3_000_000


@pytest.fixture(autouse=True)
def _stop_workers() -> Iterator[None]:
    yield
    upload_worker.stop_all()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    """One app with the real models, its samples already indexed (a photo root of copies)."""
    need_shared()
    tmp = tmp_path_factory.mktemp("classify")
    root = tmp / "photos"
    root.mkdir()
    for p in COCO:
        shutil.copy(p, root / p.name)
    upright = Image.open(COCO[1]).convert("RGB")
    write_jpeg(root / ROTATED, stored_rotated(upright, 6), orientation=6, quality=95)
    with pytest.MonkeyPatch.context() as mp:
        import os

        for name in [n for n in os.environ if n.startswith("ATW_")]:
            mp.delenv(name)
        app = make(tmp, UPLOAD_MAX_BYTES=2_000_000, MAX_CONTENT_LENGTH=MAX_BODY)
        summary = index(app, root)
        assert summary.indexed == len(SAMPLES)
        yield app, root


def make(tmp: Path, **config: Any) -> Any:
    base = {
        **MODEL_CONFIG,
        "TESTING": True,
        "INSTANCE_PATH": str(tmp / "instance"),
        "INDEX_WORKERS": 2,
        "MODELS_DIR": str(tmp / "models"),  # shared: the ONNX copy is exported once
    }
    return create_app({**base, **config})


def classify(client: Any, data: bytes, query: str = "", ctype: str = "image/jpeg", **h: str) -> Any:
    return client.post(f"/api/classify{query}", data=data, content_type=ctype, headers=h)


def indexed(app: Any, name: str) -> tuple[list[Detection], list[Label]]:
    with Session(make_engine(app.config["DATABASE_URL"])) as s:
        pid = s.scalar(select(PhotoPath.photo_id).where(PhotoPath.path.endswith("/" + name)))
        dets = list(s.scalars(select(Detection).where(Detection.photo_id == pid)))
        labels = list(s.scalars(select(Label).where(Label.photo_id == pid)))
        s.expunge_all()
    return dets, labels


@pytest.mark.slow
@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_counts_and_boxes_match_the_indexed_detections(site, sample):
    app, root = site
    client = app.test_client()
    dets, _ = indexed(app, sample.name)
    assert dets, "the index found objects in this photo"
    data = (root / sample.name).read_bytes()
    for threshold in (0.5, 0.75):
        r = classify(client, data, f"?threshold={threshold}")
        assert r.status_code == 200, r.get_json()
        want = Counter(d.label for d in dets if d.score >= threshold)
        assert r.get_json() == dict(want)
    r = classify(client, data, "?threshold=0.3&verbose=true")
    got = r.get_json()
    want_boxes = sorted(
        ((d.label, d.score, d.x0, d.y0, d.x1, d.y1) for d in dets if d.score >= 0.3),
        key=lambda b: -b[1],
    )
    assert [(b["class"], b["score"]) for b in got] == [(w[0], w[1]) for w in want_boxes]
    for b, w in zip(got, want_boxes, strict=True):
        assert b.keys() == {"class", "score", "x1", "y1", "x2", "y2"}
        assert (b["x1"], b["y1"], b["x2"], b["y2"]) == pytest.approx(w[2:], abs=1e-4)
        assert 0 <= b["x1"] < b["x2"] <= 1 and 0 <= b["y1"] < b["y2"] <= 1


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / union if union > 0 else 0.0


@pytest.mark.slow
def test_boxes_of_a_sideways_photo_are_those_of_the_upright_one(site):
    app, root = site
    client = app.test_client()
    query = "?threshold=0.5&verbose=true"
    upright = classify(client, COCO[1].read_bytes(), query).get_json()
    sideways = classify(client, (root / ROTATED).read_bytes(), query).get_json()
    assert upright and [b["class"] for b in sideways] == [b["class"] for b in upright]
    for a, b in zip(upright, sideways, strict=True):
        box = ("x1", "y1", "x2", "y2")
        assert iou(tuple(a[k] for k in box), tuple(b[k] for k in box)) > 0.9


@pytest.mark.slow
def test_default_threshold_multipart_and_imagenet_top5(site):
    app, _root = site
    client = app.test_client()
    sample = COCO[1]  # giraffes
    dets, labels = indexed(app, sample.name)
    data = sample.read_bytes()
    raw = classify(client, data)  # threshold 0.75 by default
    assert raw.get_json() == dict(Counter(d.label for d in dets if d.score >= 0.75))
    multipart = client.post(
        "/api/classify",
        data={"file": (io.BytesIO(data), sample.name)},
        content_type="multipart/form-data",
    )
    assert multipart.status_code == 200 and multipart.get_json() == raw.get_json()
    r = classify(client, data, "?model=imagenet", ctype="image/jpeg")
    top = r.get_json()
    assert 1 <= len(top) <= 5 and all(t.keys() == {"class", "score"} for t in top)
    assert [t["score"] for t in top] == sorted((t["score"] for t in top), reverse=True)
    stored_labels = sorted(((lb.label, lb.score) for lb in labels), key=lambda x: -x[1])
    assert [(t["class"], t["score"]) for t in top] == stored_labels
    strict = classify(client, data, f"?model=imagenet&threshold={top[0]['score']}").get_json()
    assert strict == top[:1]
    # Nothing is stored without store=true.
    with Session(make_engine(app.config["DATABASE_URL"])) as s:
        assert s.scalar(select(func.count()).select_from(Upload)) == 0
    assert not upload_store.uploads_dir(app.config["INSTANCE_PATH"]).exists()


@pytest.mark.slow
def test_png_webp_heic_bodies_are_accepted_by_content(site):
    from PIL import Image

    app, _root = site
    client = app.test_client()
    img = Image.open(COCO[0]).convert("RGB")
    for fmt, ctype in (("PNG", "image/png"), ("WEBP", "image/webp")):
        buf = io.BytesIO()
        img.save(buf, fmt)
        r = classify(client, buf.getvalue(), "?threshold=0.5", ctype=ctype)
        assert r.status_code == 200 and "bowl" in r.get_json(), (fmt, r.get_json())
    heic = (EXIF_DIR / "IMG_5195.HEIC").read_bytes()
    r = classify(client, heic, "?threshold=0.2", ctype="application/octet-stream")
    assert r.status_code == 200, r.get_json()


BAD_INPUTS: list[tuple[str, bytes, str, str, int, str]] = [
    # (case, body, content type, query, status, words in the message)
    ("empty body", b"", "image/jpeg", "", 400, "empty body"),
    ("text as JPEG", b"hello, I am not a photo\n" * 20, "image/jpeg", "", 415, "not an image"),
    ("truncated JPEG", b"", "image/jpeg", "", 400, "truncated"),
    ("20000x20000 bomb", b"", "image/png", "", 413, "decompression bomb"),
    ("huge body", b"", "image/jpeg", "", 413, "larger than"),
    ("GIF", b"", "image/jpeg", "", 415, "GIF"),
    ("text/plain", b"abc", "text/plain", "", 415, "Content-Type"),
    ("bad threshold", b"", "image/jpeg", "?threshold=2", 400, "threshold"),
    ("bad model", b"", "image/jpeg", "?model=vgg", 400, "model"),
]


def bad_body(case: str, body: bytes) -> bytes:
    return {
        "truncated JPEG": truncated_jpeg,
        "20000x20000 bomb": bomb_png,
        "huge body": lambda: b"\xff\xd8\xff" + b"\0" * (MAX_BODY + 10),
        "GIF": gif_bytes,
        "bad threshold": COCO[0].read_bytes,
        "bad model": COCO[0].read_bytes,
    }.get(case, lambda: body)()


@pytest.mark.slow
def test_bad_inputs_give_their_status_and_message_and_the_app_keeps_serving(site):
    app, _root = site
    client = app.test_client()
    for case, body, ctype, query, status, words in BAD_INPUTS:
        r = classify(client, bad_body(case, body), query, ctype=ctype)
        assert r.status_code == status, (case, r.get_json())
        err = r.get_json()
        assert err["status"] == status and words in err["message"], (case, err)
    r = client.post("/api/classify", data={"other": "x"}, content_type="multipart/form-data")
    assert r.status_code == 400 and "'file'" in r.get_json()["message"]
    assert classify(client, COCO[0].read_bytes(), "?threshold=0.5").status_code == 200


@pytest.mark.slow
def test_the_real_server_survives_bad_inputs_on_loopback(site):
    """Through waitress: every bad input answered, then a good request still works."""
    app, _root = site
    with live_server(app) as url:
        host, port = url.removeprefix("http://").split(":")
        for case, body, ctype, query, status, words in BAD_INPUTS:
            conn = http.client.HTTPConnection(host, int(port), timeout=60)
            conn.request(
                "POST",
                f"/api/classify{query}",
                body=bad_body(case, body),
                headers={"Content-Type": ctype},
            )
            resp = conn.getresponse()
            text = resp.read().decode()
            conn.close()
            assert resp.status == status and words in text, (case, resp.status, text)
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        conn.request(
            "POST",
            "/api/classify?threshold=0.5",
            body=COCO[0].read_bytes(),
            headers={"Content-Type": "image/jpeg"},
        )
        resp = conn.getresponse()
        assert resp.status == 200 and "bowl" in resp.read().decode()
        conn.close()


@pytest.mark.slow
def test_concurrent_requests_share_the_models_safely(site):
    app, _root = site
    client_data = [(p, p.read_bytes()) for p in COCO]
    want = {
        p.name: app.test_client()
        .post("/api/classify?verbose=true&threshold=0.3", data=d, content_type="image/jpeg")
        .get_json()
        for p, d in client_data
    }
    errors: list[str] = []

    def hammer(i: int) -> None:
        c = app.test_client()
        for k in range(6):
            p, d = client_data[(i + k) % len(client_data)]
            r = c.post(
                "/api/classify?verbose=true&threshold=0.3", data=d, content_type="image/jpeg"
            )
            if r.get_json() != want[p.name]:
                errors.append(p.name)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.slow
def test_store_true_goes_through_the_upload_path(site, tmp_path):
    app, _root = site
    client = app.test_client()
    data = COCO[0].read_bytes()
    r = classify(client, data, "?threshold=0.5&store=true")
    assert r.status_code == 200 and r.get_json()
    upload_id = int(r.headers["X-ATW-Upload-Id"])
    assert r.headers["X-ATW-Upload-Status"] == f"/upload/status?ids={upload_id}"
    done = wait_done(client, [upload_id])
    assert done[0]["status"] == "done"
    with Session(make_engine(app.config["DATABASE_URL"])) as s:
        photo = s.get(Photo, done[0]["photo_id"])
        # Same content as the indexed sample: one photo, which gains the upload path.
        paths = sorted(p.path for p in photo.paths)
        assert len(paths) == 2 and any("/uploads/" in p for p in paths)
        counts = Counter(d.label for d in photo.detections if d.score >= 0.5)
    assert r.get_json() == dict(counts)


def test_model_unavailable_is_503_with_the_reason(make_app, tmp_path):
    need_shared()
    app = make_app(**{**MODEL_CONFIG, "YOLO_MODEL": str(tmp_path / "missing.onnx")})
    r = classify(app.test_client(), COCO[0].read_bytes())
    assert r.status_code == 503
    assert (
        "model unavailable" in r.get_json()["message"] and "missing.onnx" in r.get_json()["message"]
    )
    # The stage is not enabled on this server.
    app = make_app(**{**MODEL_CONFIG, "LABELERS": "coco", "MODELS_DIR": str(tmp_path / "m")})
    r = classify(app.test_client(), COCO[0].read_bytes(), "?model=imagenet")
    assert r.status_code == 503 and "not enabled" in r.get_json()["message"]


def test_bad_inputs_are_refused_before_any_model_loads(make_app, tmp_path, monkeypatch):
    """Checks by content run first: bad bodies never need (or wait for) the models. With the
    detector's weights missing, loading the models would answer 503: these must not."""
    need_shared()
    loads: list[str] = []
    real_load = atw_classify._load
    monkeypatch.setattr(atw_classify, "_load", lambda cfg: loads.append("load") or real_load(cfg))
    app = make_app(**{**MODEL_CONFIG, "YOLO_MODEL": "/nonexistent/yolo.onnx"})
    client = app.test_client()
    assert classify(client, b"").status_code == 400
    assert classify(client, b"text" * 50).status_code == 415
    assert classify(client, bomb_png(), ctype="image/png").status_code == 413
    r = classify(client, truncated_jpeg())
    assert r.status_code == 400 and "truncated" in r.get_json()["message"], r.get_json()
    png = io.BytesIO()
    Image.open(COCO[0]).save(png, "PNG")
    r = classify(client, png.getvalue()[:-5000], ctype="image/png")  # a PNG cut short
    assert r.status_code == 400 and "unreadable image" in r.get_json()["message"], r.get_json()
    assert loads == [], "a model load was attempted for a bad body"
    # The control: a good body does reach the models (and their absence is a 503).
    assert classify(client, COCO[0].read_bytes()).status_code == 503
    assert loads == ["load"]


@pytest.mark.slow
def test_api_keys_guard_classify_and_writes_and_optionally_reads(site, tmp_path):
    app, _root = site
    keyed = make(
        Path(app.config["INSTANCE_PATH"]).parent,
        API_KEY="alpha-key",
        API_KEYS=["beta-key"],
    )
    c = keyed.test_client()
    data = COCO[0].read_bytes()
    missing = classify(c, data, "?threshold=0.5")
    assert missing.status_code == 401 and "API key is required" in missing.get_json()["message"]
    wrong = classify(c, data, "?threshold=0.5", Authorization="Bearer nope")
    assert wrong.status_code == 403 and "not valid" in wrong.get_json()["message"]
    assert "nope" not in wrong.text  # keys are never echoed
    ok = classify(c, data, "?threshold=0.5", Authorization="Bearer alpha-key")
    assert ok.status_code == 200 and "bowl" in ok.get_json()
    ok2 = classify(c, data, "?threshold=0.5", **{"X-API-Key": "beta-key"})
    assert ok2.status_code == 200 and ok2.get_json() == ok.get_json()
    # Reads stay open by default …
    assert c.get("/api/photos").status_code == 200
    assert c.get("/api/quarantine").status_code == 200
    assert c.get("/upload/status?ids=1").status_code == 200
    # … and can be closed.
    closed = make(
        Path(app.config["INSTANCE_PATH"]).parent,
        API_KEYS="alpha-key, beta-key",  # as ATW_API_KEYS gives it
        API_KEYS_FOR_READS=True,
    ).test_client()
    assert closed.get("/api/photos").status_code == 401
    assert closed.get("/api/photos", headers={"X-API-Key": "gamma"}).status_code == 403
    assert closed.get("/api/photos", headers={"X-API-Key": "beta-key"}).status_code == 200
    page = closed.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 302 and "/key?next=" in page.headers["Location"]
    assert closed.get("/static/atw.css").status_code == 200


def test_api_keys_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ATW_INSTANCE_PATH", str(tmp_path / "i"))
    monkeypatch.setenv("ATW_API_KEY", "env-key")
    monkeypatch.setenv("ATW_API_KEYS_FOR_READS", "true")
    monkeypatch.setenv("ATW_UPLOAD_MAX_BYTES", "1_000_000")
    app = create_app({"TESTING": True, "LABELERS": ""})
    assert app.config["UPLOAD_MAX_BYTES"] == 1_000_000
    c = app.test_client()
    assert c.get("/api/photos").status_code == 401
    assert c.get("/api/photos", headers={"Authorization": "Bearer env-key"}).status_code == 200
