"""Reference EXIF facts from exiftool, with atw's EXIF rules re-implemented on exiftool's values."""

# Deliberately independent of pipelines/exif.py (same rules, separate code, different EXIF parser),
# so a test comparing the two catches a bug in either. One exiftool run per call, with:
#   -n            raw values: dates and offsets as written, GPS as unsigned decimal degrees
#                 (refs "N"/"S"/"E"/"W" apart), 0/0 rationals as "undef" or "", numbers as numbers;
#   -a -G1        every copy of a tag, keyed by IFD ("ExifIFD:", "IFD0:", "GPS:"); IFD1 is ignored;
#   -EXIF:<tag>   EXIF-group tags only, so XMP, QuickTime and MakerNote values are never used;
#   -charset exif=Latin   text bytes reach us 1:1 (as Latin-1), so the UTF-8/ASCII rules can apply.
# The rules (same as pipelines/exif.py): date from DateTimeOriginal, else CreateDate (the EXIF
# DateTimeDigitized), else IFD0 ModifyDate (DateTime); the first two and the offsets are taken from
# ExifIFD, else from a copy in IFD0. Years 1826..2100 only. The offset comes from the date's own
# offset tag. GPS S/W negative, missing ref positive; NaN, out of range and (0, 0) → no position.
# Altitude negative when GPSAltitudeRef is 1, None outside -1000..20000 m. Orientation 1..8.

from __future__ import annotations

import base64
import json
import math
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

INSTALL_HINT = "exiftool is missing; install it with: apt-get install libimage-exiftool-perl"

FIRST_YEAR, LAST_YEAR = 1826, 2100  # photography's first surviving image .. a sane future bound
MAX_OFFSET = (14, 0)

TAGS = (
    "DateTimeOriginal",
    "CreateDate",  # DateTimeDigitized
    "ModifyDate",  # DateTime
    "OffsetTimeOriginal",
    "OffsetTimeDigitized",
    "OffsetTime",
    "GPSLatitude",
    "GPSLatitudeRef",
    "GPSLongitude",
    "GPSLongitudeRef",
    "GPSAltitude",
    "GPSAltitudeRef",
    "Orientation",
    "Make",
    "Model",
)

_DATE = re.compile(
    r"(?P<Y>[0-9]{4})[:-](?P<m>[0-9]{2})[:-](?P<d>[0-9]{2})[ T]"
    r"(?P<H>[0-9]{2}):(?P<M>[0-9]{2}):(?P<S>[0-9]{2})(?:[.,](?P<f>[0-9]+))?"
    r"\s*(?:Z|[+-][0-9]{2}:?[0-9]{2})?"
)
_OFFSET = re.compile(r"(?P<sign>[+-])(?P<h>[0-9]{2}):?(?P<m>[0-9]{2})")


@dataclass(frozen=True)
class Expected:
    """What atw should store for one file, per exiftool."""

    taken_at: datetime | None
    utc_offset: str | None
    lat: float | None
    lon: float | None
    altitude: float | None
    orientation: int | None
    camera_make: str | None
    camera_model: str | None


class ExiftoolMissingError(RuntimeError):
    """exiftool is not on PATH."""


def _raw_text(value: object) -> str | None:
    """exiftool's JSON value as text: base64-coded binary is decoded; non-ASCII → None."""
    if isinstance(value, str) and value.startswith("base64:"):
        try:
            value = base64.b64decode(value[7:]).decode("ascii")
        except ValueError:
            return None
    if not isinstance(value, str) or not value.isascii() or value.startswith("(Binary data"):
        return None
    return value.strip(" \t\r\n\x00")


def ref_datetime(value: object) -> datetime | None:
    text = _raw_text(value)
    found = _DATE.fullmatch(text) if text else None
    if not found or not FIRST_YEAR <= int(found["Y"]) <= LAST_YEAR:
        return None
    fraction = (found["f"] or "")[:6]
    try:
        return datetime(
            *(int(found[k]) for k in "YmdHMS"), int(fraction + "0" * (6 - len(fraction)))
        )
    except ValueError:
        return None


def ref_offset(value: object) -> str | None:
    text = _raw_text(value)
    found = _OFFSET.fullmatch(text) if text else None
    if not found:
        return None
    hours, minutes = int(found["h"]), int(found["m"])
    if minutes > 59 or (hours, minutes) > MAX_OFFSET:
        return None
    sign = "+" if hours == minutes == 0 else found["sign"]
    return f"{sign}{hours:02d}:{minutes:02d}"


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None  # exiftool prints "undef" / "inf" / "" for 0/0, x/0 and unreadable rationals
    return float(value) if math.isfinite(value) else None


def _negative_ref(value: object, letter: str) -> bool:
    text = _raw_text(value)
    return bool(text) and text[0].upper() == letter


def ref_position(
    lat: object, lat_ref: object, lon: object, lon_ref: object
) -> tuple[float | None, float | None]:
    la, lo = _finite(lat), _finite(lon)
    if la is None or lo is None:
        return None, None
    la = -la if _negative_ref(lat_ref, "S") else la
    lo = -lo if _negative_ref(lon_ref, "W") else lo
    if abs(la) > 90 or abs(lo) > 180 or la == lo == 0:
        return None, None
    return la, lo


def ref_altitude(altitude: object, ref: object) -> float | None:
    metres = _finite(altitude)
    if metres is None:
        return None
    metres = -metres if ref in (1, "1") else metres
    return metres if -1000.0 <= metres <= 20000.0 else None  # wrapped negatives are bugs


def ref_orientation(value: object) -> int | None:
    return value if type(value) is int and 1 <= value <= 8 else None


def ref_text(value: object) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)  # exiftool -j turns a numeric-looking model such as "1234" into 1234
    if not isinstance(value, str) or value.startswith(("base64:", "(Binary data")):
        return None
    try:  # exiftool read the EXIF bytes as Latin-1 (see run_exiftool); they must be UTF-8
        value = value.encode("latin-1").split(b"\x00")[0].decode("utf-8")
    except UnicodeError:
        return None
    words = re.sub(r"[^\w\s]", _keep_printable, value).split()
    return " ".join(words)[:128] or None


def _keep_printable(found: re.Match[str]) -> str:
    char = found[0]
    return char if char.isprintable() and char != "\ufffd" else ""


def expected_for(record: Mapping[str, object]) -> Expected:
    """Apply atw's rules to one exiftool -j -n -a -G1 record."""

    def first(rule: Callable[[object], Any], name: str, groups: tuple[str, ...]) -> Any:
        for group in groups:  # the first copy the rule accepts
            value = rule(record.get(f"{group}:{name}"))
            if value is not None:
                return value
        return None

    both = ("ExifIFD", "IFD0")
    taken_at = utc_offset = None
    for date_tag, offset_tag, groups in (
        ("DateTimeOriginal", "OffsetTimeOriginal", both),
        ("CreateDate", "OffsetTimeDigitized", both),
        ("ModifyDate", "OffsetTime", ("IFD0",)),
    ):
        taken_at = first(ref_datetime, date_tag, groups)
        if taken_at is not None:
            utc_offset = first(ref_offset, offset_tag, both)
            break
    gps = {key.removeprefix("GPS:GPS"): value for key, value in record.items()}
    lat, lon = ref_position(
        gps.get("Latitude"), gps.get("LatitudeRef"), gps.get("Longitude"), gps.get("LongitudeRef")
    )
    return Expected(
        taken_at=taken_at,
        utc_offset=utc_offset,
        lat=lat,
        lon=lon,
        altitude=ref_altitude(gps.get("Altitude"), gps.get("AltitudeRef")),
        orientation=ref_orientation(record.get("IFD0:Orientation")),
        camera_make=ref_text(record.get("IFD0:Make")),
        camera_model=ref_text(record.get("IFD0:Model")),
    )


def run_exiftool(paths: Iterable[Path]) -> list[dict[str, object]]:
    """One exiftool run over paths (files or folders, not recursive); its JSON records."""
    exe = shutil.which("exiftool")
    if exe is None:
        raise ExiftoolMissingError(INSTALL_HINT)
    args = b"\n".join(os.fsencode(Path(p).absolute()) for p in paths)
    if not args:
        return []
    command = [exe, "-j", "-n", "-a", "-G1", "-charset", "exif=Latin"]  # Latin: bytes kept 1:1
    command += [*(f"-EXIF:{tag}" for tag in TAGS), "-@", "-"]
    done = subprocess.run(command, input=args + b"\n", capture_output=True, check=False)
    if not done.stdout.strip():  # exit status 1 only means some file could not be read
        if done.returncode not in (0, 1):
            raise RuntimeError(f"exiftool failed: {done.stderr.decode(errors='replace')}")
        return []
    return json.loads(done.stdout.decode("utf-8", "surrogateescape"))


def expected_from_exiftool(paths: Iterable[Path]) -> dict[str, Expected]:
    """Expected EXIF facts keyed by os.path.abspath(path), from a single exiftool run.

    Folders are read non-recursively. A path exiftool cannot read at all may be missing.
    """
    return {
        os.path.abspath(str(record["SourceFile"])): expected_for(record)
        for record in run_exiftool(paths)
    }
