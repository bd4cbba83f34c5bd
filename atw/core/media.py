"""Shared photo decoding: bad-file guards, JPEG draft, any pixel mode to RGB, orientation, salvage,
thumbnails and display copies, atomic writes. Used by the indexer, the web app and the services."""

from __future__ import annotations

import io
import math
import os
import socket
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
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
TAG_ORIENTATION = 0x112  # EXIF IFD0 Orientation
# Containers whose decoder already applies the rotation (HEIF irot/imir); EXIF is informational.
SELF_ORIENTING = {"HEIF", "AVIF"}
# A damaged file is indexed when at least this share of its picture decodes (decoded_share):
# a JPEG cut right after its header decodes to grey with a few stray pixels (under 0.2 %).
MIN_DECODED_SHARE = 0.01


class BadImage(Exception):
    """A file that cannot be indexed; str(exc) is the one-line reason recorded in quarantine."""


class DecodeError(BadImage):
    """The header was read but the pixels did not decode; detail is the decoder's message."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"cannot decode: {detail}")
        self.detail = detail


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
    """Decode (JPEG: draft-reduced to just above the needed size) to upright RGB pixels. Files of
    several frames, pages or layers give their first: the frame Pillow opens them at (the first
    page of a TIFF, the first frame of a GIF/APNG/WebP, the flattened composite of a PSD)."""
    if img.format == "JPEG":
        req = draft_request(img.size, min_short, min_long)
        if req:
            img.draft("RGB", req)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img.load()
    except (OSError, ValueError, SyntaxError, EOFError, IndexError) as exc:
        raise DecodeError(one_line(exc)) from None
    rgb = to_rgb(img)
    if img.format not in SELF_ORIENTING and orientation in TRANSPOSE:
        rgb = rgb.transpose(TRANSPOSE[orientation])
    return rgb


def decode_or_salvage(
    source: bytes | str,
    img: Image.Image,
    orientation: int | None,
    min_short: int,
    min_long: int,
    max_pixels: int,
) -> tuple[Image.Image, str | None]:
    """Upright RGB pixels and None; or, for a damaged file (truncated, corrupt data) whose
    pixels partly decode, what decodes and the reason it is damaged. A file of which nothing
    decodes raises BadImage. source is what img was opened from (it is opened again)."""
    try:
        return decode_upright(img, orientation, min_short, min_long), None
    except DecodeError as exc:
        damage = exc.detail
    again = open_image(source, max_pixels)
    try:
        with truncated_images_allowed():
            upright = decode_upright(again, orientation, min_short, min_long)
    except DecodeError as exc:
        raise BadImage(f"cannot decode: {damage}; nothing decodes ({exc.detail})") from None
    if decoded_share(upright) < MIN_DECODED_SHARE:
        raise BadImage(f"cannot decode: {damage}; nothing of the picture decodes")
    return upright, damage


def decoded_share(img: Image.Image) -> float:
    """The share (0…1) of a picture that differs from its most common colour, in cells of a grid
    of at most 512 × 512 (each cell the average of its pixels, so no decoded row is skipped, as
    every other one of an interlaced GIF would be by sampling). Where a damaged file has no
    data Pillow leaves one flat fill, so a share near 0 means nothing of the picture decoded."""
    import numpy as np

    step = max(1, math.ceil(max(img.size) / 512))
    small = img.reduce(step) if step > 1 else img
    a = np.asarray(small.convert("RGB"), np.uint32).reshape(-1, 3)
    _values, counts = np.unique((a[:, 0] << 16) | (a[:, 1] << 8) | a[:, 2], return_counts=True)
    return 1.0 - float(counts.max()) / len(a)


_TRUNCATED = threading.Lock()


@contextmanager
def truncated_images_allowed() -> Iterator[None]:
    """Within the block, Pillow decodes what a truncated or corrupt file holds instead of
    raising (ImageFile.LOAD_TRUNCATED_IMAGES). The flag is global to the process: it is set and
    restored under a lock, and only around the second attempt at one damaged file. A strict
    decode in another thread of the same process at that moment is lenient too (the web app's
    viewer is the only multi-threaded caller; indexing workers are single-threaded)."""
    with _TRUNCATED:
        before = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = True
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = before


def to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB pixels: transparency is flattened onto white; 16-bit, 32-bit and float greys
    are scaled to 8 bits (scaled_grey); palettes, 1-bit, CMYK and Lab are converted."""
    if img.mode.startswith("I;16") or img.mode in ("I", "F"):
        return scaled_grey(img).convert("RGB")
    if img.mode in ("RGBA", "RGBa", "LA", "PA") or (
        img.mode in ("P", "L", "RGB") and "transparency" in img.info
    ):
        rgba = img.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    return img if img.mode == "RGB" else img.convert("RGB")


def scaled_grey(img: Image.Image) -> Image.Image:
    """An 8-bit grey image of a 16-bit (I;16, I;16B, …), 32-bit integer (I) or float (F) one.
    Unsigned 16-bit values, and I values within 0…65535, keep their top 8 bits; F values within
    0…1 are intensities (× 255); anything else is stretched from its minimum to its maximum."""
    import numpy as np  # not at start-up: the web app imports this module

    a = np.asarray(img)
    if a.dtype.kind == "u" and a.dtype.itemsize == 2:
        return Image.fromarray((a >> 8).astype(np.uint8))
    if a.dtype.kind == "f":
        finite = np.isfinite(a)
        a = np.where(finite, a, 0).astype(np.float32)
        if a.size and a.min() >= 0 and a.max() <= 1:
            return Image.fromarray(np.round(a * 255).astype(np.uint8))
    elif a.size and a.min() >= 0 and a.max() <= 65535:
        return Image.fromarray((a >> 8).astype(np.uint8))
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    span = hi - lo or 1.0
    stretched = (a.astype(np.float32) - lo) * np.float32(255 / span)
    return Image.fromarray(np.round(stretched).astype(np.uint8))


# A thumbnail is resized in two steps (Pillow's reducing_gap): first reduce() by the whole
# factor that leaves at least this much scaling (a box average of n × n pixels), then LANCZOS.
# From a 1/4 draft of a 12 MP JPEG (1000 px → 400) that halves the cost (10.5 → 5.0 ms) for a
# mean difference of 1.3 / 255 against LANCZOS alone (bench/label_stages.py --thumbnails).
THUMB_REDUCING_GAP = 1.0


def thumbnail_bytes(upright: Image.Image, long_side: int, quality: int) -> bytes:
    """A JPEG of the upright image scaled to long_side (never enlarged)."""
    w, h = upright.size
    scale = min(1.0, long_side / max(w, h))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = upright
    if size != (w, h):
        small = upright.resize(size, Image.Resampling.LANCZOS, reducing_gap=THUMB_REDUCING_GAP)
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def display_bytes(path: str, long_side: int, max_pixels: int) -> bytes:
    """An upright JPEG of the file at path, scaled to long_side (for the photo viewer); of a
    damaged file, what decodes."""
    img = open_image(path, max_pixels)
    upright, _damage = decode_or_salvage(path, img, orientation(img), 0, long_side, max_pixels)
    return thumbnail_bytes(upright, long_side, 85)


def orientation(image: Image.Image) -> int | None:
    """The EXIF orientation (1..8) recorded in an opened image, or None (absent, invalid or
    unreadable EXIF): the value pipelines.exif.read_exif reports as ExifFacts.orientation."""
    try:
        return exif_orientation(image, image.getexif())
    except Exception:  # malformed EXIF of any kind means "absent"
        return None


def exif_orientation(image: Image.Image, exif: Image.Exif) -> int | None:
    """IFD0 Orientation as stored in the file, valid only as an integer 1..8, bypassing Pillow's
    fallback to XMP tiff:Orientation (rules: the header of pipelines/exif.py)."""
    value = _stored_orientation(image, exif)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 8:
        return value
    return None


def _stored_orientation(image: Image.Image, exif: Image.Exif) -> object:
    """IFD0 Orientation as stored in the file, bypassing Pillow's XMP fallback."""
    if TAG_ORIENTATION not in exif:
        return None
    info = image.info
    if "original_orientation" in info:  # pillow-heif rewrote its EXIF copy to 1 and kept the value
        # (that value is XMP's if the EXIF tag was already 1 and XMP disagreed: accepted, rare)
        original = info["original_orientation"]
        return exif[TAG_ORIENTATION] if original is None else original
    if not any(key in info for key in ("XML:com.adobe.xmp", "xmp")):
        return exif[TAG_ORIENTATION]  # without XMP, Pillow cannot have filled it in
    raw, tags = info.get("exif"), getattr(image, "tag_v2", None)
    if isinstance(raw, bytes):
        fresh = Image.Exif()
        fresh.load(raw)
        return fresh.get(TAG_ORIENTATION)
    if tags is not None:  # TIFF: IFD0 is the image's own tag directory
        return tags.get(TAG_ORIENTATION)
    if "Raw profile type exif" in info:  # PNG text-chunk EXIF (ImageMagick)
        return exif[TAG_ORIENTATION]
    return None  # no EXIF at all: Pillow took it from XMP


def thumb_path(thumbs_dir: str | Path, sha256: str) -> Path:
    """Where the thumbnail of a content hash lives: <thumbs>/ab/abcdef….jpg."""
    return Path(thumbs_dir) / sha256[:2] / f"{sha256}.jpg"


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file so that readers see either nothing or all of it. The temporary file is
    .tmp-<pid>@<host>-… beside it: a run may remove those of processes that are gone
    (temp_alive; the instance folder may be shared by machines)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".tmp-{os.getpid()}@{socket.gethostname()}-"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def temp_alive(tmp: Path, stale: float = 86400.0) -> bool:
    """Whether the process writing this temporary file (write_atomic) may still run: on this
    machine, whether its PID does; another machine's file, until it is `stale` seconds old.
    A name without a PID counts as gone."""
    pid, _, rest = tmp.name.removeprefix(".tmp-").partition("@")
    if not pid.isdigit():
        return False
    if not rest.startswith(socket.gethostname() + "-"):
        try:
            return time.time() - tmp.stat().st_mtime < stale
        except FileNotFoundError:
            return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def one_line(exc: BaseException) -> str:
    """An exception as a single short line for the quarantine table."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    # A message quoting a non-UTF-8 file name carries surrogate escapes: make it storable text.
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text[:300]
