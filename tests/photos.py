"""Helpers that write test photos with chosen EXIF (time, offset, GPS, orientation) via piexif."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import piexif
from PIL import Image, ImageDraw


def pattern(size: tuple[int, int] = (640, 480), seed: int = 0) -> Image.Image:
    """An asymmetric picture (so rotations and flips are visible), distinct per seed."""
    w, h = size
    img = Image.new("RGB", size, (30 + seed * 37 % 200, 60, 90))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, w // 3, h // 4], fill=(250, 40, 40))  # red block top-left
    d.ellipse([w * 2 // 3, h // 2, w - 10, h - 10], fill=(40, 220, 60))  # green bottom-right
    d.line([0, h - 1, w // 2, 0], fill=(255, 255, 0), width=max(2, w // 60))
    d.text((w // 2, h // 2), f"{seed}", fill=(255, 255, 255))
    return img


def _rat(x: float) -> tuple[int, int]:
    f = Fraction(x).limit_denominator(1_000_000)
    return (f.numerator, f.denominator)


def gps_ifd(lat: float, lon: float, alt: float | None = None) -> dict[int, object]:
    def dms(v: float) -> tuple[tuple[int, int], ...]:
        v = abs(v)
        d = int(v)
        m = int((v - d) * 60)
        s = (v - d - m / 60) * 3600
        return ((d, 1), (m, 1), _rat(round(s, 4)))

    ifd: dict[int, object] = {
        piexif.GPSIFD.GPSLatitudeRef: b"N" if lat >= 0 else b"S",
        piexif.GPSIFD.GPSLatitude: dms(lat),
        piexif.GPSIFD.GPSLongitudeRef: b"E" if lon >= 0 else b"W",
        piexif.GPSIFD.GPSLongitude: dms(lon),
    }
    if alt is not None:
        ifd[piexif.GPSIFD.GPSAltitudeRef] = 1 if alt < 0 else 0
        ifd[piexif.GPSIFD.GPSAltitude] = _rat(abs(alt))
    return ifd


def write_jpeg(
    path: Path,
    img: Image.Image | None = None,
    *,
    taken: str | None = None,
    offset: str | None = None,
    gps: tuple[float, float] | tuple[float, float, float] | None = None,
    orientation: int | None = None,
    make: str | None = None,
    model: str | None = None,
    quality: int = 90,
) -> Path:
    """Save img (default: a pattern) as JPEG with the given EXIF fields."""
    img = img if img is not None else pattern()
    zeroth: dict[int, object] = {}
    exif: dict[int, object] = {}
    if orientation is not None:
        zeroth[piexif.ImageIFD.Orientation] = orientation
    if make:
        zeroth[piexif.ImageIFD.Make] = make.encode()
    if model:
        zeroth[piexif.ImageIFD.Model] = model.encode()
    if taken:
        exif[piexif.ExifIFD.DateTimeOriginal] = taken.encode()
    if offset:
        exif[piexif.ExifIFD.OffsetTimeOriginal] = offset.encode()
    gps_data = gps_ifd(*gps) if gps else {}
    blob = piexif.dump({"0th": zeroth, "Exif": exif, "GPS": gps_data})
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, "JPEG", quality=quality, exif=blob)
    return path


ROTATE_FOR = {
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_90,
    8: Image.Transpose.ROTATE_270,
}


def stored_rotated(upright: Image.Image, orientation: int) -> Image.Image:
    """The pixels a camera stores for an upright scene tagged with orientation 3, 6 or 8."""
    return upright.transpose(ROTATE_FOR[orientation])
