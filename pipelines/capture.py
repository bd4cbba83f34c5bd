"""Capture time and position beyond EXIF: XMP, IPTC and PNG text dates, XMP GPS, and which wins."""

# The rules (tests/test_capture_time.py checks them against exiftool on real and written files):
#
# Date: the first of these that holds a valid date-time wins, with the UTC offset written WITH
#   THAT VALUE (never one borrowed from another field):
#     1. EXIF DateTimeOriginal            + EXIF OffsetTimeOriginal
#     2. XMP exif:DateTimeOriginal        + its own zone designator ("+02:00", "Z")
#     3. XMP photoshop:DateCreated        + its designator
#     4. IPTC DateCreated + TimeCreated   + TimeCreated's "±HHMM"
#     5. EXIF DateTimeDigitized           + EXIF OffsetTimeDigitized
#     6. XMP xmp:CreateDate               + its designator
#     7. EXIF DateTime (IFD0)             + EXIF OffsetTime
#     8. PNG text chunk "Creation Time"   + its zone, if written
#     9. none: the run falls back to the file's modification time (pipelines/worker.py).
#   Why this order: 1–4 are the same fact, "when the picture was taken" (the Metadata Working
#   Group's DateTimeOriginal), in the container a camera writes first; 5–6 are "when it was
#   digitised" (same as 1 for a camera, the scan date for a scanned print); 7 is when the file
#   was last changed (an edit: IMG_9398-2.jpg has DateTime 2015-08-02, the editing day, but
#   photoshop:DateCreated 2015-07-03, the day it was taken); 8 is what PNG writers set.
#   A designator is used only with its own value: sydney_opera_house.jpg has EXIF 20:55:57
#   +10:00 (the GPS clock agrees) and an XMP copy of the same time marked +02:00 by software
#   in another zone; taking that +02:00 for the EXIF date would move the photo by 8 hours.
#   "Z" means +00:00. A value with a date but no time (IPTC without TimeCreated, XMP "2015-06")
#   is not a capture time and is skipped. Years outside 1826..2100 are skipped (as in EXIF).
# XMP: the packet Pillow hands over (JPEG APP1, PNG iTXt, WebP, TIFF tag 700, HEIF), parsed
#   with the standard library's expat, which since 2.4.1 refuses entity expansion bombs; a
#   packet declaring a DOCTYPE or an ENTITY, or larger than MAX_XMP bytes, is ignored, and
#   with an older expat no XMP is read at all. Properties are read by namespace URI, as
#   attributes of any rdf:Description or as its child elements (the first rdf:li of a list).
# XMP GPS, used only when EXIF has no position: exif:GPSLatitude/GPSLongitude as "DDD,MM,SSk"
#   or "DDD,MM.mmk" (k = N/S/E/W; a missing letter takes exif:GPSLatitudeRef/LongitudeRef, else
#   the number's sign), then the same checks as EXIF (|lat| ≤ 90, |lon| ≤ 180, not 0,0).
#   exif:GPSTimeStamp (the XMP form of GPSDateStamp + GPSTimeStamp, UTC) is the GPS clock when
#   EXIF has none.
# IPTC: Pillow's IptcImagePlugin (JPEG APP13, TIFF tag 33723). PNG: text chunks before the
#   image data (Pillow reads those when it opens the file; exiftool and Pillow write them there).
# Nothing here raises on bad metadata: a malformed value is treated as absent.

from __future__ import annotations

import email.utils
import pyexpat
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree

from PIL import Image

from atw.core.localtime import valid_gps_clock
from pipelines.exif import MAX_YEAR, MIN_YEAR, ExifFacts, parse_datetime, parse_offset

MAX_XMP = 2 * 1024 * 1024
SAFE_EXPAT = pyexpat.version_info >= (2, 4, 1)

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
NS = {
    "exif": "http://ns.adobe.com/exif/1.0/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
}
XMP_KEYS = (
    "exif:DateTimeOriginal",
    "photoshop:DateCreated",
    "xmp:CreateDate",
    "exif:GPSLatitude",
    "exif:GPSLongitude",
    "exif:GPSLatitudeRef",
    "exif:GPSLongitudeRef",
    "exif:GPSTimeStamp",
)
_CLARK = {f"{{{NS[k.split(':')[0]]}}}{k.split(':')[1]}": k for k in XMP_KEYS}

_STAMP_RE = re.compile(
    r"(\d{4})[:-](\d{2})[:-](\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"\s*(Z|[+-]\d{1,2}:?\d{2})?",
    re.ASCII,
)
_XMP_GPS_RE = re.compile(r"([+-]?\d+(?:\.\d+)?)(?:,(\d+(?:\.\d+)?))?(?:,(\d+(?:\.\d+)?))?([NSEW])?")


@dataclass(frozen=True)
class Capture:
    """When and where, from every metadata block: the chosen date (naive wall clock as written),
    the offset written with it, which field gave it; the position and the GPS clock."""

    taken_at: datetime | None = None
    offset: str | None = None  # "+HH:MM" written with the chosen value (valid syntax, ≤ 14:00)
    date_source: str | None = None  # "EXIF DateTimeOriginal", "XMP photoshop:DateCreated", …
    lat: float | None = None
    lon: float | None = None
    position_source: str | None = None  # "EXIF" | "XMP"
    gps_at: datetime | None = None  # GPS clock, naive UTC


def _safe(read: Callable[[], Any], default: Any = None) -> Any:
    try:
        return read()
    except Exception:
        return default


def parse_stamp(value: object) -> tuple[datetime, str | None] | None:
    """An XMP/PNG date-time ("2010-04-13T09:37:22+02:00", "2015-07-03T11:40:15.31", EXIF-style
    colons too) → (naive wall clock as written, "+HH:MM" or None); None without a full time."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    m = _STAMP_RE.fullmatch(value.strip(" \t\r\n\x00"))
    if m is None:
        return None
    y, mo, d, h, mi = (int(g) for g in m.groups()[:5])
    sec = int(m[6] or 0)
    micro = int((m[7] or "0")[:6].ljust(6, "0"))
    if not MIN_YEAR <= y <= MAX_YEAR:
        return None
    try:
        when = datetime(y, mo, d, h, mi, sec, micro)
    except ValueError:
        return None
    return when, _designator(m[8])


def _designator(text: str | None) -> str | None:
    """A zone designator → "+HH:MM" (Z is +00:00; "+1:00" is read as +01:00)."""
    if not text:
        return None
    if text == "Z":
        return "+00:00"
    sign, rest = text[0], text[1:].replace(":", "")
    return parse_offset(f"{sign}{rest[:-2].zfill(2)}:{rest[-2:]}")


# --- XMP -----------------------------------------------------------------------------------


def read_xmp(img: Image.Image) -> dict[str, str]:
    """The XMP properties atw uses ("exif:DateTimeOriginal", …) → their text; {} if none."""
    raw = img.info.get("xmp")
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if not isinstance(raw, bytes) or not raw or not SAFE_EXPAT or len(raw) > MAX_XMP:
        return {}
    raw = raw.strip(b" \t\r\n\x00")
    head = raw.upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        return {}
    root = _safe(lambda: ElementTree.fromstring(raw))
    if root is None:
        return {}
    found: dict[str, str] = {}
    for desc in root.iter(f"{{{RDF}}}Description"):
        for name, value in _properties(desc):
            key = _CLARK.get(name)
            if key is not None and key not in found and value.strip():
                found[key] = value.strip()
    return found


def _properties(desc: ElementTree.Element) -> Iterator[tuple[str, str]]:
    """(qualified name, text) of a Description's properties: attributes, then child elements
    (a simple value, or the first item of an rdf:Alt/Seq/Bag)."""
    yield from desc.attrib.items()
    for child in desc:
        text = child.text or ""
        if not text.strip():
            li = child.find(f".//{{{RDF}}}li")
            text = (li.text or "") if li is not None else ""
        yield child.tag, text


def xmp_degrees(value: str | None, ref: str | None, negative: str) -> float | None:
    """ "38,24.31168800S" / "38,24,18.7S" / "-38.405" → signed decimal degrees, or None."""
    if not value:
        return None
    m = _XMP_GPS_RE.fullmatch(value.strip().replace(" ", "").upper())
    if m is None:
        return None
    deg, mins, secs = float(m[1]), float(m[2] or 0), float(m[3] or 0)
    if mins >= 60 or secs >= 60:
        return None
    total = abs(deg) + mins / 60 + secs / 3600
    letter = m[4] or (ref or "").strip()[:1].upper()
    if letter:
        return -total if letter == negative else total
    return -total if deg < 0 or m[1].startswith("-") else total


def xmp_position(xmp: dict[str, str]) -> tuple[float | None, float | None]:
    lat = xmp_degrees(xmp.get("exif:GPSLatitude"), xmp.get("exif:GPSLatitudeRef"), "S")
    lon = xmp_degrees(xmp.get("exif:GPSLongitude"), xmp.get("exif:GPSLongitudeRef"), "W")
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180 or (lat == 0 and lon == 0):
        return None, None
    return lat, lon


def xmp_gps_clock(value: str | None) -> datetime | None:
    """exif:GPSTimeStamp ("2015-11-20T03:20:18Z") → naive UTC; a value without a designator
    is UTC already (the GPS clock always is)."""
    stamp = parse_stamp(value)
    if stamp is None:
        return None
    when, offset = stamp
    if offset:
        sign = -1 if offset[0] == "-" else 1
        when -= sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
    return valid_gps_clock(when)


# --- IPTC and PNG ----------------------------------------------------------------------------


def _iptc_text(value: object) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return value.strip(" \x00") if isinstance(value, str) else None


def iptc_stamp(img: Image.Image) -> tuple[datetime, str | None] | None:
    """IPTC IIM DateCreated (2:55, "CCYYMMDD") + TimeCreated (2:60, "HHMMSS±HHMM")."""
    from PIL import IptcImagePlugin

    info = _safe(lambda: IptcImagePlugin.getiptcinfo(img))
    if not info:
        return None
    day, clock = _iptc_text(info.get((2, 55))), _iptc_text(info.get((2, 60)))
    if not day or not clock or not re.fullmatch(r"\d{8}", day, re.ASCII):
        return None
    m = re.fullmatch(r"(\d{2})(\d{2})(\d{2})([+-]\d{4})?", clock, re.ASCII)
    if m is None:
        return None
    text = f"{day[:4]}:{day[4:6]}:{day[6:]} {m[1]}:{m[2]}:{m[3]}"
    when = parse_datetime(text)
    return (when, parse_offset(m[4]) if m[4] else None) if when else None


def png_stamp(img: Image.Image) -> tuple[datetime, str | None] | None:
    """The PNG "Creation Time" text chunk: EXIF-style, ISO 8601 or RFC 1123 (the PNG book's
    suggestion, "Sat, 01 Jun 2019 12:34:56 GMT")."""
    if img.format != "PNG":
        return None
    value = img.info.get("Creation Time")
    if not isinstance(value, str) or not value.strip():
        return None
    stamp = parse_stamp(value)
    if stamp is not None:
        return stamp
    parsed = _safe(lambda: email.utils.parsedate_to_datetime(value.strip()))
    if parsed is None or not MIN_YEAR <= parsed.year <= MAX_YEAR:
        return None
    off = parsed.utcoffset()
    offset = None
    if off is not None:
        minutes = int(off.total_seconds() // 60)
        offset = parse_offset(
            f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
        )
    return parsed.replace(tzinfo=None), offset


# --- the choice --------------------------------------------------------------------------------


def capture(img: Image.Image, ex: ExifFacts) -> Capture:
    """Every block read once, the rules at the top of this module applied; never raises."""
    xmp: dict[str, str] = _safe(lambda: read_xmp(img), {})

    def exif_tag(tag: str) -> Callable[[], tuple[datetime, str | None] | None]:
        return lambda: (ex.taken_at, ex.utc_offset) if ex.time_tag == tag and ex.taken_at else None

    def xmp_key(key: str) -> Callable[[], tuple[datetime, str | None] | None]:
        return lambda: parse_stamp(xmp.get(key))

    candidates = (
        ("EXIF DateTimeOriginal", exif_tag("DateTimeOriginal")),
        ("XMP exif:DateTimeOriginal", xmp_key("exif:DateTimeOriginal")),
        ("XMP photoshop:DateCreated", xmp_key("photoshop:DateCreated")),
        ("IPTC DateCreated", lambda: iptc_stamp(img)),
        ("EXIF DateTimeDigitized", exif_tag("DateTimeDigitized")),
        ("XMP xmp:CreateDate", xmp_key("xmp:CreateDate")),
        ("EXIF DateTime", exif_tag("DateTime")),
        ("PNG Creation Time", lambda: png_stamp(img)),
    )
    taken_at, offset, source = None, None, None
    for name, read in candidates:
        stamp = _safe(read)
        if stamp is not None:
            (taken_at, offset), source = stamp, name
            break
    lat, lon, where = ex.lat, ex.lon, "EXIF" if ex.lat is not None else None
    if lat is None:
        lat, lon = _safe(lambda: xmp_position(xmp), (None, None))
        where = "XMP" if lat is not None else None
    gps_at = ex.gps_at
    if gps_at is None:
        gps_at = _safe(lambda: xmp_gps_clock(xmp.get("exif:GPSTimeStamp")))
    return Capture(taken_at, offset, source, lat, lon, where, gps_at)
