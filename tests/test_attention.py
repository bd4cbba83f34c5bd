"""Damaged, not gone: a truncated or corrupt photo whose pixels partly decode is indexed as damaged
(its EXIF facts, a thumbnail of what decodes); only files with nothing usable stay quarantined;
both lists in one "needs attention" place (CLI, API, a page linked from the header)."""

from __future__ import annotations

import io
import re
import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from PIL import Image, ImageFile
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from atw.core import dialect, media, migrations
from atw.core.engine import create_schema, make_engine
from atw.core.migrations import SchemaOutdated
from atw.core.schema import Photo, PhotoPath, Quarantine
from tests import corpus
from tests.conftest import COCO_DIR, EXIF_DIR, index, need_shared
from tests.photos import write_jpeg

TRUNCATED_SHARED = ["broken.jpg", "animated-earth.jpg", "imageSizeError.jpg"]
NOTHING_USABLE_SHARED = ["empty.jpg", "broken image.JPG", "corrupted_city.JPG"]
WHEN = "2019:07:01 10:00:00"
PARIS = (48.8566, 2.3522)


def db(app) -> Session:  # type: ignore[no-untyped-def]
    return Session(make_engine(app.config["DATABASE_URL"]))


def strict_load(path: Path) -> bool:
    media.register_plugins()
    try:
        with Image.open(path) as im:
            im.load()
        return True
    except Exception:
        return False


def salvaged(path: Path) -> Image.Image | None:
    """Independently of atw: the picture Pillow decodes with LOAD_TRUNCATED_IMAGES (set and
    restored here), or None when nothing of it decodes (one colour on ≥ 99 % of the pixels)."""
    media.register_plugins()
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    try:
        with Image.open(path) as im:
            im.load()
            rgb = im.convert("RGB")
    except Exception:
        return None
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = False
    a = np.asarray(rgb, np.uint32).reshape(-1, 3)
    _colours, counts = np.unique((a[:, 0] << 16) | (a[:, 1] << 8) | a[:, 2], return_counts=True)
    return rgb if counts.max() < 0.99 * len(a) else None


def thumbnail(app, photo: Photo) -> Image.Image:  # type: ignore[no-untyped-def]
    with Image.open(media.thumb_path(app.config["THUMBS_DIR"], photo.sha256)) as t:
        return t.convert("RGB")


def band(img: Image.Image, top: float, bottom: float) -> Image.Image:
    w, h = img.size
    return img.crop((0, round(h * top), w, round(h * bottom)))


def photos_by_name(app) -> dict[str, Photo]:  # type: ignore[no-untyped-def]
    with db(app) as s:
        rows = s.execute(select(PhotoPath.path, Photo).join(Photo)).all()
        s.expunge_all()
    return {Path(path).name: photo for path, photo in rows}


def quarantined(app) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with db(app) as s:
        return {Path(q.path).name: q.reason for q in s.scalars(select(Quarantine))}


# --- damaged, not gone -----------------------------------------------------------------------


def test_truncated_shared_photos_are_damaged_not_quarantined(make_app):
    need_shared()
    from tests.exiftool_ref import expected_from_exiftool

    names = TRUNCATED_SHARED + NOTHING_USABLE_SHARED
    paths = [EXIF_DIR / n for n in names]
    # The truth, derived here with Pillow alone: the three truncated files partly decode.
    damaged = {p.name for p in paths if not strict_load(p) and salvaged(p) is not None}
    assert damaged == set(TRUNCATED_SHARED)

    app = make_app()
    summary = index(app, *paths)  # each file is its own root
    assert summary.indexed == 3 and summary.quarantined == 3
    photos, reasons = photos_by_name(app), quarantined(app)
    assert set(photos) == damaged
    assert set(reasons) == set(NOTHING_USABLE_SHARED)
    assert all(r.strip() for r in reasons.values())
    exif = expected_from_exiftool(paths)
    for name in TRUNCATED_SHARED:
        p, path = photos[name], EXIF_DIR / name
        assert p.damaged and "truncated" in (p.damage_reason or ""), (name, p.damage_reason)
        picture = salvaged(path)
        assert picture is not None
        assert (p.width, p.height) == picture.size  # from the header: the whole photo
        assert corpus.difference(thumbnail(app, p), picture) < 4, name
        e = exif[str(path)]
        if e.taken_at is not None:
            assert (p.taken_at, p.time_estimated) == (e.taken_at, False), name
        assert (p.camera_make, p.camera_model) == (e.camera_make, e.camera_model), name
    # imageSizeError.jpg: only the top rows decode, and its EXIF facts are kept.
    p = photos["imageSizeError.jpg"]
    assert p.taken_at == datetime(2022, 6, 10, 15, 50, 57) and p.camera_make == "Realme"


def damaged_world(root: Path) -> Image.Image:
    """Photos with EXIF facts, cut or corrupted in different ways; returns their picture."""
    root.mkdir(parents=True, exist_ok=True)
    src = corpus.picture((640, 480), 7)
    full = write_jpeg(
        root / "full.jpg", src, taken=WHEN, gps=PARIS, make="Nikon", model="D750"
    ).read_bytes()
    (root / "cut-half.jpg").write_bytes(full[: len(full) // 2])
    sos = full.index(b"\xff\xda")
    (root / "headers-only.jpg").write_bytes(full[: sos + 20])  # EXIF, but no picture data
    (root / "full.jpg").unlink()
    exif = Image.open(io.BytesIO(full)).getexif()
    buf = io.BytesIO()
    src.save(buf, "PNG", exif=exif)
    png = buf.getvalue()
    (root / "cut-half.png").write_bytes(png[: len(png) // 2])
    idat = png.index(b"IDAT")
    at = idat + 4 + int.from_bytes(png[idat - 4 : idat], "big") * 6 // 10
    corrupt = bytearray(png)  # 16 bytes of the compressed pixels, 60 % of the way in
    corrupt[at : at + 16] = b"\xff" * 16
    (root / "corrupt-data.png").write_bytes(bytes(corrupt))
    buf = io.BytesIO()
    src.save(buf, "TIFF")
    (root / "cut-half.tif").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    buf = io.BytesIO()
    src.save(buf, "WEBP")
    (root / "cut-half.webp").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    return src


def test_damaged_photos_keep_their_exif_and_show_what_decodes(make_app, tmp_path):
    root = tmp_path / "photos"
    src = damaged_world(root)
    expect_damaged = {"cut-half.jpg", "cut-half.png", "corrupt-data.png", "cut-half.tif"}
    for p in root.iterdir():  # the truth, derived with Pillow alone
        usable = not strict_load(p) and salvaged(p) is not None
        assert usable == (p.name in expect_damaged), p.name

    app = make_app()
    first = index(app, root)
    assert (first.indexed, first.quarantined) == (4, 2)
    photos, reasons = photos_by_name(app), quarantined(app)
    assert set(photos) == expect_damaged
    assert "nothing of the picture decodes" in reasons["headers-only.jpg"]
    assert "cannot open" in reasons["cut-half.webp"]
    for name, p in photos.items():
        assert p.damaged and p.damage_reason, name
        assert (p.width, p.height) == (640, 480), name
        thumb = thumbnail(app, p)
        assert corpus.difference(thumb, salvaged(root / name)) < 4, name  # what decodes
        # The top of the picture decoded: it looks like the source there.
        assert corpus.difference(band(thumb, 0, 0.2), band(src, 0, 0.2)) < 6, name
    for name in ("cut-half.jpg", "cut-half.png"):  # their EXIF facts are kept
        p = photos[name]
        assert (p.taken_at, p.time_estimated) == (datetime(2019, 7, 1, 10, 0), False), name
        assert abs(p.lat - PARIS[0]) < 1e-4 and abs(p.lon - PARIS[1]) < 1e-4, name
        assert (p.camera_make, p.camera_model) == ("Nikon", "D750"), name
    assert "truncated" in (photos["cut-half.jpg"].damage_reason or "")
    assert "broken data stream" in (photos["corrupt-data.png"].damage_reason or "")

    # Unchanged damaged files are not decoded again.
    again = index(app, root)
    assert again.processed == 0 and again.unchanged == 4
    # A repaired file is a new, undamaged version; the damaged one leaves the attention list.
    write_jpeg(root / "cut-half.jpg", src, taken=WHEN, gps=PARIS, make="Nikon", model="D750")
    repaired = index(app, root)
    assert repaired.indexed == 1
    assert not photos_by_name(app)["cut-half.jpg"].damaged
    names = [r["file_name"] for r in app.test_client().get("/api/attention").get_json()["damaged"]]
    assert sorted(names) == ["corrupt-data.png", "cut-half.png", "cut-half.tif"]


def test_the_salvage_flag_is_set_only_around_the_second_attempt(tmp_path):
    """ImageFile.LOAD_TRUNCATED_IMAGES is global to the process: restored after a salvage, so a
    strict decode afterwards still refuses a truncated file."""
    damaged_world(tmp_path)
    data = (tmp_path / "cut-half.jpg").read_bytes()
    for before in (False, True):
        ImageFile.LOAD_TRUNCATED_IMAGES = before
        try:
            img = media.open_image(data, 10**8)
            upright, damage = media.decode_or_salvage(data, img, None, 0, 400, 10**8)
            assert upright.size == (640, 480)
            assert bool(damage) is not before  # with the flag already set, nothing fails
            assert ImageFile.LOAD_TRUNCATED_IMAGES is before
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = False
    with pytest.raises(media.DecodeError, match="truncated"):
        media.decode_upright(media.open_image(data, 10**8), None, 0, 400)
    with pytest.raises(media.BadImage, match="nothing of the picture decodes"):
        blank = (tmp_path / "headers-only.jpg").read_bytes()
        media.decode_or_salvage(blank, media.open_image(blank, 10**8), None, 0, 400, 10**8)


# --- needs attention: CLI, API, page ---------------------------------------------------------


def attention_world(root: Path) -> None:
    """A real photo, the same kind of photo cut at 60 %, an empty file and a text file."""
    need_shared()
    coco = COCO_DIR / "images" / "train2017"
    root.mkdir(parents=True)
    shutil.copy(coco / "000000000009.jpg", root / "lunch.jpg")
    cut = (coco / "000000000025.jpg").read_bytes()
    (root / "giraffes-cut.jpg").write_bytes(cut[: len(cut) * 6 // 10])
    (root / "empty.jpg").write_bytes(b"")
    (root / "notes.png").write_bytes(b"not a picture at all")


def test_needs_attention_in_the_api_cli_and_page(make_app, tmp_path):
    root = tmp_path / "photos"
    attention_world(root)
    app = make_app()
    index(app, root)
    c = app.test_client()
    found = c.get("/api/attention").get_json()
    assert set(found) == {"damaged", "quarantined"}
    [d] = found["damaged"]
    assert d["file_name"] == "giraffes-cut.jpg" and d["paths"] == [str(root / "giraffes-cut.jpg")]
    assert "truncated" in d["damage_reason"]
    assert d["url"] == f"/photos/{d['id']}" and d["thumbnail_url"] == f"/thumbs/{d['id']}.jpg"
    assert c.get(d["thumbnail_url"]).status_code == 200
    q = {Path(r["path"]).name: r["reason"] for r in found["quarantined"]}
    assert set(q) == {"empty.jpg", "notes.png"} and "empty" in q["empty.jpg"]
    # The old endpoint answers as before.
    old = c.get("/api/quarantine").get_json()
    assert {Path(r["path"]).name for r in old} == set(q)
    assert set(old[0]) == {"path", "reason", "seen_at", "bytes"}
    # The photo records carry the two new fields.
    recs = {r["file_name"]: r for r in c.get("/api/photos").get_json()["photos"]}
    assert set(recs) == {"lunch.jpg", "giraffes-cut.jpg"}
    assert recs["giraffes-cut.jpg"]["damaged"] is True
    assert recs["giraffes-cut.jpg"]["damage_reason"] == d["damage_reason"]
    assert recs["lunch.jpg"]["damaged"] is False and recs["lunch.jpg"]["damage_reason"] is None
    assert c.get(f"/api/photos/{d['id']}").get_json()["damaged"] is True
    ids = {name: r["id"] for name, r in recs.items()}

    # The command line.
    out = app.test_cli_runner().invoke(args=["attention"])
    assert out.exit_code == 0, out.output
    assert "Damaged photos (1)" in out.output and "Quarantined files (2)" in out.output
    assert f"{root / 'giraffes-cut.jpg'}\t{d['damage_reason']}" in out.output
    assert f"{root / 'empty.jpg'}\t{q['empty.jpg']}" in out.output

    # The page, linked from the header of every page.
    home = c.get("/").get_data(as_text=True)
    assert 'href="/attention"' in home
    page = c.get("/attention")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'href="/photos/{ids["giraffes-cut.jpg"]}"' in html
    assert f'src="/thumbs/{ids["giraffes-cut.jpg"]}.jpg"' in html
    assert d["damage_reason"] in html and q["notes.png"] in html
    assert str(root / "empty.jpg") in html and "lunch.jpg" not in html
    # The grid and the viewer mark the damaged photo (and only it).
    assert home.count('class="damaged-mark"') == 1
    tiles = dict(re.findall(r'<li class="tile" data-id="(\d+)"[^>]*>(.*?)</li>', home, re.S))
    assert "damaged-mark" in tiles[str(ids["giraffes-cut.jpg"])]
    assert "damaged-mark" not in tiles[str(ids["lunch.jpg"])]
    viewer = c.get(f"/photos/{ids['giraffes-cut.jpg']}").get_data(as_text=True)
    assert 'id="damaged"' in viewer and d["damage_reason"] in viewer
    assert 'id="damaged"' not in c.get(f"/photos/{ids['lunch.jpg']}").get_data(as_text=True)
    # The viewer's screen-sized copy shows what decodes, like the thumbnail.
    shown = c.get(f"/photos/{ids['giraffes-cut.jpg']}/display.jpg?w=800")
    assert shown.status_code == 200 and shown.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(shown.data)) as img:
        picture = salvaged(root / "giraffes-cut.jpg")
        assert picture is not None and corpus.difference(img, picture) < 4


def test_an_index_of_schema_2_gains_the_damage_columns(make_app, tmp_path):
    root = tmp_path / "photos"
    write_jpeg(root / "a.jpg", corpus.picture((320, 240), 1), taken=WHEN)
    app = make_app()
    index(app, root)
    engine = make_engine(app.config["DATABASE_URL"])
    with dialect.migrating(engine) as conn:  # the revisions after the baseline undone first
        command.downgrade(migrations.config(conn), "0001")
    with db(app) as s, s.begin():  # back to what schema 2 looked like
        s.execute(text("DROP INDEX ix_photo_damaged"))
        s.execute(text("ALTER TABLE photo DROP COLUMN damaged"))
        s.execute(text("ALTER TABLE photo DROP COLUMN damage_reason"))
        s.execute(text("UPDATE meta SET value = '2' WHERE key = 'schema_version'"))
        s.execute(text("DROP TABLE alembic_version"))  # written before atw used Alembic
    with pytest.raises(SchemaOutdated, match="db upgrade"):
        make_app()  # the web app never migrates
    create_schema(make_engine(app.config["DATABASE_URL"]))  # as `db upgrade` and an index run
    app = make_app()
    with db(app) as s:
        assert s.scalar(text("SELECT value FROM meta WHERE key = 'schema_version'")) == "3"
        cols = {r[1] for r in s.execute(text("PRAGMA table_info(photo)"))}
        assert {"damaged", "damage_reason"} <= cols
        assert s.execute(text("PRAGMA index_info(ix_photo_damaged)")).all()
        assert s.scalar(text("SELECT count(*) FROM photo WHERE damaged = 0")) == 1
    data = (root / "a.jpg").read_bytes()
    (root / "b.jpg").write_bytes(data[: len(data) // 2])
    assert index(app, root).indexed == 1
    assert photos_by_name(app)["b.jpg"].damaged and not photos_by_name(app)["a.jpg"].damaged


@pytest.mark.browser
@pytest.mark.slow
def test_the_attention_page_in_a_browser(make_app, tmp_path):
    from tests.browser import chromium, live_server, screenshot, wait_until

    root = tmp_path / "photos"
    attention_world(root)
    app = make_app()
    index(app, root)
    with live_server(app) as url, chromium() as page:
        page.goto(url + "/")
        tiles = "[...document.querySelectorAll('#grid img')]"
        wait_until(page, f"() => {tiles}.every(i => i.naturalWidth > 0)")
        marks = page.eval_on_selector_all(
            "#grid .tile .damaged-mark", "els => els.map(e => e.offsetWidth > 0)"
        )
        assert marks == [True], "one visible mark, on the damaged photo's tile"
        screenshot(page, "grid-damaged")
        page.click("#attention-link")
        page.wait_for_url(url + "/attention")
        wait_until(
            page,
            "() => [...document.images].length > 0"
            " && [...document.images].every(i => i.complete && i.naturalWidth > 0)",
        )
        rows = page.eval_on_selector_all("#damaged tbody tr", "els => els.length")
        quarantined_rows = page.eval_on_selector_all("#quarantined tbody tr", "els => els.length")
        assert (rows, quarantined_rows) == (1, 2)
        assert "giraffes-cut.jpg" in page.inner_text("#damaged")
        assert "empty file" in page.inner_text("#quarantined")
        shot = screenshot(page, "attention")
        page.click("#damaged tbody a")
        wait_until(page, "() => document.getElementById('damaged') !== null")
        assert "damaged" in page.inner_text("#damaged").lower()
        wait_until(page, "() => document.getElementById('photo').naturalWidth > 0")
        screenshot(page, "viewer-damaged")
        assert page.js_errors == []
    assert shot.is_file()
