"""Pure EXIF reading: opened image → capture time (+ UTC offset), lat/lon, orientation, camera."""

# The rules (product spec; tests/exiftool_ref.py re-implements them independently):
#
# Capture time: DateTimeOriginal (0x9003), else DateTimeDigitized (0x9004), else DateTime (0x0132,
#   IFD0 only); the first tag holding a valid date wins. 0x9003/0x9004 and the offset tags are read
#   from the Exif IFD, falling back to a misplaced copy in IFD0 (Photoshop writes 0x9004 there).
#   The UTC offset comes only from the tag matching the winner: OffsetTimeOriginal (0x9011),
#   OffsetTimeDigitized (0x9012), OffsetTime (0x9010). taken_at is the naive local time as recorded.
# Valid date: ASCII "YYYY:MM:DD HH:MM:SS" (or "-" between date parts, or "T" before the time),
#   surrounding whitespace/NULs ignored, optional fractional seconds (kept, to microseconds) and
#   optional trailing "Z" or "±HH[:]MM" (ignored: only the offset tags give the offset). The year
#   must lie in MIN_YEAR..MAX_YEAR, 1826 (the first surviving photograph) to 2100: this rejects
#   0000:00:00 and camera-bug years such as 1601. Month 13, day 32, Feb 30, hour 24/25, minute or
#   second 60, blank, garbage and non-ASCII bytes are not dates; the next tag is tried.
# Valid offset: "±HH:MM" or "±HHMM", at most 14:00 with minutes < 60, normalised to "+HH:MM"
#   ("-00:00" becomes "+00:00"); anything else ("   :  ", "+25:00", "Z", "0200") is None.
# GPS: GPSLatitude/GPSLongitude are 1-3 rationals (degrees, minutes, seconds) → decimal degrees.
#   The ref gives the hemisphere: "S" (latitude) or "W" (longitude), any case, makes it -abs,
#   "N"/"E" +abs. Some writers store signed rationals with a negative value *and* the ref: the
#   sign of the numbers is only used when the ref is missing or another letter (a value is
#   negative when any of its parts is; the parts add up as magnitudes: -9° 8' is -9.1333).
#   NaN (0/0 rationals), infinite, |lat| > 90, |lon| > 180 and exactly (0, 0) mean no position;
#   if either coordinate is unusable both are None.
#   GPSAltitude in metres, negated when GPSAltitudeRef is 1 (below sea level); NaN/inf → None.
#   Altitude is read independently of the position; outside MIN_ALT..MAX_ALT metres (the Dead
#   Sea shore to airliner height, with margin) it is a bug such as a negative number stored
#   unsigned (4294967284 for -12), so None.
# GPS clock: GPSDateStamp + GPSTimeStamp, which are UTC, as one naive UTC datetime (gps_at); None
#   when either is missing, malformed or impossible (atw.core.localtime.parse_gps_clock: a date
#   before the GPS epoch, 24:00:00, …). Kept even without a position: it dates the instant.
# Orientation: IFD0 tag 0x0112 as recorded in the file, valid only as an integer 1..8. Pillow's
#   fallback to XMP tiff:Orientation is bypassed. pillow-heif rewrites the tag to 1 in its copy
#   (it means its decoded pixels need no rotation) and keeps the recorded value in
#   info["original_orientation"], which is what is reported here (read by
#   atw.core.media.exif_orientation, which the photo viewer shares).
# Text (make, model, lens, software): cut at the first NUL, whitespace runs collapsed to one space,
#   other control characters dropped, at most MAX_TEXT characters, empty → None. The bytes must be
#   UTF-8 (Pillow hands ASCII tags over decoded as latin-1, so they are re-read); else None.
# Nothing here raises on bad EXIF: a malformed tag is treated as absent.

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from PIL import Image

from atw.core.localtime import parse_gps_clock
from atw.core.media import exif_orientation

MIN_YEAR = 1826
MAX_YEAR = 2100
MIN_ALT, MAX_ALT = -1000.0, 20000.0
MAX_OFFSET_MINUTES = 14 * 60
MAX_TEXT = 128

IFD_EXIF = 0x8769
IFD_GPS = 0x8825

TAG_MAKE, TAG_MODEL, TAG_SOFTWARE, TAG_DATETIME = 0x10F, 0x110, 0x131, 0x132
TAG_DATETIME_ORIGINAL, TAG_DATETIME_DIGITIZED = 0x9003, 0x9004
TAG_OFFSET_TIME, TAG_OFFSET_TIME_ORIGINAL, TAG_OFFSET_TIME_DIGITIZED = 0x9010, 0x9011, 0x9012
TAG_EXPOSURE_TIME, TAG_F_NUMBER, TAG_ISO, TAG_FOCAL_LENGTH = 0x829A, 0x829D, 0x8827, 0x920A
TAG_FOCAL_LENGTH_35MM, TAG_LENS_MAKE, TAG_LENS_MODEL = 0xA405, 0xA433, 0xA434
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON, GPS_ALT_REF, GPS_ALT = 1, 2, 3, 4, 5, 6
GPS_TIME, GPS_DATE = 7, 29

_DATE_RE = re.compile(
    r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"
    r"\s*(?:Z|[+-]\d{2}:?\d{2})?",
    re.ASCII,
)
_OFFSET_RE = re.compile(r"([+-])(\d{2}):?(\d{2})", re.ASCII)
_STRIP = " \t\r\n\x00"

Extras = dict[str, str | float | int]


@dataclass(frozen=True)
class ExifFacts:
    """What atw keeps from a photo's EXIF; every field is None when absent or invalid."""

    taken_at: datetime | None = None  # naive local wall-clock time as recorded
    utc_offset: str | None = None  # "+02:00" / "-05:00", from the offset tag matching time_tag
    time_tag: str | None = None  # "DateTimeOriginal" | "DateTimeDigitized" | "DateTime"
    lat: float | None = None  # signed decimal degrees (south negative)
    lon: float | None = None  # signed decimal degrees (west negative)
    altitude: float | None = None  # metres, negative below sea level
    orientation: int | None = None  # 1..8 as recorded in EXIF (see the HEIF note above)
    camera_make: str | None = None
    camera_model: str | None = None
    gps_at: datetime | None = None  # the GPS clock (GPSDateStamp + GPSTimeStamp), naive UTC
    # lens_make, lens, iso, exposure_time ("1/250"), f_number, focal_length_mm,
    # focal_length_35mm, software: whichever are present and sane; JSON-serialisable
    extras: Extras = field(default_factory=dict)


def _ascii(value: object) -> str | None:
    """The value as stripped ASCII text, or None for non-text or non-ASCII values."""
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    if not isinstance(value, str) or not value.isascii():
        return None
    return value.strip(_STRIP)


def parse_datetime(value: object) -> datetime | None:
    """An EXIF date-time string (or bytes) → naive datetime, or None if it is not a real date."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None) if MIN_YEAR <= value.year <= MAX_YEAR else None
    text = _ascii(value)
    match = _DATE_RE.fullmatch(text) if text else None
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    micro = int((match[7] or "0")[:6].ljust(6, "0"))
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        return datetime(year, month, day, hour, minute, second, micro)
    except ValueError:
        return None


def parse_offset(value: object) -> str | None:
    """An EXIF OffsetTime* value → "+HH:MM", or None if it is not a real UTC offset."""
    text = _ascii(value)
    match = _OFFSET_RE.fullmatch(text) if text else None
    if match is None:
        return None
    hours, minutes = int(match[2]), int(match[3])
    if minutes >= 60 or hours * 60 + minutes > MAX_OFFSET_MINUTES:
        return None
    sign = "-" if match[1] == "-" and hours + minutes > 0 else "+"
    return f"{sign}{hours:02d}:{minutes:02d}"


def clean_text(value: object) -> str | None:
    """Make/model/lens text per the rules above, or None."""
    if isinstance(value, str):
        # Pillow decodes ASCII tags as latin-1; get the bytes back to read them as UTF-8
        with contextlib.suppress(UnicodeEncodeError):  # else it is already real text
            value = value.encode("latin-1")
    if isinstance(value, bytes):
        try:
            value = value.split(b"\x00", 1)[0].decode("utf-8")
        except UnicodeDecodeError:
            return None
    if not isinstance(value, str):
        return None
    kept = (
        " " if ch.isspace() else ch
        for ch in value.split("\x00", 1)[0]
        if ch.isspace() or (ch.isprintable() and ch != "\ufffd")
    )
    return " ".join("".join(kept).split())[:MAX_TEXT] or None


def _number(value: object) -> float | None:
    """A finite float from an int/float/IFDRational (a 1-tuple is unwrapped), else None."""
    if isinstance(value, tuple) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool | str | bytes):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _degrees(value: object) -> float | None:
    """GPS (degrees, minutes, seconds) rationals → decimal degrees, or None. The parts add up
    as magnitudes; the result is negative when any part is (a signed rational)."""
    parts = value if isinstance(value, tuple | list) else (value,)
    if not 1 <= len(parts) <= 3:
        return None
    total, negative = 0.0, False
    for index, part in enumerate(parts):
        number = _number(part)
        if number is None:
            return None
        total += abs(number) / 60**index
        negative = negative or number < 0
    return -total if negative else total


def _signed(degrees: float, ref: str, negative_ref: str, positive_ref: str) -> float:
    """The hemisphere from the ref (-abs / +abs); the value's own sign only without one."""
    if ref == negative_ref:
        return -abs(degrees)
    if ref == positive_ref:
        return abs(degrees)
    return degrees


def _ref(value: object) -> str:
    """A GPS hemisphere ref as one upper-case letter ("" when missing or unreadable)."""
    text = _ascii(value)
    return text[:1].upper() if text else ""


def _position(gps: Mapping[int, Any]) -> tuple[float | None, float | None]:
    lat, lon = _degrees(gps.get(GPS_LAT)), _degrees(gps.get(GPS_LON))
    if lat is None or lon is None:
        return None, None
    lat = _signed(lat, _ref(gps.get(GPS_LAT_REF)), "S", "N")
    lon = _signed(lon, _ref(gps.get(GPS_LON_REF)), "W", "E")
    if abs(lat) > 90 or abs(lon) > 180 or (lat == 0 and lon == 0):
        return None, None
    return lat, lon


def _altitude(gps: Mapping[int, Any]) -> float | None:
    altitude = _number(gps.get(GPS_ALT))
    if altitude is None:
        return None
    ref = gps.get(GPS_ALT_REF)
    if isinstance(ref, bytes | tuple):
        ref = ref[0] if ref else 0
    altitude = -altitude if ref == 1 and altitude else altitude  # no "-0.0"
    return altitude if MIN_ALT <= altitude <= MAX_ALT else None


def _first(parse: Callable[[object], Any], tag: int, *ifds: Mapping[int, Any]) -> Any:
    """The first value of tag, looked up in ifds in order, that parse accepts (else None)."""
    for ifd in ifds:
        parsed = parse(ifd.get(tag))
        if parsed is not None:
            return parsed
    return None


def _capture_time(
    ifd0: Mapping[int, Any], exif_ifd: Mapping[int, Any]
) -> tuple[datetime | None, str | None, str | None]:
    candidates = (
        ("DateTimeOriginal", TAG_DATETIME_ORIGINAL, TAG_OFFSET_TIME_ORIGINAL, (exif_ifd, ifd0)),
        ("DateTimeDigitized", TAG_DATETIME_DIGITIZED, TAG_OFFSET_TIME_DIGITIZED, (exif_ifd, ifd0)),
        ("DateTime", TAG_DATETIME, TAG_OFFSET_TIME, (ifd0,)),
    )
    for name, tag, offset_tag, ifds in candidates:
        taken_at = _first(parse_datetime, tag, *ifds)
        if taken_at is not None:
            return taken_at, _first(parse_offset, offset_tag, exif_ifd, ifd0), name
    return None, None, None


def _exposure(value: object) -> str | None:
    seconds = _number(value)
    if seconds is None or seconds <= 0:
        return None
    return f"{seconds:g}" if seconds >= 1 else f"1/{round(1 / seconds)}"


def _positive(value: object, convert: Callable[[float], float | int]) -> float | int | None:
    number = _number(value)
    return convert(number) if number is not None and number > 0 else None


def _extras(ifd0: Mapping[int, Any], exif_ifd: Mapping[int, Any]) -> Extras:
    found: dict[str, str | float | int | None] = {
        "lens_make": clean_text(exif_ifd.get(TAG_LENS_MAKE)),
        "lens": clean_text(exif_ifd.get(TAG_LENS_MODEL)),
        "iso": _positive(exif_ifd.get(TAG_ISO), int),
        "exposure_time": _exposure(exif_ifd.get(TAG_EXPOSURE_TIME)),
        "f_number": _positive(exif_ifd.get(TAG_F_NUMBER), lambda n: round(n, 1)),
        "focal_length_mm": _positive(exif_ifd.get(TAG_FOCAL_LENGTH), lambda n: round(n, 1)),
        "focal_length_35mm": _positive(exif_ifd.get(TAG_FOCAL_LENGTH_35MM), int),
        "software": clean_text(ifd0.get(TAG_SOFTWARE)),
    }
    return {key: value for key, value in found.items() if value is not None}


def _safe(read: Callable[[], Any], default: Any = None) -> Any:
    """Run one small reader; malformed EXIF of any kind means "absent"."""
    try:
        return read()
    except Exception:
        return default


def read_exif(image: Image.Image) -> ExifFacts:
    """Read ExifFacts from an opened image (JPEG, PNG eXIf, TIFF, WebP, HEIC); never raises."""
    exif = _safe(image.getexif)
    if exif is None:
        return ExifFacts()
    ifd0: Mapping[int, Any] = _safe(lambda: dict(exif.items()), {})
    exif_ifd: Mapping[int, Any] = _safe(lambda: exif.get_ifd(IFD_EXIF), {})
    gps: Mapping[int, Any] = _safe(lambda: exif.get_ifd(IFD_GPS), {})
    taken_at, utc_offset, time_tag = _safe(lambda: _capture_time(ifd0, exif_ifd), (None,) * 3)
    lat, lon = _safe(lambda: _position(gps), (None, None))
    return ExifFacts(
        taken_at=taken_at,
        utc_offset=utc_offset,
        time_tag=time_tag,
        lat=lat,
        lon=lon,
        altitude=_safe(lambda: _altitude(gps)),
        orientation=_safe(lambda: exif_orientation(image, exif)),
        camera_make=_safe(lambda: clean_text(ifd0.get(TAG_MAKE))),
        camera_model=_safe(lambda: clean_text(ifd0.get(TAG_MODEL))),
        extras=_safe(lambda: _extras(ifd0, exif_ifd), {}),
        gps_at=_safe(lambda: parse_gps_clock(gps.get(GPS_DATE), gps.get(GPS_TIME))),
    )
