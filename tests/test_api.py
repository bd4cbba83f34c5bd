"""The read-only JSON API and thumbnails over a real index."""

from __future__ import annotations

from PIL import Image

from tests.conftest import index
from tests.photos import pattern, write_jpeg


def build(make_app, tmp_path, n=5):  # type: ignore[no-untyped-def]
    root = tmp_path / "photos"
    for i in range(n):
        write_jpeg(
            root / f"p{i}.jpg",
            pattern(seed=i),
            taken=f"2015:0{i + 1}:10 12:00:00",
            offset="+02:00",
            gps=(38.72, -9.14, 12.5),
            make="Canon",
            model="EOS 6D",
        )
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    app = make_app()
    index(app, root)
    return app, root


def test_photos_newest_first_with_fields_and_pages(make_app, tmp_path):
    app, root = build(make_app, tmp_path)
    c = app.test_client()
    body = c.get("/api/photos?per_page=2").get_json()
    assert body["total"] == 5 and body["page"] == 1 and body["per_page"] == 2
    assert [p["taken_at"] for p in body["photos"]] == ["2015-05-10T12:00:00", "2015-04-10T12:00:00"]
    p = body["photos"][0]
    assert p["paths"] == [str(root / "p4.jpg")] and p["file_name"] == "p4.jpg"
    assert p["utc_offset"] == "+02:00" and p["time_estimated"] is False
    assert abs(p["lat"] - 38.72) < 1e-5 and abs(p["lon"] + 9.14) < 1e-5
    assert abs(p["altitude"] - 12.5) < 1e-6
    assert (p["width"], p["height"], p["camera_make"], p["camera_model"]) == (
        640,
        480,
        "Canon",
        "EOS 6D",
    )
    assert len(p["sha256"]) == 64 and p["bytes"] == (root / "p4.jpg").stat().st_size
    assert p["labels"] == [] and p["detections"] == []
    last = c.get("/api/photos?per_page=2&page=3").get_json()
    assert [q["taken_at"][:7] for q in last["photos"]] == ["2015-01"]
    ids = {
        q["id"]
        for page in (1, 2, 3)
        for q in c.get(f"/api/photos?per_page=2&page={page}").get_json()["photos"]
    }
    assert len(ids) == 5

    one = c.get(f"/api/photos/{p['id']}").get_json()
    assert one["sha256"] == p["sha256"]
    thumb = c.get(p["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    from io import BytesIO

    assert Image.open(BytesIO(thumb.data)).size == (400, 300)


def test_bad_requests_get_json_errors_naming_the_parameter(make_app, tmp_path):
    app, _ = build(make_app, tmp_path, n=1)
    c = app.test_client()
    for url, param in [
        ("/api/photos?per_page=501", "per_page"),
        ("/api/photos?per_page=0", "per_page"),
        ("/api/photos?page=abc", "page"),
        ("/api/photos?page=-1", "page"),
    ]:
        r = c.get(url)
        assert r.status_code == 400 and r.is_json, url
        assert r.get_json()["parameter"] == param and param in r.get_json()["message"]
    r = c.get("/api/photos/999999")
    assert r.status_code == 404 and r.is_json and "999999" in r.get_json()["message"]
    r = c.get("/api/nope")
    assert r.status_code == 404 and r.is_json
    assert c.get("/thumbs/999999.jpg").status_code == 404
    assert c.get("/thumbs/..%2F..%2Fsecret_key").status_code == 404


def test_quarantine_endpoint_lists_reasons(make_app, tmp_path):
    app, root = build(make_app, tmp_path, n=1)
    rows = app.test_client().get("/api/quarantine").get_json()
    assert [r["path"] for r in rows] == [str(root / "broken.jpg")]
    assert rows[0]["reason"] and rows[0]["seen_at"]


def test_home_page_shows_grid_or_how_to_index(make_app, tmp_path):
    empty = make_app(INSTANCE_PATH=str(tmp_path / "empty-instance"))
    r = empty.test_client().get("/")
    assert r.status_code == 200 and b"flask --app atw index" in r.data
    app, _ = build(make_app, tmp_path, n=3)
    html = app.test_client().get("/").get_data(as_text=True)
    assert html.count('class="tile"') == 3 and 'loading="lazy"' in html
