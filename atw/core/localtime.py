"""Capture time: the UTC offset of a photo's wall-clock time, where it came from, and its instant.

A camera writes the local wall-clock time (EXIF DateTimeOriginal) and often no offset. The
offset is resolved in this order, and the step that gave it is recorded as `offset_source`:

1. "exif": the EXIF OffsetTime… tag that matches the chosen date tag (e.g. "+01:00");
2. "gps":  the GPS clock. GPSDateStamp + GPSTimeStamp are UTC, so local − GPS is the offset of
   the camera's clock, rounded to a quarter hour. It is rejected (next step) when the GPS date
   is impossible, or the difference is more than GPS_TOLERANCE away from a quarter hour (a
   stale fix, or a clock that is simply wrong), or the rounded offset is not one in use
   (OFFSETS_IN_USE: beyond −12:00…+14:00, or a "+05:15" that no zone has);
3. "zone": the IANA time zone at the photo's position (from the gazetteer) at that local time,
   daylight saving included, via zoneinfo;
4. "none": the time stays a wall-clock time without an instant.

Each step that has no usable answer falls to the next; nothing here raises on bad metadata.

A photo with no date in its metadata gets its file's modification time, read in FILE_TIME_ZONE
(atw.core.clock.file_time): that is an instant, so its offset is that zone's and its source is
"file" (photo_time); such a time is marked estimated and never resolved by the steps above.

photo_time() gives the stored columns (atw.core.schema.Photo): utc_offset, offset_source,
taken_at_utc, and sort_time = the instant where there is one, else the wall-clock time. An
instant is kept only within MAX_OFFSET of the wall-clock time, so |sort_time − taken_at| ≤ 14 h
for every photo: a local-date range on taken_at is inside the same range widened by SORT_SLACK
on sort_time, which lets one index ordered by sort_time answer date filters too.

Local times the zone makes ambiguous or impossible are resolved deliberately, with fold=0:
- a repeated hour (autumn, clocks go back: 02:30 happens twice) is read as its FIRST
  occurrence, still on summer time (the earlier instant);
- a skipped hour (spring, clocks go forward: 02:30 never happens) is read with the offset in
  force BEFORE the change, as a camera that was not yet moved forward would show it
  (02:30 at +01:00 = 01:30 UTC, the instant the corrected clock calls 03:30).
`zone_offset` reports which case applied.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_OFFSET = timedelta(hours=14)  # the widest offsets in use: −12:00 … +14:00
QUARTER_HOUR = timedelta(minutes=15)
# How far local − GPS may be from a quarter hour and still count: covers a camera clock that
# drifted a little and a GPS time stamp taken a moment before the shutter.
GPS_TOLERANCE = timedelta(minutes=3)
# GPS time starts on 1980-01-06; a GPS date before that cannot come from a satellite.
GPS_EPOCH = date(1980, 1, 6)

SOURCES = ("exif", "gps", "zone", "file", "none")
# sort_time never differs from the wall-clock taken_at by more than this (see photo_time).
SORT_SLACK = MAX_OFFSET
# Bump when the rules of this module change what is stored: the places stage's provenance
# (pipelines/places.py) includes it, so the next index run re-resolves every photo.
TIME_RULES = 1

# Every UTC offset used by any IANA zone since 2000 (standard or daylight time), in minutes:
# the whole hours −12…+14 and the fractional ones below. An EXIF or GPS-derived offset outside
# this set is not a real offset (a wrong clock, a stale fix) and falls to the next step.
OFFSETS_IN_USE = frozenset(
    [h * 60 for h in range(-12, 15)]
    + [
        -570,  # −09:30 Marquesas
        -270,  # −04:30 Venezuela 2007–2016
        -210,  # −03:30 Newfoundland
        -150,  # −02:30 Newfoundland summer
        210,  # +03:30 Iran
        270,  # +04:30 Afghanistan (Iran summer until 2022)
        330,  # +05:30 India, Sri Lanka
        345,  # +05:45 Nepal
        390,  # +06:30 Myanmar, Cocos
        510,  # +08:30 North Korea 2015–2018
        525,  # +08:45 Eucla
        570,  # +09:30 central Australia
        630,  # +10:30 Lord Howe, Adelaide summer
        690,  # +11:30 Norfolk until 2015
        765,  # +12:45 Chatham
        825,  # +13:45 Chatham summer
    ]
)

_OFFSET_RE = re.compile(r"^\s*([+-])(\d{1,2}):?(\d{2})\s*$")
_DATE_RE = re.compile(r"^\s*(\d{4})[:\-/](\d{1,2})[:\-/](\d{1,2})\s*$")
_TIME_RE = re.compile(r"^\s*(\d{1,2}):(\d{1,2}):(\d{1,2}(?:\.\d+)?)\s*(?:Z|UTC)?\s*$")


class LocalTime(NamedTuple):
    """The outcome: offset "+HH:MM" (None without one), its source, and the UTC instant
    (a naive datetime in UTC, None without an offset)."""

    utc_offset: str | None
    offset_source: str
    taken_at_utc: datetime | None


class ZoneOffset(NamedTuple):
    """The offset of a zone at a local time, and how the local time was read:
    "normal", "ambiguous" (repeated hour: first occurrence taken) or "gap" (skipped hour:
    the offset before the change taken)."""

    offset: timedelta
    case: str


def format_offset(offset: timedelta) -> str:
    """timedelta → "+HH:MM" / "-HH:MM" (seconds are dropped; offsets here are whole minutes)."""
    minutes = round(offset.total_seconds() / 60)
    sign = "-" if minutes < 0 else "+"
    h, m = divmod(abs(minutes), 60)
    return f"{sign}{h:02d}:{m:02d}"


def is_real_offset(offset: timedelta) -> bool:
    """One of OFFSETS_IN_USE (so within −12:00…+14:00, in whole minutes)."""
    if offset % timedelta(minutes=1):
        return False
    return int(offset.total_seconds() // 60) in OFFSETS_IN_USE


def parse_offset(text: str | None) -> timedelta | None:
    """An EXIF OffsetTime value ("+05:30", "-03:00", "+0100") → timedelta; None when empty,
    malformed, or not an offset in use (beyond −12:00…+14:00, "+05:15"): not trusted."""
    if not text:
        return None
    m = _OFFSET_RE.match(text.replace("\x00", ""))
    if not m:
        return None
    hours, minutes = int(m.group(2)), int(m.group(3))
    if minutes >= 60:
        return None
    offset = timedelta(hours=hours, minutes=minutes)
    if m.group(1) == "-":
        offset = -offset
    return offset if is_real_offset(offset) else None


def _number(value: object) -> float:
    """A rational from Pillow (IFDRational), a (num, den) pair, an int/float or a string."""
    if isinstance(value, tuple) and len(value) == 2:
        num, den = value
        return float(num) / float(den)
    return float(value)  # type: ignore[arg-type]


def parse_gps_clock(date_stamp: object, time_stamp: object) -> datetime | None:
    """GPSDateStamp ("2019:06:01") + GPSTimeStamp ((h, m, s) rationals, or "12:34:56.5")
    → naive UTC datetime; None when either is missing, malformed or impossible (a date
    before the GPS epoch, month 13, 24:00:00, seconds ≥ 60, …)."""
    if date_stamp is None or time_stamp is None:
        return None
    if isinstance(date_stamp, bytes):
        date_stamp = date_stamp.decode("ascii", "replace")
    m = _DATE_RE.match(str(date_stamp).replace("\x00", ""))
    if not m:
        return None
    try:
        day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if isinstance(time_stamp, bytes):
            time_stamp = time_stamp.decode("ascii", "replace")
        if isinstance(time_stamp, str):
            t = _TIME_RE.match(time_stamp.replace("\x00", ""))
            if not t:
                return None
            h, mi, s = float(t.group(1)), float(t.group(2)), float(t.group(3))
        else:
            h, mi, s = (_number(v) for v in time_stamp)  # type: ignore[attr-defined]
    except (ValueError, TypeError, ZeroDivisionError, OverflowError):
        return None
    if day < GPS_EPOCH or not (0 <= h < 24 and 0 <= mi < 60 and 0 <= s < 60):
        return None
    return datetime.combine(day, datetime.min.time()) + timedelta(hours=h, minutes=mi, seconds=s)


def gps_offset(local: datetime, gps_utc: datetime | None) -> timedelta | None:
    """The offset local − GPS rounded to a quarter hour; None when the difference is not within
    GPS_TOLERANCE of a quarter hour or the offset is not one in use."""
    if gps_utc is None:
        return None
    diff = local - gps_utc
    quarters = round(diff / QUARTER_HOUR)
    offset = quarters * QUARTER_HOUR
    if abs(diff - offset) > GPS_TOLERANCE or not is_real_offset(offset):
        return None
    return offset


def zone_offset(local: datetime, time_zone: str | None) -> ZoneOffset | None:
    """The zone's offset at a local wall-clock time (DST included), None for an unknown zone.
    Repeated and skipped hours are read with fold=0, as the module docstring explains."""
    if not time_zone:
        return None
    try:
        tz = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
    first = local.replace(tzinfo=tz, fold=0)
    second = local.replace(tzinfo=tz, fold=1)
    off0, off1 = first.utcoffset(), second.utcoffset()
    if off0 is None or off1 is None:
        return None
    if off0 == off1:
        case = "normal"
    else:
        # repeated if the fold=0 instant shows this wall time again; skipped if it does not
        utc0 = (local - off0).replace(tzinfo=UTC)
        back = utc0.astimezone(tz).replace(tzinfo=None)
        case = "ambiguous" if back == local else "gap"
    return ZoneOffset(off0, case)


def valid_gps_clock(value: datetime | None) -> datetime | None:
    """A GPS clock already read as a naive UTC datetime (the stored Photo.gps_at, an XMP
    exif:GPSTimeStamp), or None when it is before the GPS epoch (no satellite gave it)."""
    if value is None or value.tzinfo is not None or value.date() < GPS_EPOCH:
        return None
    return value


def resolve(
    local: datetime | None,
    *,
    exif_offset: str | None = None,
    gps_date: object = None,
    gps_time: object = None,
    time_zone: str | None = None,
    gps_at: datetime | None = None,
) -> LocalTime:
    """Resolve the offset of a naive local capture time (the four steps of the module doc).

    `exif_offset` is the OffsetTime… tag matching the chosen date tag; `gps_date`/`gps_time` are
    GPSDateStamp/GPSTimeStamp as read, or `gps_at` the GPS clock already read (naive UTC);
    `time_zone` is the IANA zone at the photo's position.
    An aware `local` is rejected with ValueError (its offset would have no recorded source)."""
    if local is None:
        return LocalTime(None, "none", None)
    if local.tzinfo is not None:
        raise ValueError("resolve() takes the naive wall-clock time; pass an offset separately")

    def gps_clock() -> datetime | None:
        if gps_at is not None:
            return valid_gps_clock(gps_at)
        return parse_gps_clock(gps_date, gps_time)

    steps = (
        ("exif", lambda: parse_offset(exif_offset)),
        ("gps", lambda: gps_offset(local, gps_clock())),
        ("zone", lambda: _zone_only(local, time_zone)),
    )
    for source, step in steps:
        offset = step()
        if offset is not None:
            return LocalTime(format_offset(offset), source, local - offset)
    return LocalTime(None, "none", None)


def _zone_only(local: datetime, time_zone: str | None) -> timedelta | None:
    """The zone's offset rounded to the minute. Not held to quarter hours: before ~1970 zones had
    others (Amsterdam +00:20 until 1937, Liberia −00:44 until 1972), and tzdata knows them."""
    z = zone_offset(local, time_zone)
    if z is None or abs(z.offset) > MAX_OFFSET:
        return None
    return timedelta(minutes=round(z.offset.total_seconds() / 60))


def photo_time(
    taken_at: datetime | None,
    *,
    estimated: bool = False,
    file_offset: str | None = None,
    exif_offset: str | None = None,
    gps_at: datetime | None = None,
    time_zone: str | None = None,
) -> dict[str, Any]:
    """The time columns of a Photo row: utc_offset, offset_source, taken_at_utc, sort_time.

    `estimated` photos (no date in the metadata: the file's modification time in FILE_TIME_ZONE)
    take `file_offset`, that zone's offset at the time, as an exact one (source "file"); the
    others are resolved from their stored facts (`exif_offset`, the GPS clock `gps_at`) and the
    zone at their position (`time_zone`). Never raises on bad values: they fall through."""
    if taken_at is None:
        return {
            "utc_offset": None,
            "offset_source": "none",
            "taken_at_utc": None,
            "sort_time": None,
        }
    if estimated:
        off = _file_offset(file_offset)
        lt = (
            LocalTime(format_offset(off), "file", taken_at - off)
            if off is not None
            else LocalTime(None, "none", None)
        )
    else:
        lt = resolve(taken_at, exif_offset=exif_offset, gps_at=gps_at, time_zone=time_zone)
    utc = lt.taken_at_utc
    if utc is not None and abs(taken_at - utc) > SORT_SLACK:  # cannot happen: a guard
        lt, utc = LocalTime(None, "none", None), None
    return {
        "utc_offset": lt.utc_offset,
        "offset_source": lt.offset_source,
        "taken_at_utc": utc,
        "sort_time": utc if utc is not None else taken_at,
    }


def _file_offset(text: str | None) -> timedelta | None:
    """The offset clock.file_time stored ("+01:00"): any whole-minute offset within ±14:00, not
    only those in use today (the zone's own rules gave it, at that instant)."""
    m = _OFFSET_RE.match(text or "")
    if not m or int(m.group(3)) >= 60:
        return None
    off = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
    off = -off if m.group(1) == "-" else off
    return off if abs(off) <= MAX_OFFSET else None
