"""Capture dates and positions beyond EXIF (pipelines/capture.py), compared with exiftool.

The reference below re-implements the precedence on exiftool's values (its own XMP, IPTC and PNG
parsers), so a bug in atw's readers or in this file shows as a difference. It runs over every
shared photo Pillow opens, and over files written here with each tag (exiftool writes the XMP,
IPTC and PNG tags into copies in tmp_path; piexif the EXIF; Pillow the PNG text and XMP blocks)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import piexif
import pillow_heif
import pytest
from PIL import Image, PngImagePlugin

from pipelines.capture import Capture, capture, parse_stamp, read_xmp, xmp_degrees
from pipelines.exif import read_exif
from tests.conftest import EXIF_DIR, need_shared
from tests.exiftool_ref import INSTALL_HINT, ref_datetime, ref_offset
from tests.photos import gps_ifd, pattern

pillow_heif.register_heif_opener()
T = datetime

# --- the reference, on exiftool's values ---------------------------------------------------

GPS_TAGS = ["-GPS:GPSDateStamp", "-GPS:GPSTimeStamp", "-GPS:GPSLatitude", "-GPS:GPSLongitude"]
# exiftool names the XMP property exif:GPSTimeStamp "GPSDateTime"
XMP_GPS = ["-XMP-exif:GPSLatitude", "-XMP-exif:GPSLongitude", "-XMP-exif:GPSDateTime"]


def exiftool(*paths: Path) -> dict[str, dict[str, Any]]:
    if shutil.which("exiftool") is None:
        pytest.fail(INSTALL_HINT)
    cmd = ["exiftool", "-j", "-n", "-a", "-G1", "-time:all", *GPS_TAGS, *XMP_GPS]
    done = subprocess.run([*cmd, *map(str, paths)], capture_output=True, text=True, check=False)
    return {Path(r["SourceFile"]).name: r for r in json.loads(done.stdout or "[]")}


def ref_stamp(value: object) -> tuple[datetime, str | None] | None:
    """exiftool prints XMP and PNG dates as "YYYY:MM:DD HH:MM[:SS[.f]][±H:MM|Z]"."""
    if not isinstance(value, str):
        return None
    m = re.fullmatch(r"(.+?\d\d:\d\d(?::\d\d(?:\.\d+)?)?)(Z|[+-]\d{1,2}:\d\d)?", value.strip())
    if m is None:
        return None
    clock = m[1] + ":00" if re.search(r"[ T]\d\d:\d\d$", m[1]) else m[1]
    when = ref_datetime(clock)
    if when is None:
        return None
    zone = m[2]
    if zone == "Z":
        zone = "+00:00"
    elif zone:
        zone = zone[0] + zone[1:].zfill(5)
    return when, ref_offset(zone) if zone else None


def reference(r: dict[str, Any]) -> tuple[datetime | None, str | None, str | None]:
    """(date, offset, source) by the documented precedence, from one exiftool record."""

    def exif(date: str, offset: str, groups: tuple[str, ...]) -> Any:
        for g in groups:
            when = ref_datetime(r.get(f"{g}:{date}"))
            if when is not None:
                for og in ("ExifIFD", "IFD0"):
                    off = ref_offset(r.get(f"{og}:{offset}"))
                    if off:
                        return when, off
                return when, None
        return None

    def iptc() -> Any:
        day, clock = r.get("IPTC:DateCreated"), r.get("IPTC:TimeCreated")
        if not isinstance(day, str) or not isinstance(clock, str):
            return None
        return ref_stamp(f"{day} {clock}")

    both = ("ExifIFD", "IFD0")
    ladder = [
        ("EXIF DateTimeOriginal", lambda: exif("DateTimeOriginal", "OffsetTimeOriginal", both)),
        ("XMP exif:DateTimeOriginal", lambda: ref_stamp(r.get("XMP-exif:DateTimeOriginal"))),
        ("XMP photoshop:DateCreated", lambda: ref_stamp(r.get("XMP-photoshop:DateCreated"))),
        ("IPTC DateCreated", iptc),
        ("EXIF DateTimeDigitized", lambda: exif("CreateDate", "OffsetTimeDigitized", both)),
        ("XMP xmp:CreateDate", lambda: ref_stamp(r.get("XMP-xmp:CreateDate"))),
        ("EXIF DateTime", lambda: exif("ModifyDate", "OffsetTime", ("IFD0",))),
        ("PNG Creation Time", lambda: ref_stamp(r.get("PNG:CreationTime"))),
    ]
    for name, read in ladder:
        got = read()
        if got is not None:
            return got[0], got[1], name
    return None, None, None


def ours(path: Path) -> Capture:
    with Image.open(path) as img:
        return capture(img, read_exif(img))


# --- the shared photos ------------------------------------------------------------------------


def shared_images() -> list[Path]:
    out = []
    for p in sorted(EXIF_DIR.iterdir()):
        try:
            with Image.open(p):
                out.append(p)
        except Exception:
            continue
    return out


def test_shared_photos_match_exiftool():
    need_shared(EXIF_DIR)
    files = shared_images()
    ref = exiftool(*files)
    seen: dict[str, int] = {}
    for path in files:
        got = ours(path)
        want = reference(ref[path.name])
        assert (got.taken_at, got.offset, got.date_source) == want, path.name
        seen[str(want[2])] = seen.get(str(want[2]), 0) + 1
    # The set exercises every container a shared photo has (PNG text and the IPTC-only case
    # come from the written files below).
    assert seen["EXIF DateTimeOriginal"] > 60
    for source in ("XMP photoshop:DateCreated", "XMP xmp:CreateDate", "EXIF DateTimeDigitized"):
        assert seen.get(source, 0) >= 1, (source, seen)
    assert seen["XMP xmp:CreateDate"] >= 5 and seen["EXIF DateTime"] >= 3


def test_shared_photos_named_cases():
    """What the precedence changes, on real files (values as exiftool prints them)."""
    need_shared(EXIF_DIR)
    cases = {
        # EXIF has only DateTime (the editing day); the photo was taken a month before.
        "IMG_9398-2.jpg": (T(2015, 7, 3, 11, 40, 15, 310000), None, "XMP photoshop:DateCreated"),
        # EXIF DateTime 2014-09-22 is an edit; XMP's creation date carries its offset.
        "no_exif.jpg": (T(2013, 9, 23, 10, 9, 46), "+02:00", "XMP xmp:CreateDate"),
        # DateTimeOriginal, photoshop:DateCreated and IPTC all say 1601 (a camera bug): skipped.
        "before_epoch.jpg": (T(2015, 6, 12, 16, 39, 33), None, "EXIF DateTimeDigitized"),
        # No EXIF at all: XMP in UTC ("Z").
        "image01551.jpg": (T(2011, 9, 23, 12, 43, 3), "+00:00", "XMP xmp:CreateDate"),
        # EXIF +10:00 (the GPS clock agrees); an XMP copy says +02:00: never borrowed.
        "sydney_opera_house.jpg": (T(2020, 9, 19, 20, 55, 57), "+10:00", "EXIF DateTimeOriginal"),
        "Canon_DIGITAL_IXUS_400.jpg": (T(2004, 8, 27, 13, 52, 55), None, "EXIF DateTimeOriginal"),
    }
    for name, want in cases.items():
        got = ours(EXIF_DIR / name)
        assert (got.taken_at, got.offset, got.date_source) == want, name
    # XMP of the same photos, read by namespace (exiftool's values)
    ref = exiftool(EXIF_DIR / "33-type_error.jpg", EXIF_DIR / "sydney_opera_house.jpg")
    with Image.open(EXIF_DIR / "33-type_error.jpg") as img:
        xmp = read_xmp(img)
    assert parse_stamp(xmp["exif:DateTimeOriginal"]) == ref_stamp(
        ref["33-type_error.jpg"]["XMP-exif:DateTimeOriginal"]
    )
    assert parse_stamp(xmp["exif:DateTimeOriginal"]) == (T(2008, 5, 25, 19, 31, 26), "+01:00")


def test_shared_gps_clocks_match_exiftool():
    """GPSDateStamp + GPSTimeStamp (UTC), else XMP's exif:GPSTimeStamp; none before the GPS
    epoch (1980-01-06)."""
    need_shared(EXIF_DIR)
    files = shared_images()
    ref = exiftool(*files)
    clocks = 0
    for path in files:
        r, got = ref[path.name], ours(path)
        day, clock = r.get("GPS:GPSDateStamp"), r.get("GPS:GPSTimeStamp")
        want = ref_datetime(f"{day} {clock}") if isinstance(day, str) else None
        if want is None and r.get("XMP-exif:GPSDateTime"):
            stamp = ref_stamp(r["XMP-exif:GPSDateTime"])
            want = stamp[0] if stamp and stamp[1] in (None, "+00:00") else None
        if want is not None and want < T(1980, 1, 6):
            want = None
        assert got.gps_at == want, (path.name, got.gps_at, want)
        clocks += want is not None
    assert clocks >= 15


# --- files written here, one tag at a time ---------------------------------------------------


def blank(path: Path, fmt: str | None = None, **save: Any) -> Path:
    pattern((64, 48)).save(path, fmt, **save)
    return path


def exiftool_write(path: Path, *assignments: str) -> Path:
    done = subprocess.run(
        ["exiftool", "-q", "-overwrite_original", *assignments, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return path


ALONE = {
    "XMP exif:DateTimeOriginal": (
        ["-XMP-exif:DateTimeOriginal=2019:06:01 12:34:56+05:30"],
        (T(2019, 6, 1, 12, 34, 56), "+05:30"),
    ),
    "XMP photoshop:DateCreated": (
        ["-XMP-photoshop:DateCreated=2019:06:01 12:34:56.25-03:00"],
        (T(2019, 6, 1, 12, 34, 56, 250000), "-03:00"),
    ),
    "IPTC DateCreated": (
        ["-IPTC:DateCreated=2019:06:01", "-IPTC:TimeCreated=12:34:56+09:00"],
        (T(2019, 6, 1, 12, 34, 56), "+09:00"),
    ),
    "EXIF DateTimeDigitized": (
        ["-ExifIFD:CreateDate=2019:06:01 12:34:56", "-ExifIFD:OffsetTimeDigitized=+01:00"],
        (T(2019, 6, 1, 12, 34, 56), "+01:00"),
    ),
    "XMP xmp:CreateDate": (
        ["-XMP-xmp:CreateDate=2019:06:01 12:34:56Z"],
        (T(2019, 6, 1, 12, 34, 56), "+00:00"),
    ),
    "EXIF DateTime": (
        ["-IFD0:ModifyDate=2019:06:01 12:34:56", "-ExifIFD:OffsetTime=-07:00"],
        (T(2019, 6, 1, 12, 34, 56), "-07:00"),
    ),
}


@pytest.mark.parametrize("source", list(ALONE))
def test_each_source_alone_in_a_jpeg(source, tmp_path):
    writes, (when, offset) = ALONE[source]
    path = exiftool_write(blank(tmp_path / "a.jpg"), *writes)
    got = ours(path)
    assert (got.taken_at, got.offset, got.date_source) == (when, offset, source)
    assert reference(exiftool(path)["a.jpg"]) == (when, offset, source)


@pytest.mark.parametrize("fmt", ["png", "tif", "webp", "heic"])
def test_xmp_in_other_formats(fmt, tmp_path):
    """The XMP block of PNG (iTXt), TIFF (tag 700), WebP and HEIF, as Pillow hands it over."""
    path = tmp_path / f"a.{fmt}"
    if fmt in ("png", "tif"):  # Pillow does not write XMP there: exiftool does
        exiftool_write(blank(path), "-XMP-exif:DateTimeOriginal=2021:03:04 05:06:07-04:00")
    else:
        blank(path, xmp=xmp_packet('exif:DateTimeOriginal="2021-03-04T05:06:07-04:00"'))
    got = ours(path)
    want = (T(2021, 3, 4, 5, 6, 7), "-04:00", "XMP exif:DateTimeOriginal")
    assert (got.taken_at, got.offset, got.date_source) == want
    assert reference(exiftool(path)[path.name]) == want


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_exif_blocks_of_png_and_webp(fmt, tmp_path):
    """PNG eXIf and WebP EXIF chunks: the EXIF rules, GPS clock included."""
    gps = gps_ifd(38.7223, -9.1393)
    gps[piexif.GPSIFD.GPSDateStamp] = b"2019:06:01"
    gps[piexif.GPSIFD.GPSTimeStamp] = ((11, 1), (34, 1), (56, 1))
    exif = {piexif.ExifIFD.DateTimeOriginal: b"2019:06:01 12:34:56"}
    path = blank(tmp_path / f"a.{fmt}", exif=piexif.dump({"Exif": exif, "GPS": gps}))
    got = ours(path)
    assert (got.taken_at, got.date_source, got.gps_at) == (
        T(2019, 6, 1, 12, 34, 56),
        "EXIF DateTimeOriginal",
        T(2019, 6, 1, 11, 34, 56),
    )
    assert abs(got.lat - 38.7223) < 1e-6 and abs(got.lon + 9.1393) < 1e-6
    assert got.position_source == "EXIF"
    assert reference(exiftool(path)[path.name])[:2] == (T(2019, 6, 1, 12, 34, 56), None)


PNG_TIMES = {
    "2019:06:01 12:34:56": (T(2019, 6, 1, 12, 34, 56), None),
    "2019-06-01T12:34:56+02:00": (T(2019, 6, 1, 12, 34, 56), "+02:00"),
    "Sat, 01 Jun 2019 12:34:56 GMT": (T(2019, 6, 1, 12, 34, 56), "+00:00"),
    "Sat, 01 Jun 2019 12:34:56 -0330": (T(2019, 6, 1, 12, 34, 56), "-03:30"),
    "sometime in June": None,
    "2019:13:01 12:34:56": None,
}


@pytest.mark.parametrize("text", list(PNG_TIMES))
def test_png_creation_time(text, tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text("Creation Time", text)
    path = blank(tmp_path / "a.png", pnginfo=info)
    got = ours(path)
    want = PNG_TIMES[text]
    assert (got.taken_at, got.offset) == (want if want else (None, None))
    assert got.date_source == ("PNG Creation Time" if want else None)
    # exiftool reads the chunk Pillow wrote with its own date parser (RFC 1123 included)
    assert reference(exiftool(path)["a.png"])[:2] == (want if want else (None, None))


def test_the_precedence_ladder(tmp_path):
    """A JPEG with every source, each with its own day; removing the winner each time, the
    next one in the documented order wins (exiftool deletes the tags)."""
    path = tmp_path / "all.jpg"
    exif = {
        piexif.ExifIFD.DateTimeOriginal: b"2020:01:01 10:00:00",
        piexif.ExifIFD.DateTimeDigitized: b"2020:01:05 10:00:00",
    }
    zeroth = {piexif.ImageIFD.DateTime: b"2020:01:07 10:00:00"}
    blank(path, exif=piexif.dump({"0th": zeroth, "Exif": exif}))
    exiftool_write(
        path,
        "-XMP-exif:DateTimeOriginal=2020:01:02 10:00:00",
        "-XMP-photoshop:DateCreated=2020:01:03 10:00:00",
        "-IPTC:DateCreated=2020:01:04",
        "-IPTC:TimeCreated=10:00:00",
        "-XMP-xmp:CreateDate=2020:01:06 10:00:00",
    )
    deletions = [
        ["-ExifIFD:DateTimeOriginal="],
        ["-XMP-exif:DateTimeOriginal="],
        ["-XMP-photoshop:DateCreated="],
        ["-IPTC:DateCreated=", "-IPTC:TimeCreated="],
        ["-ExifIFD:CreateDate="],
        ["-XMP-xmp:CreateDate="],
        ["-IFD0:ModifyDate="],
    ]
    order = [
        "EXIF DateTimeOriginal",
        "XMP exif:DateTimeOriginal",
        "XMP photoshop:DateCreated",
        "IPTC DateCreated",
        "EXIF DateTimeDigitized",
        "XMP xmp:CreateDate",
        "EXIF DateTime",
    ]
    for day, (source, delete) in enumerate(zip(order, deletions, strict=True), start=1):
        got = ours(path)
        assert (got.taken_at, got.date_source) == (T(2020, 1, day, 10), source)
        assert reference(exiftool(path)["all.jpg"])[::2] == (T(2020, 1, day, 10), source)
        exiftool_write(path, *delete)
    assert ours(path).taken_at is None


# --- XMP GPS and bad XMP ------------------------------------------------------------------------


def xmp_packet(attributes: str, body: str = "") -> bytes:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
        'xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        f'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" {attributes}>{body}'
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()


XMP_POSITIONS = {
    "minutes": ('exif:GPSLatitude="38,43.332N" exif:GPSLongitude="9,8.358W"', (38.7222, -9.1393)),
    "seconds": ('exif:GPSLatitude="33,51,7.14S" exif:GPSLongitude="151,13,3.83E"', None),
    "ref only": (
        'exif:GPSLatitude="38,24.311688" exif:GPSLatitudeRef="S" '
        'exif:GPSLongitude="144,11.33748" exif:GPSLongitudeRef="E"',
        (-38.4051948, 144.188958),
    ),
}


@pytest.mark.parametrize("form", list(XMP_POSITIONS))
def test_xmp_gps_when_exif_has_none(form, tmp_path):
    attrs, want = XMP_POSITIONS[form]
    path = blank(tmp_path / "a.jpg", xmp=xmp_packet(attrs))
    got = ours(path)
    r = exiftool(path)["a.jpg"]
    lat, lon = r["XMP-exif:GPSLatitude"], r["XMP-exif:GPSLongitude"]
    if form == "ref only":  # exiftool signs from the value's own letter only
        lat = -abs(lat)
    assert got.position_source == "XMP"
    assert abs(got.lat - lat) < 1e-7 and abs(got.lon - lon) < 1e-7
    if want:
        assert abs(got.lat - want[0]) < 1e-4 and abs(got.lon - want[1]) < 1e-4
    assert (got.lat, got.lon) != (None, None)


def test_exif_gps_wins_over_xmp_gps_and_xmp_gps_clock(tmp_path):
    gps = gps_ifd(48.8566, 2.3522)
    path = tmp_path / "a.jpg"
    xmp = xmp_packet(
        'exif:GPSLatitude="38,43.332N" exif:GPSLongitude="9,8.358W" '
        'exif:GPSTimeStamp="2019-06-01T10:34:56Z"'
    )
    pattern((64, 48)).save(path, exif=piexif.dump({"GPS": gps}), xmp=xmp)
    got = ours(path)
    assert got.position_source == "EXIF" and abs(got.lat - 48.8566) < 1e-4
    assert got.gps_at == T(2019, 6, 1, 10, 34, 56)  # no EXIF GPS clock: XMP's
    assert exiftool(path)["a.jpg"]["XMP-exif:GPSDateTime"] == "2019:06:01 10:34:56Z"


def test_xmp_degrees_forms():
    assert xmp_degrees("38,43.332N", None, "S") == pytest.approx(38.7222)
    assert xmp_degrees("9,8.358W", None, "W") == pytest.approx(-9.1393)
    assert xmp_degrees("33,51,7.14S", None, "S") == pytest.approx(-(33 + 51 / 60 + 7.14 / 3600))
    assert xmp_degrees("-9.1393", None, "W") == pytest.approx(-9.1393)
    for bad in ("", "38,61N", "38,43,75N", "north", "38;43N"):
        assert xmp_degrees(bad, None, "S") is None, bad


BAD_XMP = {
    "entity bomb": (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>' + xmp_packet('xmp:CreateDate="&b;"')
    ),
    "not xml": b"<x:xmpmeta><rdf:RDF><rdf:Description xmp:CreateDate=",
    "month 13": xmp_packet('xmp:CreateDate="2019-13-01T10:00:00"'),
    "year 1601": xmp_packet('exif:DateTimeOriginal="1601-06-06T16:39:33"'),
    "hour 24": xmp_packet('photoshop:DateCreated="2019-06-01T24:00:00"'),
    "date only": xmp_packet('photoshop:DateCreated="2019-06-01"'),
    "bad position": xmp_packet('exif:GPSLatitude="95,0N" exif:GPSLongitude="9,8W"'),
}


@pytest.mark.parametrize("case", list(BAD_XMP))
def test_bad_xmp_is_absent_and_never_raises(case, tmp_path):
    path = blank(tmp_path / "a.jpg", xmp=BAD_XMP[case])
    got = ours(path)
    assert (got.taken_at, got.date_source, got.lat, got.lon) == (None, None, None, None)


def test_an_offset_beyond_14_hours_is_dropped_but_the_date_kept(tmp_path):
    path = blank(tmp_path / "a.jpg", xmp=xmp_packet('xmp:CreateDate="2019-06-01T10:00:00+14:30"'))
    got = ours(path)
    assert (got.taken_at, got.offset, got.date_source) == (
        T(2019, 6, 1, 10),
        None,
        "XMP xmp:CreateDate",
    )
    assert ref_offset(exiftool(path)["a.jpg"]["XMP-xmp:CreateDate"][-6:]) is None
