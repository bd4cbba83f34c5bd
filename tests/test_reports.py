"""Exports over a real index: CSV rows and JSON items equal the API's result set, the HTML report
opens offline in Chromium with exactly the API's rows, thumbnails, charts and the map fallback,
and per-class folders hold exactly the expected files while the originals stay unchanged."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from atw.present import reports
from atw.query.filters import parse
from tests.conftest import fresh_app
from tests.test_query import P, build_world, world

pytestmark = pytest.mark.databases  # on SQLite and on PostgreSQL (tests/conftest.py)

FILTERS = [
    "",
    "classes=person",
    "classes=umbrella,dog&match=all&min_score=0.3",
    "start=2014-06-01&end=2015-12-31&sort=oldest",
    "source=coco&has_gps=yes&lat=38.72&lon=-9.14&radius_km=25&sort=nearest",
    "classes=zebra",
]


def make(base: Path, photos: list[P], database: Any) -> Any:
    app = fresh_app(base / "instance", DATABASE_URL=database(base / "instance"))
    build_world(app, base / "photos", photos)
    return app


@pytest.fixture(scope="module")
def rworld(tmp_path_factory: pytest.TempPathFactory, module_database: Any) -> Any:
    return make(tmp_path_factory.mktemp("reports"), world(), module_database)


def api(app: Any, q: str) -> dict[str, Any]:
    r = app.test_client().get("/api/photos?per_page=500&" + q)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def det_counts(p: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in p["detections"]:
        out[d["label"]] = out.get(d["label"], 0) + 1
    return out


# --- CSV and JSON -----------------------------------------------------------------------------


@pytest.mark.parametrize("q", FILTERS)
def test_csv_rows_equal_the_api_result_set(rworld, q):
    want = api(rworld, q)["photos"]
    r = rworld.test_client().get("/export.csv?" + q)
    assert r.status_code == 200 and r.mimetype == "text/csv" and r.is_streamed
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert [int(row["id"]) for row in rows] == [p["id"] for p in want]  # same order too
    for row, p in zip(rows, want, strict=True):
        assert row["path"] == p["paths"][0]
        assert row["taken_at"] == (p["taken_at"] or "")
        assert row["utc_offset"] == (p["utc_offset"] or "")
        assert row["lat"] == ("" if p["lat"] is None else str(p["lat"]))
        assert row["lon"] == ("" if p["lon"] is None else str(p["lon"]))
        counts = dict(kv.split(":") for kv in row["detections"].split("; ") if kv)
        assert {k: int(v) for k, v in counts.items()} == det_counts(p)
        top = [lb.rsplit(":", 1)[0] for lb in row["labels"].split("; ") if lb]
        assert top == [lb["label"] for lb in p["labels"][:3]]


@pytest.mark.parametrize("q", FILTERS)
def test_json_items_equal_the_api_result_set(rworld, q):
    want = api(rworld, q)
    r = rworld.test_client().get("/export.json?" + q)
    assert r.status_code == 200 and r.is_streamed
    data = json.loads(r.get_data(as_text=True))
    assert data["count"] == want["total"] == len(data["photos"])
    assert data["description"] == want["description"]
    assert data["filter"] == {k: v for k, v in parse_args(q).items()}
    for item, p in zip(data["photos"], want["photos"], strict=True):
        assert item["id"] == p["id"] and item["path"] == p["paths"][0]
        assert (item["taken_at"], item["utc_offset"]) == (p["taken_at"], p["utc_offset"])
        assert (item["lat"], item["lon"]) == (p["lat"], p["lon"])
        assert item["detections"] == det_counts(p)
        assert [lb["label"] for lb in item["labels"]] == [lb["label"] for lb in p["labels"][:3]]


def parse_args(q: str) -> dict[str, str]:
    from atw.query.filters import to_args

    return to_args(parse(dict(parse_qsl(q))))


def test_exports_stream_in_chunks_and_drop_gps_when_private(rworld):
    r = rworld.test_client().get("/export.csv?privacy=1")
    header = r.get_data(as_text=True).splitlines()[0].split(",")
    assert "lat" not in header and "lon" not in header
    data = json.loads(rworld.test_client().get("/export.json?privacy=1").get_data(as_text=True))
    assert all("lat" not in p and "camera_make" not in p for p in data["photos"])
    r = rworld.test_client().get("/export.json?radius_km=5", headers={"Accept": "application/json"})
    assert r.status_code == 400 and r.get_json()["parameter"] == "radius_km"


def test_cli_exports_equal_the_http_exports(rworld, tmp_path):
    runner = rworld.test_cli_runner()
    q = "classes=person&start=2014-06-01&sort=oldest"
    for fmt in ("csv", "json"):
        out = tmp_path / f"out.{fmt}"
        res = runner.invoke(
            args=[
                "export",
                "--format",
                fmt,
                "--out",
                str(out),
                "--classes",
                "person",
                "--start",
                "2014-06-01",
                "--sort",
                "oldest",
            ]
        )
        assert res.exit_code == 0, res.output
        http = rworld.test_client().get(f"/export.{fmt}?{q}").get_data(as_text=True)
        assert out.read_text() == http
    res = runner.invoke(args=["export", "--min-score", "2"])
    assert res.exit_code != 0 and "--min-score" in res.output


# --- the HTML report ------------------------------------------------------------------------


EXTERNAL = re.compile(r"""(?:\b(?:src|href)\s*=\s*["']?|url\(\s*["']?)(?:https?:)?//[^"'\s)>]+""")


def split_report(html: str) -> tuple[str, list[dict[str, Any]]]:
    """The report without its inlined plotly.js bundle, and the table's rows."""
    start = html.index('<script id="plotly-bundle">')
    end = html.index("</script>", start)
    rows = re.search(r'<script type="application/json" id="rows-data">(.*?)</script>', html, re.S)
    assert rows
    return html[:start] + html[end:], json.loads(rows.group(1))


@pytest.mark.parametrize("q", ["", "classes=person&start=2014-06-01", "classes=zebra"])
def test_the_report_holds_the_api_rows_and_nothing_external(rworld, q):
    want = api(rworld, q)
    r = rworld.test_client().get("/report?" + q)
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert "attachment" in r.headers["Content-Disposition"]
    html = r.get_data(as_text=True)
    rest, rows = split_report(html)
    assert [row["id"] for row in rows] == [p["id"] for p in want["photos"]]
    refs = EXTERNAL.findall(rest)
    assert len(refs) == 1 and refs[0].startswith('href="http://localhost/'), refs
    # The one link is back to atw, with the same filter.
    link = urlsplit(unescape(refs[0].split('"', 1)[1]))
    assert parse(dict(parse_qsl(link.query))) == parse(dict(parse_qsl(q)))
    assert want["description"] in html
    assert all(row["thumb"].startswith("data:image/jpeg;base64,") for row in rows)
    # The bundle is the installed plotly.js, inline (no CDN, no file next to the report).
    assert reports.plotly_js().read_text()[:2000] in html


def test_a_private_report_has_no_positions_or_cameras(rworld):
    html = rworld.test_client().get("/report?privacy=1").get_data(as_text=True)
    rest, rows = split_report(html)
    assert rows and all("lat" not in r and "camera_make" not in r for r in rows)
    assert all("/" not in r["path"] for r in rows)  # file names only
    assert 'id="worldmap"' not in rest and "Bounding area" not in rest
    assert "Canon" not in rest and "iPhone" not in rest and "38.72" not in rest


def test_the_cli_writes_the_same_report_with_a_base_url(rworld, tmp_path):
    out = tmp_path / "r.html"
    res = rworld.test_cli_runner().invoke(
        args=[
            "report",
            "--out",
            str(out),
            "--classes",
            "person",
            "--has-gps",
            "yes",
            "--base-url",
            "http://atw.example:8080/",
        ]
    )
    assert res.exit_code == 0, res.output
    html = out.read_text()
    assert 'href="http://atw.example:8080/?classes=person&amp;has_gps=yes"' in html
    _rest, rows = split_report(html)
    assert [r["id"] for r in rows] == [
        p["id"] for p in api(rworld, "classes=person&has_gps=yes")["photos"]
    ]


def open_report(page: Any, path: Path) -> list[str]:
    """Open the report file with every network request blocked (only file: and data: load);
    returns the URLs of the blocked requests."""
    blocked: list[str] = []

    def only_local(route: Any) -> None:
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(path.as_uri())
    page.locator("body[data-ready]").wait_for()
    return blocked


@pytest.mark.browser
@pytest.mark.slow
def test_the_report_opens_offline_with_rows_charts_and_map(rworld, tmp_path, monkeypatch):
    from tests.browser import chromium, screenshot

    q = "start=2014-01-01&end=2017-12-31"
    want = api(rworld, q)
    monkeypatch.setattr(reports, "PAGE_ROWS", 10)
    path = tmp_path / "report.html"
    with rworld.test_request_context():
        from atw.web import db

        path.write_bytes(
            reports.build_report(
                db.session(),
                parse(dict(p.split("=") for p in q.split("&"))),
                rworld.config["THUMBS_DIR"],
            )
        )
    with chromium(block_network=False) as page:  # open_report blocks it, file: excepted
        requests = open_report(page, path)
        total = want["total"]
        assert page.inner_text("#total") == str(total)
        pages = -(-total // 10)
        assert page.inner_text("#pageinfo").startswith(f"page 1 of {pages}")
        seen = []
        for _ in range(pages):
            seen += [
                int(x)
                for x in page.eval_on_selector_all(
                    "#photos tbody tr", "e => e.map(r => r.dataset.id)"
                )
            ]
            page.click("#next")
        assert seen == [p["id"] for p in want["photos"]]
        page.select_option("#perpage", "0")
        assert page.locator("#photos tbody tr").count() == total
        # Embedded thumbnails, decoded, within the stated cap.
        sizes = page.eval_on_selector_all(
            "#photos td.thumb img",
            "e => e.map(i => [i.src.slice(0, 23), i.naturalWidth, i.naturalHeight])",
        )
        assert len(sizes) == total
        assert all(
            s == "data:image/jpeg;base64," and 0 < max(w, h) <= reports.THUMB_PX
            for s, w, h in sizes
        )
        # Every chart drawn by plotly.js, from the inline bundle.
        for name in (
            "classes_over_time",
            "heatmap",
            "photos_per_month",
            "top_classes",
            "capture_time",
        ):
            assert page.locator(f"#plot-{name} .main-svg").count() >= 1, name
        # The offline map: land outlines and one dot per photo with GPS.
        with_gps = sum(1 for p in want["photos"] if p["lat"] is not None)
        assert page.locator("#worldmap path.land").count() == 1
        assert page.locator("#worldmap circle.dot").count() == with_gps > 0
        # Sorting by capture time, oldest first.
        page.click("th[data-key=taken_at]")
        shown = page.eval_on_selector_all(
            "#photos tbody tr td:nth-child(2)", "e => e.map(c => c.textContent)"
        )
        assert shown == sorted(shown)
        screenshot(page, "report-offline")
        assert requests == [] and not page.js_errors


@pytest.mark.browser
@pytest.mark.slow
def test_the_report_downloads_from_the_page(rworld, tmp_path):
    from tests.browser import chromium, live_server

    q = "classes=person"
    want = api(rworld, q)
    with live_server(rworld) as url, chromium() as page:
        page.goto(f"{url}/?{q}")
        with page.expect_download() as info:
            page.click("#report-link")
        path = tmp_path / "downloaded.html"
        info.value.save_as(path)
        assert info.value.suggested_filename == "atw-report.html"
    html = path.read_text()
    assert f'href="{url}/?classes=person"' in html
    with chromium(block_network=False) as page:  # open_report blocks it, file: excepted
        requests = open_report(page, path)
        page.select_option("#perpage", "0")
        ids = page.eval_on_selector_all("#photos tbody tr", "e => e.map(r => Number(r.dataset.id))")
        assert ids == [p["id"] for p in want["photos"]] and len(ids) == want["total"]
        assert requests == [] and not page.js_errors


# --- per-class folders ----------------------------------------------------------------------


def folder_world() -> list[P]:
    return [
        P("x", "a", "2015:01:01 10:00:00", coco=[("cat", 0.9)]),
        P("x", "b", "2015:01:02 10:00:00", coco=[("cat", 0.8), ("dog", 0.7)]),
        P("y", "a", "2015:02:01 10:00:00", coco=[("truck", 0.6)], imagenet=[("tabby", 0.5)]),
        P("z", "b", "2015:03:01 10:00:00", coco=[("person", 0.9)]),
        P("w", "a", "2015:04:01 10:00:00", imagenet=[("dog", 0.4)]),
        P("old", "a", "2010:01:01 10:00:00", coco=[("cat", 0.9), ("truck", 0.9)]),
    ]


@pytest.fixture
def fworld(tmp_path: Path, database: Any) -> tuple[Any, Path]:
    return make(tmp_path, folder_world(), database), tmp_path / "photos"


def digests(root: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("mode", ["copy", "hardlink", "symlink"])
def test_folder_export_writes_exactly_the_expected_files(fworld, tmp_path, mode):
    app, root = fworld
    before = digests(root)
    out = tmp_path / "sorted"
    res = app.test_cli_runner().invoke(
        args=[
            "export-folders",
            "--out",
            str(out),
            "--classes",
            "cat",
            "dog",
            "truck",
            "--start",
            "2014-01-01",
            "--mode",
            mode,
        ]
    )
    assert res.exit_code == 0, res.output
    a, b = root / "a", root / "b"
    expected = {
        # The clash is renamed; ImageNet's tabby is a cat too (the WordNet group "cat").
        "cat": {"x.jpg": a / "x.jpg", "x-2.jpg": b / "x.jpg", "y.jpg": a / "y.jpg"},
        "dog": {"x.jpg": b / "x.jpg", "w.jpg": a / "w.jpg"},  # ImageNet's "dog" counts too
        "truck": {"y.jpg": a / "y.jpg"},  # "old" is before --start
    }
    for cls, files in expected.items():
        assert sorted(p.name for p in (out / cls).iterdir()) == sorted(files)
        for name, src in files.items():
            written = out / cls / name
            assert written.read_bytes() == src.read_bytes()
            if mode == "hardlink":
                assert written.stat().st_ino == src.stat().st_ino
            if mode == "symlink":
                assert written.is_symlink() and Path(os.readlink(written)) == src.resolve()
    with open(out / "manifest.csv") as fh:
        manifest = list(csv.DictReader(fh))
    assert sorted((m["class"], Path(m["written"]).name, m["source"]) for m in manifest) == sorted(
        (cls, name, str(src)) for cls, files in expected.items() for name, src in files.items()
    )
    for m in manifest:
        assert m["sha256"] == hashlib.sha256(Path(m["source"]).read_bytes()).hexdigest()
    assert digests(root) == before  # originals byte-for-byte unchanged, not even touched


def test_folder_export_refuses_to_write_inside_a_photo_root(fworld):
    app, root = fworld
    before = digests(root)
    for target in (root / "sorted", root, root / "a" / "deeper"):
        res = app.test_cli_runner().invoke(
            args=["export-folders", "--out", str(target), "--classes", "cat"]
        )
        assert res.exit_code != 0 and "refusing" in res.output, res.output
        assert not (root / "sorted").exists() and not (root / "a" / "deeper").exists()
    assert digests(root) == before


def test_folder_export_annotates_copies(fworld, tmp_path):
    from PIL import Image

    app, root = fworld
    out = tmp_path / "ann"
    res = app.test_cli_runner().invoke(
        args=["export-folders", "--out", str(out), "--classes", "cat", "--annotate"]
    )
    assert res.exit_code == 0, res.output
    drawn = sorted(p.name for p in (out / "cat-annotated").iterdir())
    assert drawn == ["old.jpg", "x-2.jpg", "x.jpg", "y.jpg"]  # y: an ImageNet tabby
    # The cat's stored box, as the API gives it (normalised to the upright photo).
    (rec,) = [p for p in api(app, "classes=cat")["photos"] if p["paths"] == [str(root / "a/x.jpg")]]
    (box,) = [d["box"] for d in rec["detections"] if d["label"] == "cat"]
    with Image.open(root / "a" / "x.jpg") as im:
        original = im.convert("RGB")
    with Image.open(out / "cat-annotated" / "x.jpg") as im:
        annotated = im.convert("RGB")
    assert annotated.size == original.size
    w, h = original.size
    x0, y0, x1, y1 = (round(v) for v in (box[0] * w, box[1] * h, box[2] * w, box[3] * h))
    # The outline (3 px wide, drawn inwards): its middle line, clear of the corners and of the
    # class name written inside the top-left corner.
    edge = [(x, y0 + 1) for x in range(x0 + 90, x1 - 6, 4)]
    edge += [(x, y1 - 2) for x in range(x0 + 6, x1 - 6, 4)]
    edge += [(x0 + 1, y) for y in range(y0 + 20, y1 - 6, 4)]
    edge += [(x1 - 2, y) for y in range(y0 + 6, y1 - 6, 4)]
    colour = (255, 180, 70)

    def off(px: tuple[int, ...], want: tuple[int, ...]) -> int:
        return max(abs(a - b) for a, b in zip(px, want, strict=True))

    outline = sorted(off(annotated.getpixel(p), colour) for p in edge)
    assert outline[len(outline) * 9 // 10] <= 60, outline  # JPEG blurs a thin line a little
    assert sum(off(original.getpixel(p), colour) > 60 for p in edge) > len(edge) // 2

    # Everywhere else (8 px from the outline and away from the label), the original pixels.
    def near(x: int, y: int) -> bool:
        around = x0 - 8 <= x <= x1 + 8 and y0 - 8 <= y <= y1 + 8
        return around and not (x0 + 8 < x < x1 - 8 and y0 + 24 < y < y1 - 8)

    rest = [(x, y) for x in range(0, w, 3) for y in range(0, h, 3) if not near(x, y)]
    diffs = sorted(off(annotated.getpixel(p), original.getpixel(p)) for p in rest)
    mean, p99 = sum(diffs) / len(diffs), diffs[len(diffs) * 99 // 100]
    print(
        f"\nannotated: outline off by <= {outline[len(outline) * 9 // 10]} (90%), rest {mean:.2f}"
    )
    assert mean < 4 and p99 < 40, (mean, p99)


def test_folder_export_copies_a_file_whose_name_is_not_utf8(tmp_path, database):
    """The stored path (bytes that are not UTF-8) is what gets copied, not its escaped display
    form; the manifest shows the name escaped."""
    name = "caf\udce9"  # b"caf\xe9": a Latin-1 file name on a UTF-8 system
    app = make(tmp_path, [P(name, "c", "2015:01:01 10:00:00", coco=[("cat", 0.9)])], database)
    src = tmp_path / "photos" / "c" / f"{name}.jpg"
    assert os.fsencode(src).endswith(b"caf\xe9.jpg")
    out = tmp_path / "sorted"
    res = app.test_cli_runner().invoke(
        args=["export-folders", "--out", str(out), "--classes", "cat"]
    )
    assert res.exit_code == 0, res.output
    written = out / "cat" / f"{name}.jpg"
    assert written.read_bytes() == src.read_bytes()
    with open(out / "manifest.csv") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["source"].endswith("caf\\xe9.jpg")
