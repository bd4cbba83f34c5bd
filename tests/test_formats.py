"""Every file Pillow (+ pillow-heif) loads is indexed with an upright thumbnail that looks like its
picture: 16-bit, 48-bit, float, Lab and multi-page TIFF, CMYK JPEG, LA/PA/palette transparency,
1-bit, APNG, animated GIF/WebP, BMP and ICO variants, HEIC with EXIF rotation, layered PSD."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from atw.core.engine import create_schema, make_engine
from atw.core.media import register_plugins, thumb_path
from atw.core.schema import Label, Photo, PhotoPath, Quarantine, StageDone
from pipelines.worker import Task, Worker, WorkerConfig
from tests import corpus
from tests.conftest import IMAGENET_DIR, MODEL_CONFIG, index, need_shared

# IM is the one format Pillow writes PA (palette + alpha) in; Pillow 15 drops it.
pytestmark = pytest.mark.filterwarnings("ignore:IM image format is deprecated:DeprecationWarning")
# The pixel modes and formats the corpus must hold (what the issue lists, and what failed).
MODES = {"I;16", "I;16B", "F", "LAB", "CMYK", "LA", "PA", "P", "1", "RGBA", "RGB", "L"}
FORMATS = {"TIFF", "JPEG", "PNG", "IM", "GIF", "WEBP", "BMP", "ICO", "HEIF", "PSD"}
LOOKS_LIKE = 4.0  # mean abs difference (0–255) of the scaled-down thumbnail and the picture
TURNED = 20.0  # every turned or mirrored picture differs by more than this


def opened(path: Path) -> tuple[str, str | None, int]:
    """(mode, format, frames) as Pillow opens the file, after checking it loads in full."""
    register_plugins()
    with Image.open(path) as im:
        mode, fmt, frames = im.mode, im.format, getattr(im, "n_frames", 1)
        im.load()  # the premise: Pillow decodes every corpus file without error
    return mode, fmt, frames


def check_thumbnail(thumb: Path, case: corpus.Case) -> None:
    assert thumb.is_file(), f"{case.name}: no thumbnail"
    with Image.open(thumb) as t:
        t.load()
        assert t.size == case.expected.size, f"{case.name}: thumbnail {t.size}"
        diff = corpus.difference(t, case.expected)
        assert diff < LOOKS_LIKE, f"{case.name}: thumbnail differs from its picture by {diff:.1f}"
        for way, turned in corpus.wrong_ways(case.expected).items():
            assert corpus.difference(t, turned) > TURNED, f"{case.name}: looks {way}"


@pytest.fixture(scope="module")
def built(tmp_path_factory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("corpus") / "photos"
    return folder, corpus.build(folder)


def test_the_corpus_holds_what_it_claims(built):
    folder, cases = built
    modes, formats = set(), set()
    for case in cases:
        mode, fmt, frames = opened(folder / case.name)
        assert mode == case.mode, f"{case.name} opens as {mode}, not {case.mode}"
        modes.add(mode)
        formats.add(fmt)
        if case.name.startswith(("tiff-multipage", "apng", "gif-animated", "webp-animated")):
            assert frames >= 3, case.name
        if case.name.startswith("psd-layered"):
            assert frames == 2, "the PSD has two layers"
        # The test can tell an upright picture from a turned or mirrored one.
        for way, turned in corpus.wrong_ways(case.expected).items():
            assert corpus.difference(case.expected, turned) > TURNED + 5, (case.name, way)
    assert not MODES - modes, MODES - modes
    assert not FORMATS - formats, FORMATS - formats


def test_every_file_pillow_loads_is_indexed_with_an_upright_thumbnail(built, make_app):
    folder, cases = built
    app = make_app()
    summary = index(app, folder)
    scanned = [c for c in cases if c.scanned]
    engine = make_engine(app.config["DATABASE_URL"])
    with Session(engine) as s:
        refused = {Path(q.path).name: q.reason for q in s.scalars(select(Quarantine))}
        assert refused == {}
        assert summary.indexed == len(scanned) >= 25
        for case in scanned:
            photo = s.scalars(
                select(Photo).join(PhotoPath).where(PhotoPath.path == str(folder / case.name))
            ).one()
            assert (photo.width, photo.height) == corpus.SIZE, case.name
            assert not photo.damaged, case.name
            check_thumbnail(thumb_path(app.config["THUMBS_DIR"], photo.sha256), case)
    # The API lists them all, undamaged.
    recs = app.test_client().get("/api/photos?per_page=100").get_json()["photos"]
    assert sorted(r["file_name"] for r in recs) == sorted(c.name for c in scanned)
    assert not any(r["damaged"] for r in recs)


def test_icons_decode_upright_through_the_worker(built, tmp_path):
    """The scanner skips icon files on purpose (not photos); handed to a worker (the code every
    indexed file goes through), they decode like the rest."""
    folder, cases = built
    icons = [c for c in cases if not c.scanned]
    assert {c.name for c in icons} == {"ico-png.ico", "ico-bmp.ico"}
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    create_schema(make_engine(url))
    worker = Worker(WorkerConfig(url, str(tmp_path / "thumbs"), 400, 90, 10**8, 10**8))
    for case in icons:
        path = folder / case.name
        st = path.stat()
        res = worker(Task(str(path), str(folder), st.st_size, st.st_mtime_ns))
        assert res.kind == "photo", (case.name, res.reason)
        assert res.facts is not None and res.facts.damage is None
        assert (res.facts.width, res.facts.height) == corpus.SIZE
        check_thumbnail(thumb_path(tmp_path / "thumbs", res.sha256 or ""), case)


@pytest.mark.slow
def test_a_16_bit_tiff_and_a_layered_psd_get_the_labels_of_their_picture(make_app, tmp_path):
    """Through the real models: a photo saved as a big-endian 16-bit TIFF and as a layered PSD
    gets the labels and objects of the same photo as a JPEG (the same pixels go in)."""
    need_shared()
    import numpy as np
    import tifffile
    from psd_tools import PSDImage

    source = IMAGENET_DIR / "n01534433_junco.JPEG"
    root = tmp_path / "photos"
    root.mkdir()
    rgb = Image.open(source).convert("RGB")
    rgb.save(root / "original.png")
    wide = np.asarray(rgb, np.uint16) * 257  # 8 → 16 bits exactly (v * 257 >> 8 == v)
    tifffile.imwrite(root / "scan16.tif", wide, byteorder=">", photometric="rgb")
    grey16 = np.asarray(rgb.convert("L"), np.uint16) * 257
    tifffile.imwrite(root / "grey16.tif", grey16, byteorder=">", photometric="minisblack")
    rgb.convert("L").convert("RGB").save(root / "grey.png")
    psd = PSDImage.new("RGB", rgb.size)
    psd.create_pixel_layer(rgb, name="photo")
    psd.create_pixel_layer(Image.new("RGB", (8, 8), (0, 0, 0)), name="dot", top=0, left=0)
    psd.save(root / "layered.psd")
    flat = rgb.copy()
    flat.paste((0, 0, 0), (0, 0, 8, 8))
    flat.save(root / "flat.png")

    app = make_app(**MODEL_CONFIG)
    summary = index(app, root)
    assert summary.indexed == 6 and summary.quarantined == 0
    with Session(make_engine(app.config["DATABASE_URL"])) as s:
        by_name = {Path(p.path).name: p.photo_id for p in s.scalars(select(PhotoPath))}

        def labels(name: str) -> list[tuple[str, float]]:
            rows = s.scalars(
                select(Label)
                .where(Label.photo_id == by_name[name], Label.source == "imagenet")
                .order_by(Label.score.desc())
            )
            return [(r.label, round(r.score, 2)) for r in rows]

        for name in by_name:
            stages = set(
                s.scalars(
                    select(StageDone.stage).where(
                        StageDone.photo_id == by_name[name], StageDone.stage != "places"
                    )
                )
            )
            assert stages == {"imagenet", "coco"}, name
        assert labels("original.png"), "the model labels the photo"
        top = [name for name, _score in labels("original.png")]
        assert "junco" in top[:5], top  # labels.csv's class for this sample
        assert labels("scan16.tif") == labels("original.png")
        assert labels("layered.psd") == labels("flat.png")
        assert labels("grey16.tif") == labels("grey.png")
