"""Decoding photos: guards against bad files, JPEG draft mode, orientation, thumbnails."""

from __future__ import annotations

import io
import math
import os
import tempfile
import warnings
from functools import cache
from pathlib import Path

from PIL import Image, ImageFile

# EXIF orientation → the transpose that makes the pixels upright (as Pillow's exif_transpose).
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Containers whose decoder already applies the rotation (HEIF irot/imir); EXIF is informational.
SELF_ORIENTING = {"HEIF", "AVIF"}


class BadImage(Exception):
    """A file that cannot be indexed; str(exc) is the one-line reason recorded in quarantine."""


@cache
def register_plugins() -> None:
    """Teach Pillow HEIC/HEIF (pillow-heif) and make truncated files an error, not a guess."""
    from pillow_heif import register_heif_opener

    register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
    ImageFile.LOAD_TRUNCATED_IMAGES = False


def open_image(data: bytes | str, max_pixels: int) -> Image.Image:
    """Open (header only) from bytes or a path; refuse unidentifiable files and pixel bombs."""
    register_plugins()
    Image.MAX_IMAGE_PIXELS = None  # our own, clearer check below
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = Image.open(io.BytesIO(data) if isinstance(data, bytes) else data)
    except Image.UnidentifiedImageError:
        raise BadImage(
            "not an image Pillow can identify (unknown format or corrupt header)"
        ) from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise BadImage(f"cannot open: {one_line(exc)}") from None
    w, h = img.size
    if w <= 0 or h <= 0:
        raise BadImage(f"invalid dimensions {w}×{h}")
    if w * h > max_pixels:
        raise BadImage(
            f"decompression bomb guard: {w}×{h} = {w * h / 1e6:.0f} MP exceeds "
            f"MAX_IMAGE_PIXELS ({max_pixels / 1e6:.0f} MP)"
        )
    return img


def draft_request(size: tuple[int, int], min_short: int, min_long: int) -> tuple[int, int] | None:
    """The smallest JPEG DCT scale (1/2, 1/4, 1/8) still meeting both minimum sides."""
    w, h = size
    best = None
    for scale in (2, 4, 8):
        sw, sh = math.ceil(w / scale), math.ceil(h / scale)
        if min(sw, sh) >= min_short and max(sw, sh) >= min_long:
            best = (sw, sh)
    return best


def decode_upright(
    img: Image.Image, orientation: int | None, min_short: int, min_long: int
) -> Image.Image:
    """Decode (JPEG: draft-reduced to just above the needed size) to upright RGB pixels."""
    if img.format == "JPEG":
        req = draft_request(img.size, min_short, min_long)
        if req:
            img.draft("RGB", req)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img.load()
    except (OSError, ValueError, SyntaxError, EOFError, IndexError) as exc:
        raise BadImage(f"cannot decode: {one_line(exc)}") from None
    if getattr(img, "n_frames", 1) > 1:
        img.seek(0)
    rgb = to_rgb(img)
    if img.format not in SELF_ORIENTING and orientation in TRANSPOSE:
        rgb = rgb.transpose(TRANSPOSE[orientation])
    return rgb


def to_rgb(img: Image.Image) -> Image.Image:
    """RGB pixels; transparency is flattened onto white, 16-bit greys scaled down."""
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        return img.point(lambda v: v / 256).convert("L").convert("RGB")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    return img.convert("RGB")


def thumbnail_bytes(upright: Image.Image, long_side: int, quality: int) -> bytes:
    """A JPEG of the upright image scaled to long_side (never enlarged)."""
    w, h = upright.size
    scale = min(1.0, long_side / max(w, h))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = upright if size == (w, h) else upright.resize(size, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def display_bytes(path: str, long_side: int, max_pixels: int) -> bytes:
    """An upright JPEG of the file at path, scaled to long_side (for the photo viewer)."""
    from pipelines.exif import read_exif

    img = open_image(path, max_pixels)
    upright = decode_upright(img, read_exif(img).orientation, 0, long_side)
    return thumbnail_bytes(upright, long_side, 85)


def thumb_path(thumbs_dir: str | Path, sha256: str) -> Path:
    """Where the thumbnail of a content hash lives: <thumbs>/ab/abcdef….jpg."""
    return Path(thumbs_dir) / sha256[:2] / f"{sha256}.jpg"


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file so that readers see either nothing or all of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def one_line(exc: BaseException) -> str:
    """An exception as a single short line for the quarantine table."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    # A message quoting a non-UTF-8 file name carries surrogate escapes: make it storable text.
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text[:300]
