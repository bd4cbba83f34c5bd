"""UTC offsets of capture times: EXIF tag, then GPS clock, then the zone at the position, then none.

The real-file cases read the shared EXIF photos with exiftool (independent of atw's EXIF code)
and take the zone from the gazetteer at each photo's position."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PIL.TiffImagePlugin import IFDRational

from atw.core import gazetteer as gz
from atw.core.localtime import (
    LocalTime,
    ZoneOffset,
    format_offset,
    gps_offset,
    parse_gps_clock,
    parse_offset,
    resolve,
    zone_offset,
)
from tests.shared_data import SHARED

EXIF_DIR = SHARED / "photos" / "exif"
T = datetime


# --- 1. the EXIF OffsetTime tag --------------------------------------------------------------


def test_exif_offset_wins_over_gps_and_zone():
    got = resolve(
        T(2022, 8, 14, 14, 12, 31),
        exif_offset="+03:00",
        gps_date="2022:08:14",
        gps_time="09:12:31",  # says +05:00: ignored, the tag comes first
        time_zone="Europe/Lisbon",
    )
    assert got == LocalTime("+03:00", "exif", T(2022, 8, 14, 11, 12, 31))


def test_exif_offset_forms_and_rejections():
    assert parse_offset("+05:30") == timedelta(hours=5, minutes=30)
    assert parse_offset("-03:30") == -timedelta(hours=3, minutes=30)
    assert parse_offset("+0100") == timedelta(hours=1)
    assert parse_offset("+05:45\x00") == timedelta(hours=5, minutes=45)
    assert parse_offset("+14:00") == timedelta(hours=14)
    for bad in (None, "", "   :  ", "Z", "+15:00", "-12:30", "-13:00", "+05:15", "+01:60", "1:00"):
        assert parse_offset(bad) is None, bad
    # a rejected tag falls through to the next step
    got = resolve(T(2019, 7, 1, 12), exif_offset="+15:00", time_zone="Europe/Lisbon")
    assert got == LocalTime("+01:00", "zone", T(2019, 7, 1, 11))


# --- 2. the GPS clock ------------------------------------------------------------------------


def test_gps_clock_five_and_a_half_hours_gives_plus_0530():
    for stamp in (
        (IFDRational(12, 1), IFDRational(30, 1), IFDRational(5, 1)),  # as Pillow reads it
        ((12, 1), (30, 1), (5, 1)),  # raw rationals
        "12:30:05",  # as exiftool prints it
    ):
        got = resolve(T(2019, 6, 1, 18, 0, 5), gps_date="2019:06:01", gps_time=stamp)
        assert got == LocalTime("+05:30", "gps", T(2019, 6, 1, 12, 30, 5)), stamp


def test_gps_clock_across_midnight_and_west_of_greenwich():
    got = resolve(T(2019, 6, 1, 1, 0), gps_date="2019:05:31", gps_time="19:30:00")
    assert got.utc_offset == "+05:30" and got.taken_at_utc == T(2019, 5, 31, 19, 30)
    got = resolve(T(2019, 6, 1, 8, 0), gps_date="2019-06-01", gps_time="11:30:00")
    assert (got.utc_offset, got.offset_source) == ("-03:30", "gps")


def test_gps_clock_a_little_off_is_rounded_to_the_quarter_hour():
    # the camera clock 2 minutes fast: the offset is still +02:00; the instant is the camera's
    got = resolve(T(2019, 5, 12, 17, 15, 53), gps_date="2019:05:12", gps_time="15:13:54")
    assert got == LocalTime("+02:00", "gps", T(2019, 5, 12, 15, 15, 53))
    assert gps_offset(T(2019, 5, 12, 17, 0), T(2019, 5, 12, 15, 3, 1)) is None  # 3 min 1 s off


def test_bogus_gps_clock_falls_back_to_the_zone():
    local = T(2019, 6, 1, 18, 0)
    for date_stamp, time_stamp in (
        ("2019:06:01", "14:53:00"),  # 3 h 07: not near a quarter hour
        ("2019:06:01", "12:47:05"),  # rounds to +05:15: no zone uses it
        ("2019:05:31", "02:00:00"),  # +16:00: beyond +14:00
        ("2019:06:02", "14:00:00"),  # −20:00: a GPS date a day off
        ("0000:00:00", "12:30:00"),  # impossible date
        ("2019:02:30", "12:30:00"),  # impossible date
        ("1970:01:01", "12:30:00"),  # before the GPS epoch (1980-01-06)
        ("2019:06:01", "24:00:00"),  # impossible time
        ("2019:06:01", ((12, 1), (30, 1), (0, 0))),  # 0/0 rational
        ("2019:06:01", None),
        ("garbage", "12:30:00"),
    ):
        got = resolve(local, gps_date=date_stamp, gps_time=time_stamp, time_zone="Asia/Kolkata")
        assert got == LocalTime("+05:30", "zone", T(2019, 6, 1, 12, 30)), (date_stamp, time_stamp)
        assert resolve(local, gps_date=date_stamp, gps_time=time_stamp) == LocalTime(
            None, "none", None
        )


def test_parse_gps_clock():
    assert parse_gps_clock("2019:06:01", "12:30:05.5") == T(2019, 6, 1, 12, 30, 5, 500000)
    assert parse_gps_clock(b"2019:06:01\x00", b"12:30:05") == T(2019, 6, 1, 12, 30, 5)
    assert parse_gps_clock("2019:06:01", ((12, 1), (30, 1), (1234, 100))) == T(
        2019, 6, 1, 12, 30, 12, 340000
    )
    assert parse_gps_clock("2019:06:01", "12:60:00") is None


# --- 3. the zone at the position -------------------------------------------------------------


def test_zone_offset_follows_daylight_saving():
    assert resolve(T(2019, 7, 1, 12), time_zone="Europe/Lisbon") == LocalTime(
        "+01:00", "zone", T(2019, 7, 1, 11)
    )
    assert resolve(T(2019, 1, 15, 12), time_zone="Europe/Lisbon").utc_offset == "+00:00"
    assert resolve(T(2019, 7, 1, 12), time_zone="America/New_York").utc_offset == "-04:00"
    assert resolve(T(2019, 1, 15, 12), time_zone="America/New_York").utc_offset == "-05:00"
    # southern hemisphere: summer time in January
    assert resolve(T(2019, 1, 15, 12), time_zone="Australia/Sydney").utc_offset == "+11:00"
    assert resolve(T(2019, 7, 15, 12), time_zone="Australia/Sydney").utc_offset == "+10:00"
    assert resolve(T(2019, 7, 15, 12), time_zone="Asia/Kathmandu").utc_offset == "+05:45"
    # at sea: the nautical zone the gazetteer gives
    assert resolve(T(2019, 7, 15, 12), time_zone="Etc/GMT+3").utc_offset == "-03:00"


def test_repeated_hour_takes_the_first_occurrence():
    # Berlin, 2021-10-31: 03:00 CEST → 02:00 CET, so 02:30 happens twice.
    z = zone_offset(T(2021, 10, 31, 2, 30), "Europe/Berlin")
    assert z == ZoneOffset(timedelta(hours=2), "ambiguous")
    got = resolve(T(2021, 10, 31, 2, 30), time_zone="Europe/Berlin")
    assert got == LocalTime("+02:00", "zone", T(2021, 10, 31, 0, 30))


def test_skipped_hour_takes_the_offset_before_the_change():
    # Berlin, 2021-03-28: 02:00 CET → 03:00 CEST, so 02:30 never happens on a corrected clock.
    z = zone_offset(T(2021, 3, 28, 2, 30), "Europe/Berlin")
    assert z == ZoneOffset(timedelta(hours=1), "gap")
    got = resolve(T(2021, 3, 28, 2, 30), time_zone="Europe/Berlin")
    assert got == LocalTime("+01:00", "zone", T(2021, 3, 28, 1, 30))
    assert zone_offset(T(2021, 3, 28, 1, 30), "Europe/Berlin").case == "normal"


def test_historic_offsets_come_from_tzdata():
    # Amsterdam kept +00:19:32 (summer +01:19:32) until 1937; stored to the minute.
    assert resolve(T(1930, 6, 1, 12), time_zone="Europe/Amsterdam").utc_offset == "+01:20"


# --- 4. none -------------------------------------------------------------------------------


def test_no_offset_anywhere_is_none():
    assert resolve(T(2019, 6, 1, 12)) == LocalTime(None, "none", None)
    assert resolve(None, time_zone="Europe/Lisbon") == LocalTime(None, "none", None)
    assert resolve(T(2019, 6, 1, 12), time_zone="Mars/Olympus_Mons") == LocalTime(
        None, "none", None
    )
    assert resolve(T(2019, 6, 1, 12), time_zone="../etc/passwd").offset_source == "none"
    with pytest.raises(ValueError):
        resolve(datetime.fromisoformat("2019-06-01T12:00:00+01:00"))


def test_format_offset():
    assert format_offset(timedelta(hours=-9, minutes=-30)) == "-09:30"
    assert format_offset(timedelta(0)) == "+00:00"
    assert format_offset(timedelta(hours=12, minutes=45)) == "+12:45"


# --- real files ------------------------------------------------------------------------------

# file → (utc_offset, offset_source, taken_at_utc) expected from its tags and position.
REAL = {
    "HMD_Nokia_8.3_5G.jpg": ("+03:00", "exif", T(2022, 8, 14, 11, 12, 31)),
    "sydney_opera_house.jpg": ("+10:00", "exif", T(2020, 9, 19, 10, 55, 57)),
    "IMG_5195.HEIC": ("-05:00", "exif", T(2021, 4, 11, 20, 47, 53)),
    "broken_orientation_exif.jpg": ("-05:00", "gps", T(2018, 2, 18, 19, 38, 32)),
    "newyear_sydney.jpg": ("+11:00", "gps", T(2018, 12, 31, 13, 15)),
    "pigallery2_digikam.jpg": ("+09:00", "gps", T(2005, 9, 11, 7, 23, 2)),
    "altitude.jpg": ("+03:00", "gps", T(2013, 8, 25, 11, 54, 5)),
    # Réunion is +04:00, but this camera's clock ran at +02:00: the GPS clock shows it, and
    # gives the true instant (the zone would put it two hours early).
    "example.jpg": ("+02:00", "gps", T(2015, 11, 20, 3, 20, 30)),
    # Arezzo, Oct 2008: the GPS date is a day ahead (a bogus clock) → the zone, still CEST.
    "DSCN0042.jpg": ("+02:00", "zone", T(2008, 10, 22, 15, 0, 7)),
    # Arizona keeps standard time all summer.
    "IMG_9398-2.jpg": ("-07:00", "zone", T(2015, 7, 3, 18, 40, 15)),
    "smallFiji.JPG": ("+12:00", "zone", T(2004, 6, 16, 21, 4, 12)),
}


def exiftool_facts() -> dict[str, dict]:
    if shutil.which("exiftool") is None:
        pytest.fail("exiftool is missing; install it with: apt-get install libimage-exiftool-perl")
    if not EXIF_DIR.is_dir():
        pytest.fail(f"the shared test photos are missing: expected them at {EXIF_DIR}")
    tags = ["DateTimeOriginal", "OffsetTimeOriginal", "GPSDateStamp", "GPSTimeStamp"]
    tags += ["Composite:GPSLatitude", "Composite:GPSLongitude", "CountryCode", "State"]
    cmd = ["exiftool", "-n", "-json", "-q", "-q", *(f"-{t}" for t in tags), str(EXIF_DIR)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    return {Path(r["SourceFile"]).name: r for r in json.loads(out)}


def resolve_file(r: dict) -> tuple[LocalTime, LocalTime, gz.Place | None]:
    local = datetime.strptime(str(r["DateTimeOriginal"])[:19], "%Y:%m:%d %H:%M:%S")
    place = gz.reverse(r["GPSLatitude"], r["GPSLongitude"])
    tz = place.time_zone if place else None
    full = resolve(
        local,
        exif_offset=r.get("OffsetTimeOriginal"),
        gps_date=r.get("GPSDateStamp"),
        gps_time=r.get("GPSTimeStamp"),
        time_zone=tz,
    )
    return full, resolve(local, time_zone=tz), place


def test_real_files_resolve_as_expected():
    facts = exiftool_facts()
    for name, expected in REAL.items():
        full, _zone, _place = resolve_file(facts[name])
        assert tuple(full) == expected, name


def test_zone_step_agrees_with_every_real_exif_or_gps_offset():
    """Where a real photo carries its own offset (tag or GPS clock), the zone at its position
    gives the same one, DST included, except where the camera clock was not on local time."""
    facts = exiftool_facts()
    checked = 0
    for name, r in sorted(facts.items()):
        if "DateTimeOriginal" not in r or not isinstance(r.get("GPSLatitude"), float):
            continue
        full, zone, place = resolve_file(r)
        if full.offset_source not in ("exif", "gps") or place is None:
            continue
        checked += 1
        if name in ("example.jpg", "example.tif"):  # the +02:00 camera in Réunion
            assert (full.utc_offset, zone.utc_offset) == ("+02:00", "+04:00")
        else:
            assert zone.utc_offset == full.utc_offset, name
    assert checked >= 15


def test_real_files_places_match_their_iptc_country():
    """Photos that name their country in IPTC/XMP (written by people or apps, not from our
    polygons) get the same country from the gazetteer, and a matching region."""
    facts = exiftool_facts()
    checked = 0
    for name, r in sorted(facts.items()):
        code = r.get("CountryCode")
        if not code or not isinstance(r.get("GPSLatitude"), float):
            continue
        place = gz.reverse(r["GPSLatitude"], r["GPSLongitude"])
        assert place is not None and place.country_code == gz.country(code).code, name
        state = gz.fold(str(r.get("State", "")))
        assert state.startswith(gz.fold(place.region)), (name, state, place.region)
        checked += 1
    assert checked >= 8
    assert gz.reverse(facts["buggy_panorama.jpg"]["GPSLatitude"], 103.48) is None  # lat 213.6
    assert gz.reverse(facts["snow.jpg"].get("GPSLatitude"), 0.0) is None  # 0/0 rationals
