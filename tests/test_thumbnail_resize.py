"""The thumbnail's two-step resize (reduce, then LANCZOS) looks like LANCZOS alone."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from atw.core import media
from tests.conftest import SHARED, need_shared

PHOTOS = SHARED / "photos" / "coco128" / "images" / "train2017"


def phone_size(path: Path, size: tuple[int, int]) -> bytes:
    """A photo enlarged to a phone's size and saved as JPEG, as a camera would store it."""
    with Image.open(path) as im:
        big = im.convert("RGB").resize(size, Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    big.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def as_jpeg(image: Image.Image) -> np.ndarray:
    """The pixels of the image saved as the thumbnail is (quality 100, 4:2:0), read back."""
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=100, optimize=True)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())), np.float32)


def test_thumbnail_is_lanczos_to_the_eye_at_the_same_size() -> None:
    """Against LANCZOS alone from the same decoded pixels, both saved alike (quality 100 so
    that JPEG's own noise stays small): a mean difference of about one level, and well under
    what a plain BILINEAR resize differs by (a shift or blur would be far more)."""
    need_shared(PHOTOS)
    assert media.THUMB_REDUCING_GAP >= 1.0
    sizes = [(4000, 3000), (3024, 4032), (4032, 2268)] * 2
    means = []
    for path, size in zip(sorted(PHOTOS.glob("*.jpg"))[:6], sizes, strict=True):
        img = media.open_image(phone_size(path, size), 10**9)
        upright = media.decode_upright(img, None, 256, 640)  # the JPEG draft the worker makes
        thumb = Image.open(io.BytesIO(media.thumbnail_bytes(upright, 400, 100)))
        w, h = upright.size
        s = 400 / max(w, h)
        want_size = (round(w * s), round(h * s))
        assert thumb.size == want_size and max(thumb.size) == 400
        got = np.asarray(thumb, np.float32)
        lanczos = as_jpeg(upright.resize(want_size, Image.Resampling.LANCZOS))
        bilinear = as_jpeg(upright.resize(want_size, Image.Resampling.BILINEAR))
        diff = np.abs(got - lanczos).mean()
        assert diff < 2.5 and diff < 0.7 * np.abs(bilinear - lanczos).mean(), (path.name, diff)
        means.append(diff)
    assert np.mean(means) < 1.6, means


def test_a_small_image_is_never_enlarged_and_an_exact_halving_is_a_box_average() -> None:
    small = Image.new("RGB", (300, 200), (10, 200, 30))
    assert Image.open(io.BytesIO(media.thumbnail_bytes(small, 400, 85))).size == (300, 200)
    checker = Image.fromarray((np.indices((800, 600)).sum(0) % 2 * 255).astype(np.uint8).T)
    half = Image.open(io.BytesIO(media.thumbnail_bytes(checker.convert("RGB"), 400, 95)))
    assert half.size == (400, 300)
    # a one-pixel checkerboard halved: every pixel the average grey, no aliasing pattern
    assert abs(np.asarray(half, np.float32).mean() - 127.5) < 2
    assert np.asarray(half, np.float32).std() < 3
