"""The read-only JSON API and thumbnails over a real index."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.conftest import index
from tests.photos import pattern, write_jpeg

pytestmark = pytest.mark.databases  # on SQLite and on PostgreSQL (tests/conftest.py)


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


# --- the filtered API (issue 4): same filter → same total and ids as the query layer -----------


def filtered_world(make_app, tmp_path):  # type: ignore[no-untyped-def]
    from tests.test_query import build_world, world

    app = make_app()
    photos = world()
    build_world(app, tmp_path / "photos", photos)
    return app, photos


def api_ids(client, args: str) -> tuple[int, list[int], str]:  # type: ignore[no-untyped-def]
    """Every id over all pages of /api/photos?args (pages of 3), with the total."""
    ids: list[int] = []
    page, total, description = 1, None, ""
    while True:
        r = client.get(f"/api/photos?{args}&per_page=3&page={page}")
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        assert total in (None, body["total"]), "the total is the same on every page"
        total, description = body["total"], body["description"]
        ids += [p["id"] for p in body["photos"]]
        if len(body["photos"]) < 3:
            return total, ids, description
        page += 1


def test_api_photos_filters_equal_the_query_layer(make_app, tmp_path):
    from urllib.parse import parse_qsl

    from werkzeug.datastructures import MultiDict

    from atw.query import filters, search
    from tests.test_query import session_of

    app, _ = filtered_world(make_app, tmp_path)
    c = app.test_client()
    cases = [
        "",
        "start=2014-06-01&end=2014-07-31",
        "start=2014-06-01&end=2014-07-31&estimated=exclude",
        "classes=seashore,alp&match=any&min_score=0.3",
        "classes=person,dog&match=all&source=coco",
        "classes=person&min_count=3&min_score=0.5",
        "lat=38.72&lon=-9.14&radius_km=20",
        "lat=-17&lon=179.99&radius_km=30&sort=nearest",
        "lat=89.9&lon=0&radius_km=25&sort=oldest",
        "has_gps=no",
        "camera_make=Apple&camera_model=iPhone%208",
        "classes=umbrella&sort=oldest",
    ]
    with session_of(app) as s:
        for args in cases:
            flt = filters.parse(MultiDict(parse_qsl(args)))
            want = search.search(s, flt, 1, 1000)
            total, ids, description = api_ids(c, args)
            assert (total, ids) == (want.total, want.ids), args
            assert description == filters.describe(flt)
    body = c.get("/api/photos?lat=38.72&lon=-9.14&radius_km=20&sort=nearest").get_json()
    d = [p["distance_km"] for p in body["photos"]]
    assert d == sorted(d) and d[0] < 0.01 and 19.8 < d[-1] < 20.0 and body["total"] == 4
    assert "distance_km" not in c.get("/api/photos").get_json()["photos"][0]


def test_api_classes_counts_photos_per_class(make_app, tmp_path):
    app, photos = filtered_world(make_app, tmp_path)
    c = app.test_client()
    # Class rows (groups and categories come too: tests/test_groups.py).
    rows = [r for r in c.get("/api/classes").get_json() if r["kind"] == "class"]
    expected: dict[tuple[str, str], int] = {}
    for p in photos:
        for source, items in (("imagenet", p.imagenet), ("coco", p.coco)):
            for label in {lb for lb, _ in items}:
                expected[(label, source)] = expected.get((label, source), 0) + 1
    assert {(r["label"], r["source"]): r["photos"] for r in rows} == expected
    assert [r["photos"] for r in rows] == sorted((r["photos"] for r in rows), reverse=True)
    assert {"label", "source", "photos", "kind", "key", "members"} <= set(rows[0])
    for r in c.get(
        "/api/classes?kind=class&start=2014-06-01&end=2014-07-31&min_score=0.5"
    ).get_json():
        args = f"classes={r['label']}&source={r['source']}&min_score=0.5"
        total = c.get(f"/api/photos?{args}&start=2014-06-01&end=2014-07-31").get_json()["total"]
        assert total == r["photos"], r


def test_api_bad_filter_values_are_400_naming_the_parameter(make_app, tmp_path):
    app, _ = build(make_app, tmp_path, n=1)
    c = app.test_client()
    for url, param in [
        ("/api/photos?start=2014-02-30", "start"),
        ("/api/photos?start=2014-08-01&end=2014-07-01", "end"),
        ("/api/photos?lat=95&lon=0", "lat"),
        ("/api/photos?radius_km=5", "radius_km"),
        ("/api/photos?lat=1&lon=1&radius_km=-1", "radius_km"),
        ("/api/photos?match=some", "match"),
        ("/api/photos?source=x", "source"),
        ("/api/photos?sort=nearest", "sort"),
        ("/api/photos?min_score=2", "min_score"),
        ("/api/photos?classes=person&min_count=0", "min_count"),
        ("/api/photos?has_gps=perhaps", "has_gps"),
        ("/api/classes?lat=1", "lon"),
        ("/api/classes?min_score=abc", "min_score"),
    ]:
        r = c.get(url)
        assert r.status_code == 400 and r.is_json, url
        body = r.get_json()
        assert body["parameter"] == param and param in body["message"], (url, body)
