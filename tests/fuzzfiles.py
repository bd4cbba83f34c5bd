"""Hostile-file makers for the fuzz tests: seed photos, a raw TIFF/EXIF writer, JPEG/PNG surgery."""

from __future__ import annotations

import io
import struct
import zlib
from functools import cache
from pathlib import Path

from PIL import Image

from tests.conftest import COCO_DIR, EXIF_DIR

SEED_SIZE = (96, 72)
# Real photos whose EXIF blocks (maker notes, GPS, odd strings) seed the mutations.
EXIF_SEEDS = [
    "Canon_40D.jpg",
    "CorrectGPS.jpg",
    "DSCN0010.jpg",
    "Nikon_D70.jpg",
    "Fujifilm_FinePix_E500.jpg",
    "32-lens_data.jpeg",
    "33-type_error.jpg",
    "67-0_length_string.jpg",
    "87_OSError.jpg",
    "Pentax_K10D.jpg",
]


def _small(path: Path) -> Image.Image:
    with Image.open(path) as im:
        im.draft("RGB", SEED_SIZE)
        return im.convert("RGB").resize(SEED_SIZE)


@cache
def exif_blobs() -> tuple[bytes, ...]:
    """The raw EXIF (TIFF) blocks of the seed photos, as Pillow reads them ("Exif\\0\\0" + TIFF)."""
    out = []
    for name in EXIF_SEEDS:
        p = EXIF_DIR / name
        if not p.exists():
            continue
        try:
            with Image.open(p) as im:
                blob = im.info.get("exif")
        except Exception:
            continue
        if blob and len(blob) < 60000:
            out.append(bytes(blob))
    return tuple(out)


@cache
def seed_files() -> dict[str, bytes]:
    """Small real photos in every container: JPEG (with real EXIF), PNG (eXIf), WebP, TIFF, HEIC,
    GIF, and the shared folder's own WebP/TIFF/PNG files re-encoded small."""
    coco = sorted((COCO_DIR / "images" / "train2017").glob("*.jpg"))[:4]
    pics = [_small(p) for p in coco]
    blobs = exif_blobs()
    seeds: dict[str, bytes] = {}
    for i, img in enumerate(pics):
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=80, exif=blobs[i % len(blobs)] if blobs else b"")
        seeds[f"coco{i}.jpg"] = buf.getvalue()
    for fmt, ext in (("PNG", "png"), ("WEBP", "webp"), ("TIFF", "tif")):
        buf = io.BytesIO()
        pics[0].save(buf, fmt, exif=blobs[1] if blobs else b"")
        seeds[f"seed.{ext}"] = buf.getvalue()
    for real in ("6.png", "DudleyLeavittUtah.tiff"):
        p = EXIF_DIR / real
        if p.exists():
            buf = io.BytesIO()
            _small(p).save(buf, "PNG" if real.endswith("png") else "TIFF")
            seeds[real] = buf.getvalue()
    for p in EXIF_DIR.glob("*.webp"):
        buf = io.BytesIO()
        _small(p).save(buf, "WEBP")
        seeds[p.name] = buf.getvalue()
    from pillow_heif import from_pillow

    buf = io.BytesIO()
    from_pillow(pics[1]).save(buf, quality=50)
    seeds["seed.heic"] = buf.getvalue()
    buf = io.BytesIO()
    pics[2].convert("P").save(buf, "GIF")
    seeds["seed.gif"] = buf.getvalue()
    return seeds


def plain_jpeg() -> bytes:
    buf = io.BytesIO()
    _small(sorted((COCO_DIR / "images" / "train2017").glob("*.jpg"))[0]).save(buf, "JPEG")
    return buf.getvalue()


# --- a raw TIFF/EXIF writer (any tag, any type, any count: wrong types on purpose) -----------

TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}
Entry = tuple[int, int, int, bytes]  # tag, type, count, value bytes (as stored)


def tiff(ifd0: list[Entry], exif: list[Entry], gps: list[Entry]) -> bytes:
    """A little-endian TIFF block with IFD0 → Exif IFD and GPS IFD pointers."""
    ifds = [list(ifd0), list(exif), list(gps)]
    sizes = [2 + 12 * (len(e) + (2 if k == 0 else 0)) + 4 for k, e in enumerate(ifds)]
    starts = [8]
    for s in sizes[:-1]:
        starts.append(starts[-1] + s)
    data_at = starts[-1] + sizes[-1]
    ifds[0] += [
        (0x8769, 4, 1, struct.pack("<I", starts[1])),
        (0x8825, 4, 1, struct.pack("<I", starts[2])),
    ]
    out = bytearray(b"II*\x00" + struct.pack("<I", 8))
    data = bytearray()
    for entries in ifds:
        block = bytearray(struct.pack("<H", len(entries)))
        for tag, typ, count, value in sorted(entries, key=lambda e: e[0]):
            if len(value) <= 4:
                field_ = value.ljust(4, b"\x00")
            else:
                field_ = struct.pack("<I", data_at + len(data))
                data += value
                if len(data) % 2:
                    data += b"\x00"
            block += struct.pack("<HHI", tag, typ, count) + field_
        out += block + b"\x00\x00\x00\x00"
    return bytes(out + data)


def with_app1(jpeg: bytes, payload: bytes) -> bytes:
    """jpeg with an APP1 segment right after SOI (payload cut to fit one segment)."""
    payload = payload[:65533]
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


# --- JPEG segments and PNG chunks -------------------------------------------------------------


def jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, start, end) of each segment before the entropy-coded data (SOS included)."""
    segs, i = [], 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        segs.append((marker, i, i + 2 + length))
        if marker == 0xDA:
            break
        i += 2 + length
    return segs


def png_chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, start, end) of each PNG chunk."""
    out, i = [], 8
    while i + 8 <= len(data):
        length = struct.unpack(">I", data[i : i + 4])[0]
        end = i + 12 + length
        out.append((data[i + 4 : i + 8], i, end))
        if end > len(data):
            break
        i = end
    return out


def png_chunk(kind: bytes, body: bytes, crc_ok: bool = True) -> bytes:
    crc = zlib.crc32(kind + body) if crc_ok else zlib.crc32(kind + body) ^ 0xDEADBEEF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc & 0xFFFFFFFF)


def png_with_dims(width: int, height: int, crc_ok: bool = True) -> bytes:
    """A PNG whose IHDR declares these dimensions, followed by a tiny IDAT (a bomb header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr, crc_ok)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def jpeg_with_dims(jpeg: bytes, width: int, height: int) -> bytes:
    """jpeg with its SOF0/SOF2 frame header declaring other dimensions."""
    out = bytearray(jpeg)
    for marker, start, _end in jpeg_segments(jpeg):
        if marker in (0xC0, 0xC1, 0xC2):
            struct.pack_into(">HH", out, start + 5, height, width)
    return bytes(out)


def slow_png(chunks: int) -> bytes:
    """A valid 1×1 PNG with `chunks` empty private chunks before its pixels: Pillow reads each
    one at open (about 6 µs a chunk), so a million make a slow file of 12 MB."""
    buf = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buf, "PNG")
    png = buf.getvalue()
    return png[:33] + png_chunk(b"atWs", b"") * chunks + png[33:]
