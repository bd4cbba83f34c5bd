"""The upload page through the real HTTP stack: CSRF, limits checked by content, content-addressed
copies, the background indexer (waiting for a CLI run), results with labels, retention."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import shutil
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from atw.core import derived
from atw.core.engine import make_engine
from atw.core.locks import index_lock
from atw.core.media import thumb_path
from atw.core.schema import (
    ClassCount,
    Detection,
    Label,
    Photo,
    PhotoClass,
    PhotoPath,
    StageDone,
    Upload,
)
from atw.services import upload_store, upload_worker
from tests.conftest import MODEL_CONFIG, index, need_shared
from tests.uploads import (
    COCO,
    EXIF,
    bomb_png,
    csrf_token,
    gif_bytes,
    post_files,
    truncated_jpeg,
    upload_paths,
    wait_done,
)

pytestmark = pytest.mark.databases  # on SQLite and on PostgreSQL (tests/conftest.py)


@pytest.fixture(autouse=True)
def _stop_workers() -> Iterator[None]:
    yield
    upload_worker.stop_all()


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One models folder for the module: the ImageNet ONNX copy is exported once."""
    return str(tmp_path_factory.mktemp("models"))


def db(app: Any) -> Session:
    return Session(make_engine(app.config["DATABASE_URL"]))


def uploads_dir(app: Any) -> Path:
    return upload_store.uploads_dir(app.config["INSTANCE_PATH"])


def stored_files(app: Any) -> list[Path]:
    root = uploads_dir(app)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def count(app: Any, model: Any) -> int:
    with db(app) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_upload_page_has_a_form_with_a_csrf_token_and_the_limits(make_app):
    app = make_app(UPLOAD_MAX_FILES=7, UPLOAD_MAX_BYTES=3_000_000)
    client = app.test_client()
    page = client.get("/upload")
    assert page.status_code == 200
    assert 'name="csrf_token"' in page.text and 'type="file"' in page.text
    assert "up to 7 photos of" in page.text and "3 MB each" in page.text
    assert 'data-max-files="7"' in page.text
    assert str(uploads_dir(app)) in page.text  # where they appear in the archive
    assert app.config["MAX_CONTENT_LENGTH"] == 7 * 3_000_000 + 1024 * 1024


def test_upload_without_csrf_token_is_refused_and_stores_nothing(make_app):
    need_shared()
    app = make_app()
    client = app.test_client()
    r = post_files(client, [(COCO[0].read_bytes(), COCO[0].name)], token=None)
    assert r.status_code == 400
    assert "CSRF" in r.get_json()["message"]
    r = post_files(client, [(COCO[0].read_bytes(), COCO[0].name)], token="forged")
    assert r.status_code == 400 and "CSRF" in r.get_json()["message"]
    assert stored_files(app) == [] and count(app, Upload) == 0


def test_rejected_files_leave_no_file_and_no_row(make_app):
    need_shared()
    app = make_app(UPLOAD_MAX_BYTES=200_000, UPLOAD_MAX_FILES=3)
    client = app.test_client()
    token = csrf_token(client)
    cases = [
        (b"", "empty.jpg", 400, "empty"),
        (b"just some text, not a photo\n" * 10, "notes.jpg", 415, "not an image"),
        (truncated_jpeg()[:60_000], "cut.jpg", 400, "truncated"),
        (bomb_png(), "bomb.png", 413, "decompression bomb"),
        (gif_bytes(), "anim.gif", 415, "GIF"),
        (COCO[0].read_bytes(), "big.jpg", 413, "UPLOAD_MAX_BYTES"),  # 224 kB > 200 kB
    ]
    for data, name, status, words in cases:
        r = post_files(client, [(data, name)], token)
        assert r.status_code == status, (name, r.get_json())
        f = r.get_json()["files"][0]
        assert f["status"] == "rejected" and words in f["message"], (name, f)
    four = [(b"x", f"{i}.jpg") for i in range(4)]
    r = post_files(client, four, token)
    assert r.status_code == 413 and "at most 3" in r.get_json()["message"]
    assert stored_files(app) == []
    assert count(app, Upload) == 0 and count(app, Photo) == 0
    # A plain form post (no script) gets the page back with the reason.
    r = client.post(
        "/upload",
        data={"csrf_token": token, "files": [(io.BytesIO(b"text"), "a.png")]},
        content_type="multipart/form-data",
        headers={"Accept": "text/html"},
    )
    assert r.status_code == 415 and "not an image" in r.text and "<form" in r.text


def test_a_mixed_upload_keeps_the_good_photos_only(make_app):
    need_shared()
    app = make_app(LABELERS="")
    client = app.test_client()
    files = [(COCO[0].read_bytes(), COCO[0].name), (b"not an image", "x.jpg")]
    r = post_files(client, files, csrf_token(client))
    assert r.status_code == 200
    good, bad = r.get_json()["files"]
    assert good["status"] == "queued" and bad["status"] == "rejected"
    sha = hashlib.sha256(COCO[0].read_bytes()).hexdigest()
    assert stored_files(app) == [uploads_dir(app) / sha[:2] / f"{sha}.jpg"]
    wait_done(client, [good["id"]])


@pytest.mark.slow
def test_uploaded_photos_are_indexed_and_labelled_like_any_other(make_app, models_dir):
    need_shared()
    app = make_app(**MODEL_CONFIG, MODELS_DIR=models_dir)
    client = app.test_client()
    sent = upload_paths(client, *COCO, *EXIF)
    assert [f["status"] for f in sent] == ["queued"] * len(sent)
    done = wait_done(client, [f["id"] for f in sent])
    assert [u["status"] for u in done] == ["done"] * len(sent), done
    ext = {".jpg": "jpg", ".heic": "heic", ".tiff": "tif", ".png": "png"}
    with db(app) as s:
        for path, u in zip([*COCO, *EXIF], done, strict=True):
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
            photo = s.scalar(select(Photo).where(Photo.sha256 == sha))
            assert photo is not None and photo.id == u["photo_id"]
            assert photo.source == "upload"
            copy = uploads_dir(app) / sha[:2] / f"{sha}.{ext[path.suffix.lower()]}"
            assert [p.path for p in photo.paths] == [str(copy)]
            assert copy.read_bytes() == path.read_bytes()
            marks = s.scalars(select(StageDone).where(StageDone.photo_id == photo.id))
            stages = {d.stage for d in marks if d.stage != "places"}  # (placed when its run ends)
            assert stages == {"imagenet", "coco"}, path.name
            assert len(u["photo"]["labels"]) >= 1, path.name  # ImageNet classes
            assert thumb_path(app.config["THUMBS_DIR"], sha).is_file()
        # The 2048×1536 JPEG with orientation 6 is indexed upright (portrait), as displayed.
        canon = next(u for u in done if u["name"].startswith("canon"))
        assert canon["photo"]["height"] > canon["photo"]["width"]
    by_name = {u["name"]: u for u in done}
    food = {d["label"] for d in by_name[COCO[0].name]["photo"]["detections"] if d["score"] >= 0.5}
    assert {"bowl", "broccoli"} <= food
    giraffes = [d for d in by_name[COCO[1].name]["photo"]["detections"] if d["label"] == "giraffe"]
    assert giraffes and all(0 <= c <= 1 for d in giraffes for c in d["box"])
    assert by_name[COCO[1].name]["photo_url"] == f"/photos/{by_name[COCO[1].name]['photo_id']}"
    # In the dashboard like any other photo, filterable as a folder.
    api = client.get("/api/photos", query_string={"folder": str(uploads_dir(app)), "per_page": 50})
    assert api.status_code == 200
    assert api.get_json()["total"] == len(sent)
    assert {p["source"] for p in api.get_json()["photos"]} == {"upload"}
    pid = by_name[COCO[1].name]["photo_id"]
    assert client.get(f"/thumbs/{pid}.jpg").status_code == 200
    assert client.get(f"/photos/{pid}/display.jpg?w=800").status_code == 200


def test_the_same_photo_twice_is_one_photo_and_one_file(make_app):
    need_shared()
    app = make_app(LABELERS="")
    client = app.test_client()
    first = upload_paths(client, COCO[0])[0]
    wait_done(client, [first["id"]])
    again = upload_paths(client, COCO[0])[0]
    assert again["id"] == first["id"] and again["duplicate"] is True
    # Twice in one request, under another name: still the same photo.
    token = csrf_token(client)
    data = COCO[0].read_bytes()
    r = post_files(client, [(data, "copy.jpg"), (data, "copy2.JPG")], token)
    assert {f["id"] for f in r.get_json()["files"]} == {first["id"]}
    done = wait_done(client, [first["id"]])
    assert done[0]["status"] == "done"
    assert len(stored_files(app)) == 1
    assert count(app, Upload) == 1 and count(app, Photo) == 1 and count(app, PhotoPath) == 1


def test_an_upload_keeps_its_name_and_a_photo_of_the_archive_is_not_stored_again(
    make_app, tmp_path
):
    need_shared()
    app = make_app(LABELERS="")
    client = app.test_client()
    root = tmp_path / "photos"
    (root / "exif").mkdir(parents=True)
    shutil.copy(COCO[1], root / "exif" / "giraffes.jpg")
    index(app, root)
    archived = client.get("/api/photos").get_json()["photos"][0]
    # The name the client sent is the name the grid, the viewer and the API show.
    sent = upload_paths(client, COCO[0])[0]
    done = wait_done(client, [sent["id"]])[0]
    rec = client.get(f"/api/photos/{done['photo_id']}").get_json()
    copy = rec["paths"][0]
    assert Path(copy).parent.parent == uploads_dir(app) and COCO[0].name not in copy
    assert rec["file_name"] == COCO[0].name and rec["uploaded_as"] == {copy: COCO[0].name}
    grid = client.get("/?folder=" + str(uploads_dir(app))).get_data(as_text=True)
    assert f'<span class="cap">{COCO[0].name}' in grid
    viewer = client.get(f"/photos/{done['photo_id']}").get_data(as_text=True)
    assert f"<h1>{COCO[0].name}</h1>" in viewer and f"(uploaded as {COCO[0].name})" in viewer
    # The same bytes as a file of the archive: answered at once with where it is; nothing is
    # stored, queued or labelled.
    before = stored_files(app)
    again = upload_paths(client, COCO[1])[0]
    assert again["status"] == "done" and again["duplicate"] is True and "id" not in again
    assert again["message"] == "already in your archive as exif/giraffes.jpg"
    assert again["archived_as"] == "exif/giraffes.jpg"
    assert again["photo_id"] == archived["id"]
    assert again["photo_url"] == f"/photos/{archived['id']}"
    assert again["photo"]["id"] == archived["id"]
    assert stored_files(app) == before and count(app, Upload) == 1
    # Without the page's script (a plain form post), the page says it with a link.
    token = csrf_token(client)
    page = client.post(
        "/upload",
        data={"files": [(io.BytesIO(COCO[1].read_bytes()), "mine.jpg")], "csrf_token": token},
        content_type="multipart/form-data",
        headers={"Accept": "text/html"},
    ).get_data(as_text=True)
    assert "already in your archive as" in page
    assert f'href="/photos/{archived["id"]}"><code>exif/giraffes.jpg</code>' in page


def test_the_worker_waits_while_a_cli_index_run_holds_the_lock(make_app):
    need_shared()
    app = make_app(LABELERS="", UPLOAD_RETRY_SECONDS=0.3)
    client = app.test_client()
    # what `flask index` holds during a run (SQLite: the instance lock). PostgreSQL lets runs
    # over other roots go on beside the worker: there the whole index, as `db upgrade` holds it
    lock = index_lock(app.config["INSTANCE_PATH"], app.config["DATABASE_URL"])
    try:
        sent = upload_paths(client, COCO[1])[0]
        deadline = time.monotonic() + 30
        while True:
            u = client.get(f"/upload/status?ids={sent['id']}").get_json()["uploads"][0]
            if u["message"] and "another index run" in u["message"]:
                break
            assert time.monotonic() < deadline, u
            time.sleep(0.1)
        assert u["status"] == "queued"
    finally:
        lock.close()
    done = wait_done(client, [sent["id"]])
    assert done[0]["status"] == "done" and done[0]["message"] is None


def test_upload_status_of_unknown_ids_and_bad_ids(make_app):
    client = make_app().test_client()
    r = client.get("/upload/status?ids=999")
    assert r.get_json()["uploads"][0]["status"] == "unknown"
    assert client.get("/upload/status?ids=a,b").status_code == 400


@pytest.mark.slow
def test_prune_uploads_deletes_only_atws_own_expired_copies(make_app, tmp_path, models_dir):
    need_shared()
    app = make_app(**MODEL_CONFIG, MODELS_DIR=models_dir)
    client = app.test_client()
    root = tmp_path / "photos"  # a user's indexed photo root
    root.mkdir()
    shared = root / COCO[1].name
    shutil.copy(COCO[1], shared)
    index(app, root)

    def class_counts() -> dict[tuple[str, str, int], int]:
        with db(app) as s:
            return {
                (c.source, c.label, c.bucket): c.photos
                for c in s.scalars(select(ClassCount))
                if c.photos
            }

    before = class_counts()
    # COCO[1] is also in the user root. The upload form answers such a photo with where it is
    # and stores nothing; a copy of it exists when it was uploaded before its folder was
    # indexed: kept here by the store's own receive (the form's checks, without that answer).
    with db(app) as s:
        both = upload_store.receive(
            s,
            app.config["INSTANCE_PATH"],
            COCO[1].read_bytes(),
            COCO[1].name,
            max_bytes=int(app.config["UPLOAD_MAX_BYTES"]),
            max_pixels=int(app.config["MAX_IMAGE_PIXELS"]),
        )
    sent = upload_paths(client, COCO[0], COCO[2])
    ids = [both.id] + [f["id"] for f in sent]
    done = wait_done(client, ids)
    assert all(u["status"] == "done" for u in done)
    kept_id, gone_id, fresh_id = (u["photo_id"] for u in done)
    with db(app) as s:
        gone_sha = s.get(Photo, gone_id).sha256
        kept_sha = s.get(Photo, kept_id).sha256
        assert s.get(Photo, kept_id).source == "scan"  # indexed from the user root first
        assert s.scalar(select(func.count()).where(Detection.photo_id == gone_id)) > 0
        # Two of the three expire; the third was uploaded just now.
        old = upload_store.utcnow() - timedelta(days=10)
        s.execute(update(Upload).where(Upload.id.in_(ids[:2])).values(uploaded_at=old))
        # A row that claims a file under the user's root (never written by atw): never deleted.
        s.add(
            Upload(
                sha256="f" * 64,
                path=str(shared),
                name="hostile.jpg",
                format="JPEG",
                bytes=1,
                first_uploaded_at=old,
                uploaded_at=old,
                status="done",
            )
        )
        s.commit()
    with db(app) as s:
        copies = {u.sha256: Path(u.path) for u in s.scalars(select(Upload))}
    gone_copy, kept_copy = copies[gone_sha], copies[kept_sha]
    runner = app.test_cli_runner()
    off = runner.invoke(args=["prune-uploads"])  # UPLOAD_RETENTION_DAYS is 0: off
    assert off.exit_code == 0 and "off" in off.output
    assert gone_copy.exists()
    result = runner.invoke(args=["prune-uploads", "--days", "7"])
    assert result.exit_code == 0, result.output
    assert "2 expired uploads: 1 photos removed from the index, 1 kept" in result.output
    assert "1 skipped" in result.output
    with db(app) as s:
        # The upload-only photo is gone with every derived row; its copy and thumbnail too.
        assert s.get(Photo, gone_id) is None
        for model in (Label, Detection, StageDone, PhotoClass, PhotoPath):
            assert s.scalar(select(func.count()).where(model.photo_id == gone_id)) == 0
        assert not gone_copy.exists()
        assert not thumb_path(app.config["THUMBS_DIR"], gone_sha).exists()
        # The photo also in the user root keeps its row, labels and thumbnail; only the
        # upload path goes, and the user's file is untouched.
        kept = s.get(Photo, kept_id)
        assert [p.path for p in kept.paths] == [str(shared)]
        assert s.scalar(select(func.count()).where(Label.photo_id == kept_id)) > 0
        assert thumb_path(app.config["THUMBS_DIR"], kept_sha).exists()
        assert shared.read_bytes() == COCO[1].read_bytes()
        assert not kept_copy.exists()
        # The fresh upload stays.
        assert s.get(Photo, fresh_id) is not None
        remaining = {u.sha256 for u in s.scalars(select(Upload))}
        assert remaining == {s.get(Photo, fresh_id).sha256, "f" * 64}
    # The class counts prune left match a recount from the remaining rows (the user root's
    # photo and the fresh upload), and still hold everything the user root had.
    after = class_counts()
    with db(app) as s:
        derived.rebuild(s)
        rebuilt = {
            (c.source, c.label, c.bucket): c.photos
            for c in s.scalars(select(ClassCount))
            if c.photos
        }
        s.rollback()
    assert after == rebuilt
    assert set(before) <= set(after)


def test_the_worker_prunes_daily_when_retention_is_on(make_app):
    need_shared()
    app = make_app(LABELERS="")
    client = app.test_client()
    sent = upload_paths(client, COCO[2])[0]
    wait_done(client, [sent["id"]])
    upload_worker.stop_all()
    with db(app) as s:
        old = upload_store.utcnow() - timedelta(days=3)
        s.execute(update(Upload).values(uploaded_at=old))
        s.commit()
    again = make_app(LABELERS="", UPLOAD_RETENTION_DAYS=2)  # same instance folder, restarted
    assert again.test_client().get("/upload").status_code == 200  # first request starts it
    deadline = time.monotonic() + 30
    while count(again, Upload) or count(again, Photo):
        assert time.monotonic() < deadline, "the worker did not prune"
        time.sleep(0.2)
    assert stored_files(again) == []


def test_with_an_api_key_uploads_need_it_and_browsers_sign_in(make_app):
    need_shared()
    app = make_app(LABELERS="", API_KEY="k-123", API_KEYS=["k-456"])
    client = app.test_client()
    page = client.get("/upload", headers={"Accept": "text/html"})
    assert page.status_code == 302 and "/key" in page.headers["Location"]
    token = csrf_token(client, "/key")
    data = [(COCO[0].read_bytes(), COCO[0].name)]
    r = post_files(client, data, token)
    assert r.status_code == 401 and "API key" in r.get_json()["message"]
    r = post_files(client, data, token, **{"X-API-Key": "wrong"})
    assert r.status_code == 403
    assert stored_files(app) == []
    r = post_files(client, data, token, Authorization="Bearer k-456")
    assert r.status_code == 200, r.get_json()
    # A browser signs in once on /key, then the page and its form work.
    bad = client.post("/key", data={"csrf_token": token, "key": "nope", "next": "/upload"})
    assert bad.status_code == 403 and "not a valid API key" in bad.text
    ok = client.post("/key", data={"csrf_token": token, "key": "k-123", "next": "/upload"})
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/upload")
    assert client.get("/upload").status_code == 200
    r = post_files(client, [(COCO[1].read_bytes(), COCO[1].name)], csrf_token(client))
    assert r.status_code == 200
    assert "k-123" not in client.get_cookie("session").value  # the session never holds the key
    wait_done(client, [f["id"] for f in r.get_json()["files"]])


DROP = """([b64, name]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const dt = new DataTransfer();
  dt.items.add(new File([bytes], name, { type: "image/jpeg" }));
  const target = document.getElementById("drop-target");
  const init = { dataTransfer: dt, bubbles: true, cancelable: true };
  target.dispatchEvent(new DragEvent("dragover", init));
  target.dispatchEvent(new DragEvent("drop", init));
}"""


@pytest.mark.browser
@pytest.mark.slow
def test_upload_page_in_a_browser_shows_progress_then_labels_and_boxes(make_app, models_dir):
    """Choose files (that starts their upload), watch each reach "done", see labels and boxes."""
    need_shared()
    from tests.browser import chromium, live_server, screenshot, wait_until

    app = make_app(**MODEL_CONFIG, MODELS_DIR=models_dir)
    files = [COCO[0], COCO[1], EXIF[0]]  # food, giraffes, an iPhone HEIC
    with live_server(app) as url, chromium() as page:
        page.goto(url + "/upload")
        assert not page.locator("#upload-button").is_visible()  # choosing is the one action
        page.set_input_files("#files", [str(p) for p in files])
        page.wait_for_selector("li.upload[data-state=queued], li.upload[data-state=indexing]")
        wait_until(
            page,
            "n => document.querySelectorAll('li.upload[data-state=done]').length === n",
            len(files),
            timeout=240_000,
        )
        wait_until(
            page,
            "n => [...document.querySelectorAll('li.upload .upload-result')]"
            ".filter(e => !e.hidden).length === n",
            len(files),
        )
        items = {
            li.query_selector(".upload-name").inner_text(): li
            for li in page.query_selector_all("li.upload")
        }
        assert set(items) == {p.name for p in files}
        food = items[COCO[0].name]
        assert "bowl" in food.query_selector(".upload-objects").inner_text()
        assert food.query_selector(".upload-labels li") is not None  # ImageNet classes
        assert len(food.query_selector_all("svg.boxes rect")) >= 2  # boxes over the photo
        link = food.query_selector("a.upload-view").get_attribute("href")
        assert re.fullmatch(r"/photos/\d+", link or "")
        thumb = food.query_selector("img.upload-thumb")
        assert page.evaluate("img => img.complete && img.naturalWidth > 0", thumb)
        giraffes = items[COCO[1].name].query_selector(".upload-objects").inner_text()
        assert "giraffe" in giraffes
        screenshot(page, "upload-page-done")
        # The same photo again, dropped on the page: one photo, reported as already uploaded.
        page.evaluate(DROP, [base64.b64encode(COCO[0].read_bytes()).decode(), "again.jpg"])
        wait_until(
            page, "() => document.querySelectorAll('li.upload[data-state=done]').length === 4"
        )
        again = page.query_selector("li.upload").inner_text()
        assert f"already uploaded as {COCO[0].name}" in again
        # A file that is not an image is refused with the reason, and nothing is stored.
        page.set_input_files(
            "#files", files=[{"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"hi" * 50}]
        )
        page.wait_for_selector("li.upload[data-state=rejected]")
        assert "not an image" in page.query_selector("li.upload[data-state=rejected]").inner_text()
        assert page.js_errors == []  # type: ignore[attr-defined]
    assert len(stored_files(app)) == len(files)
    assert count(app, Photo) == len(files)


WEB_PROCESS = """
import json, sys, time
from atw import create_app
from tests.conftest import MODEL_CONFIG
from tests.uploads import COCO, upload_paths, wait_done

if __name__ == "__main__":
    app = create_app({**MODEL_CONFIG, "TESTING": True, "INSTANCE_PATH": sys.argv[1],
                      "MODELS_DIR": sys.argv[2]})
    client = app.test_client()
    sent = upload_paths(client, COCO[0])
    done = wait_done(client, [f["id"] for f in sent])
    print(json.dumps({"status": done[0]["status"], "labels": len(done[0]["photo"]["labels"]),
                      "torch": "torch" in sys.modules, "tv": "torchvision" in sys.modules,
                      "ort": "onnxruntime" in sys.modules}))
"""


@pytest.mark.slow
def test_indexing_uploads_never_imports_torch_in_the_web_process(tmp_path, models_dir):
    """Only the index run's worker processes load models (and weights are found in a helper
    process): the web process stays small."""
    need_shared()
    import json
    import subprocess
    import sys

    script = tmp_path / "web.py"
    script.write_text(WEB_PROCESS)
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "inst"), models_dir],
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["status"] == "done" and got["labels"] > 0
    assert (got["torch"], got["tv"], got["ort"]) == (False, False, False)
