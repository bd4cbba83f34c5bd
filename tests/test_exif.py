"""Tests for pipelines/exif.py: the shared sample photos against exiftool, and synthetic EXIF."""

from __future__ import annotations

import io
import json
import math
import random
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

import piexif
import pillow_heif
import pytest
from PIL import Image, UnidentifiedImageError

from pipelines.exif import ExifFacts, parse_datetime, parse_offset, read_exif

try:
    from tests.exiftool_ref import INSTALL_HINT, Expected, expected_from_exiftool
except ModuleNotFoundError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    from exiftool_ref import INSTALL_HINT, Expected, expected_from_exiftool
from tests.conftest import SHARED, need_shared

pillow_heif.register_heif_opener()

EXIF_DIR = SHARED / "photos" / "exif"
SHARED_FILES = sorted(p for p in EXIF_DIR.iterdir() if p.is_file()) if EXIF_DIR.is_dir() else []

FIELDS = ("taken_at", "utc_offset", "lat", "lon", "altitude", "orientation")
FIELDS += ("camera_make", "camera_model")
TOLERANCE = {"lat": 1e-6, "lon": 1e-6, "altitude": 0.01}


def differences(facts: ExifFacts | Expected, expected: dict[str, Any]) -> list[str]:
    """Fields of facts that differ from expected (floats within TOLERANCE)."""
    found = []
    for name, want in expected.items():
        got = getattr(facts, name)
        tolerance = TOLERANCE.get(name)
        if tolerance is not None and got is not None and want is not None:
            same = abs(got - want) <= tolerance
        else:
            same = got == want and type(got) is type(want)
        if not same:
            found.append(f"{name}: got {got!r}, expected {want!r}")
    return found


@pytest.fixture(scope="module")
def exiftool() -> None:
    if shutil.which("exiftool") is None:
        pytest.fail(INSTALL_HINT)


# --- 1. every shared sample photo that Pillow can open, against exiftool ------------------------


@pytest.fixture(scope="module")
def shared_reference(exiftool: None) -> dict[str, Expected]:
    need_shared(EXIF_DIR)
    if not SHARED_FILES:
        pytest.fail(f"no shared photos in {EXIF_DIR}")
    return expected_from_exiftool(SHARED_FILES)


# Pillow cannot open a few rows of the folder (INDEX.csv, empty or headless files): those skip,
# and only those (tests/skips.py lists them); without the folder, one case fails with its path.
@pytest.mark.parametrize(
    "path",
    [pytest.param(p, id=p.name) for p in SHARED_FILES]
    or [pytest.param(EXIF_DIR, id="shared-photos-missing")],
)
def test_shared_photo_matches_exiftool(path: Path, shared_reference: dict[str, Expected]) -> None:
    try:
        image = Image.open(path)
    except (UnidentifiedImageError, OSError) as error:
        pytest.skip(f"Pillow cannot open {path.name}: {error}")
    with image:
        facts = read_exif(image)
    expected = shared_reference[str(path)]
    wrong = differences(facts, {name: getattr(expected, name) for name in FIELDS})
    assert not wrong, f"{path.name} differs from exiftool: " + "; ".join(wrong)
    json.dumps(facts.extras, allow_nan=False)  # extras must be storable as JSON
    assert all(isinstance(v, str | int | float) for v in facts.extras.values())


def test_shared_edge_cases_are_rejected(shared_reference: dict[str, Expected]) -> None:
    """The documented traps in shared/photos/exif really are traps (guards against a stale set)."""
    named = {Path(k).name: v for k, v in shared_reference.items()}
    for name in ("image-2011.jpg", "buggy_panorama.jpg", "snow.jpg"):
        assert named[name].lat is None and named[name].lon is None, name
    assert named["date_error.JPG"].taken_at is None
    assert named["before_epoch.jpg"].taken_at == datetime(2015, 6, 12, 16, 39, 33)
    assert named["before_epoch.jpg"].utc_offset is None  # OffsetTime belongs to DateTime only
    assert named["image-2011.jpg"].taken_at == datetime(2011, 7, 19, 11, 36, 38)  # 0x9004 in IFD0
    assert named["Landscape_0.jpg"].orientation is None


# --- 2. synthetic EXIF written with piexif ------------------------------------------------------

DTO, DTD = piexif.ExifIFD.DateTimeOriginal, piexif.ExifIFD.DateTimeDigitized
DT = piexif.ImageIFD.DateTime
OTO, OTD, OT = (
    piexif.ExifIFD.OffsetTimeOriginal,
    piexif.ExifIFD.OffsetTimeDigitized,
    piexif.ExifIFD.OffsetTime,
)
ORIENTATION, MAKE, MODEL = piexif.ImageIFD.Orientation, piexif.ImageIFD.Make, piexif.ImageIFD.Model
LAT_REF, LAT, LON_REF, LON = (
    piexif.GPSIFD.GPSLatitudeRef,
    piexif.GPSIFD.GPSLatitude,
    piexif.GPSIFD.GPSLongitudeRef,
    piexif.GPSIFD.GPSLongitude,
)
ALT_REF, ALT = piexif.GPSIFD.GPSAltitudeRef, piexif.GPSIFD.GPSAltitude
OFFSETS = {OTO: "+01:00", OTD: "-02:00", OT: "+03:30"}
T1, T2, T3 = datetime(2001, 1, 1, 1, 1, 1), datetime(2002, 2, 2, 2, 2, 2), datetime(2003, 3, 3)
S1, S2, S3 = "2001:01:01 01:01:01", "2002:02:02 02:02:02", "2003:03:03 00:00:00"
NAN = ((0, 0), (0, 0), (0, 0))


def dms(degrees: int, minutes: int, seconds: float) -> tuple[tuple[int, int], ...]:
    return ((degrees, 1), (minutes, 1), (round(seconds * 100), 100))


def deg(degrees: int, minutes: int, seconds: float) -> float:
    return degrees + minutes / 60 + seconds / 3600


SANTIAGO = {LAT: dms(33, 26, 49.6), LON: dms(70, 40, 0)}
SANTIAGO_DEG = (deg(33, 26, 49.6), deg(70, 40, 0))


@dataclass(frozen=True)
class Case:
    id: str
    expect: dict[str, Any]
    exif: dict[int, Any] = field(default_factory=dict)
    ifd0: dict[int, Any] = field(default_factory=dict)
    gps: dict[int, Any] = field(default_factory=dict)


def when(taken_at: datetime | None, offset: str | None, tag: str | None) -> dict[str, Any]:
    return {"taken_at": taken_at, "utc_offset": offset, "time_tag": tag}


def where(lat: float | None, lon: float | None, altitude: float | None = None) -> dict[str, Any]:
    return {"lat": lat, "lon": lon, "altitude": altitude}


CASES = [
    # capture time: order DateTimeOriginal > DateTimeDigitized > DateTime, offset from its twin
    Case(
        "all-dates", when(T1, "+01:00", "DateTimeOriginal"), {DTO: S1, DTD: S2, **OFFSETS}, {DT: S3}
    ),
    Case("digitized", when(T2, "-02:00", "DateTimeDigitized"), {DTD: S2, **OFFSETS}, {DT: S3}),
    Case("datetime-only", when(T3, "+03:30", "DateTime"), {**OFFSETS}, {DT: S3}),
    Case(
        "zero-date",
        when(T2, "-02:00", "DateTimeDigitized"),
        {DTO: "0000:00:00 00:00:00", DTD: S2, **OFFSETS},
    ),
    Case(
        "month13-day32",
        when(T3, "+03:30", "DateTime"),
        {DTO: "2001:13:01 01:01:01", DTD: "2002:01:32 02:02:02", **OFFSETS},
        {DT: S3},
    ),
    Case(
        "hour25-blank",
        when(T3, None, "DateTime"),
        {DTO: "2001:01:01 25:00:00", DTD: " " * 19},
        {DT: S3},
    ),
    Case(
        "year-1601",
        when(datetime(2015, 6, 12, 16, 39, 33), None, "DateTimeDigitized"),
        {DTO: "1601:06:06 16:39:33", DTD: "2015:06:12 16:39:33", OT: "+02:00"},
    ),
    Case(
        "non-ascii-date",
        when(T3, "+03:30", "DateTime"),
        {DTO: b"2001:01:01 01:01:\xb9\xb2", **OFFSETS},
        {DT: S3},
    ),
    Case(
        "garbage-dates",
        when(None, None, None),
        {DTO: "garbage", DTD: "2002:02:30 00:00:00", **OFFSETS},
        {DT: "0000:00:00 00:00:00"},
    ),
    Case(
        "variant-date",
        when(datetime(2019, 12, 31, 23, 59, 58, 500000), "-05:30", "DateTimeOriginal"),
        {DTO: "2019-12-31 23:59:58.5Z  ", OTO: "-0530"},
    ),
    Case(
        "offset-blank", when(T1, None, "DateTimeOriginal"), {DTO: S1, OTO: "   :  ", OTD: "+02:00"}
    ),
    Case("offset-25h", when(T1, None, "DateTimeOriginal"), {DTO: S1, OTO: "+25:00"}),
    Case("offset-utc", when(T1, "+00:00", "DateTimeOriginal"), {DTO: S1, OTO: "-00:00"}),
    Case(
        "digitized-in-ifd0",
        when(datetime(2011, 7, 19, 11, 36, 38), None, "DateTimeDigitized"),
        {},
        {DTD: "2011:07:19 11:36:38", DT: "2020:05:15 10:25:45"},
    ),
    # GPS: hemispheres, refs, invalid positions, altitude
    Case("north-east", where(*SANTIAGO_DEG), gps={LAT_REF: "N", LON_REF: "E", **SANTIAGO}),
    Case(
        "south-west",
        where(-SANTIAGO_DEG[0], -SANTIAGO_DEG[1]),
        gps={LAT_REF: "S", LON_REF: "W", **SANTIAGO},
    ),
    Case(
        "north-west",
        where(SANTIAGO_DEG[0], -SANTIAGO_DEG[1]),
        gps={LAT_REF: "N", LON_REF: "W", **SANTIAGO},
    ),
    Case(
        "south-east",
        where(-SANTIAGO_DEG[0], SANTIAGO_DEG[1]),
        gps={LAT_REF: "S", LON_REF: "E", **SANTIAGO},
    ),
    Case(
        "lowercase-refs",
        where(-SANTIAGO_DEG[0], -SANTIAGO_DEG[1]),
        gps={LAT_REF: "s", LON_REF: "w", **SANTIAGO},
    ),
    Case("missing-refs", where(*SANTIAGO_DEG), gps=SANTIAGO),
    Case(
        "below-sea",
        where(31.5, 35.5, -430.5),
        gps={LAT: dms(31, 30, 0), LON: dms(35, 30, 0), ALT: (43050, 100), ALT_REF: 1},
    ),
    Case(
        "wrapped-negative-altitude",
        where(31.5, 35.5, None),
        gps={LAT: dms(31, 30, 0), LON: dms(35, 30, 0), ALT: (4294967284, 1)},
    ),
    Case(
        "above-sea",
        where(31.5, 35.5, 430.5),
        gps={LAT: dms(31, 30, 0), LON: dms(35, 30, 0), ALT: (43050, 100), ALT_REF: 0},
    ),
    Case(
        "zero-zero",
        where(None, None, 5.0),
        gps={LAT_REF: "N", LAT: dms(0, 0, 0), LON_REF: "E", LON: dms(0, 0, 0), ALT: (5, 1)},
    ),
    Case(
        "nan",
        where(None, None, None),
        gps={LAT_REF: "N", LAT: NAN, LON_REF: "E", LON: NAN, ALT: (0, 0)},
    ),
    Case(
        "lat-213",
        where(None, None),
        gps={LAT_REF: "N", LAT: dms(213, 38, 24), LON_REF: "E", LON: dms(103, 28, 48)},
    ),
    Case("lon-181", where(None, None), gps={LAT: dms(10, 0, 0), LON: dms(181, 0, 0)}),
    Case("lat-only", where(None, None), gps={LAT_REF: "N", LAT: dms(10, 0, 0)}),
    # orientation
    *(
        Case(f"orientation-{n}", {"orientation": n if 1 <= n <= 8 else None}, ifd0={ORIENTATION: n})
        for n in (0, 1, 6, 8, 9)
    ),
    Case(
        "no-orientation",
        {"orientation": None, "camera_make": None, "taken_at": None},
        ifd0={MODEL: "X"},
    ),
    # camera text
    Case(
        "garbage-make",
        {"camera_make": None, "camera_model": "EOS 5D"},
        ifd0={MAKE: b"\xff\xfe\x80\x81garbage", MODEL: b"EOS 5D"},
    ),
    Case(
        "control-chars",
        {"camera_make": "Nikon Corp", "camera_model": None},
        ifd0={MAKE: "  Nik\x07on\x1b \t Corp \x00junk", MODEL: " \x00 "},
    ),
    Case(
        "utf8-model",
        {"camera_make": "Leica", "camera_model": "Café X"},
        ifd0={MAKE: "Leica\x00\x00", MODEL: "Café X".encode()},
    ),
]


def exif_bytes(case: Case) -> bytes:
    zeroth_tags = {DTD: {"name": "DateTimeDigitized", "type": piexif.TYPES.Ascii}}
    with mock.patch.dict(piexif.TAGS["0th"], zeroth_tags):  # piexif refuses 0x9004 in IFD0
        return piexif.dump({"0th": case.ifd0, "Exif": case.exif, "GPS": case.gps})


def jpeg_with(exif: bytes, path: Path) -> Path:
    Image.new("RGB", (8, 8), "gray").save(path, "JPEG", exif=exif)
    return path


def read_file(path: Path) -> ExifFacts:
    with Image.open(path) as image:
        return read_exif(image)


@pytest.fixture(scope="module")
def synthetic_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("exif")
    return {case.id: jpeg_with(exif_bytes(case), folder / f"{case.id}.jpg") for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_read_exif_rules(case: Case, synthetic_files: dict[str, Path]) -> None:
    facts = read_file(synthetic_files[case.id])
    assert not differences(facts, case.expect), differences(facts, case.expect)


@pytest.fixture(scope="module")
def synthetic_reference(synthetic_files: dict[str, Path], exiftool: None) -> dict[str, Expected]:
    return expected_from_exiftool(synthetic_files.values())


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_exiftool_reference_rules(
    case: Case, synthetic_files: dict[str, Path], synthetic_reference: dict[str, Expected]
) -> None:
    """tests/exiftool_ref.py applies the same rules to exiftool's reading of the same bytes."""
    reference = synthetic_reference[str(synthetic_files[case.id])]
    wanted = {k: v for k, v in case.expect.items() if k != "time_tag"}
    assert not differences(reference, wanted), differences(reference, wanted)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF", "HEIF"])
def test_other_formats_via_pillow_exif_argument(fmt: str) -> None:
    case = Case(
        "formats",
        {},
        {DTO: S1, OTO: "+01:00"},
        {ORIENTATION: 6, MAKE: "Canon"},
        {LAT_REF: "S", LON_REF: "W", **SANTIAGO, ALT: (7, 2), ALT_REF: 1},
    )
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "gray").save(buffer, fmt, exif=exif_bytes(case))
    buffer.seek(0)
    with Image.open(buffer) as image:
        assert image.format == fmt
        facts = read_exif(image)
    assert facts.taken_at == T1 and facts.utc_offset == "+01:00"
    assert facts.lat == pytest.approx(-SANTIAGO_DEG[0]) and facts.lon == pytest.approx(-70 - 2 / 3)
    assert (facts.altitude, facts.orientation, facts.camera_make) == (-3.5, 6, "Canon")


def test_xmp_orientation_is_not_exif_orientation(tmp_path: Path) -> None:
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description tiff:Orientation="6"/></x:xmpmeta>'
    path = tmp_path / "xmp.jpg"
    Image.new("RGB", (8, 8)).save(path, xmp=xmp)
    with Image.open(path) as image:
        assert image.getexif().get(ORIENTATION) == 6  # Pillow's own fallback...
        assert read_exif(image).orientation is None  # ...is not EXIF


def test_extras_for_a_viewer(tmp_path: Path) -> None:
    exif = {
        piexif.ExifIFD.ExposureTime: (1, 250),
        piexif.ExifIFD.FNumber: (28, 10),
        piexif.ExifIFD.ISOSpeedRatings: 400,
        piexif.ExifIFD.FocalLength: (501, 10),
        piexif.ExifIFD.LensModel: "EF50mm f/1.8\x07 II",
    }
    exif_data = piexif.dump({"0th": {piexif.ImageIFD.Software: "GIMP 2.10"}, "Exif": exif})
    extras = read_file(jpeg_with(exif_data, tmp_path / "x.jpg")).extras
    assert extras == {
        "exposure_time": "1/250",
        "f_number": 2.8,
        "iso": 400,
        "focal_length_mm": 50.1,
        "lens": "EF50mm f/1.8 II",
        "software": "GIMP 2.10",
    }
    long_exposure = piexif.dump({"Exif": {piexif.ExifIFD.ExposureTime: (5, 2)}})
    assert read_file(jpeg_with(long_exposure, tmp_path / "y.jpg")).extras == {
        "exposure_time": "2.5"
    }


# --- 3. parse_datetime / parse_offset ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2020:01:02 03:04:05", datetime(2020, 1, 2, 3, 4, 5)),
        ("2020-01-02 03:04:05", datetime(2020, 1, 2, 3, 4, 5)),
        ("2020:01:02T03:04:05", datetime(2020, 1, 2, 3, 4, 5)),
        (" 2020:01:02 03:04:05\x00\x00", datetime(2020, 1, 2, 3, 4, 5)),
        (b"2020:01:02 03:04:05\x00", datetime(2020, 1, 2, 3, 4, 5)),
        ("2020:01:02 03:04:05.1234567", datetime(2020, 1, 2, 3, 4, 5, 123456)),
        ("2020:01:02 03:04:05Z", datetime(2020, 1, 2, 3, 4, 5)),
        ("2020:01:02 03:04:05+02:00", datetime(2020, 1, 2, 3, 4, 5)),
        ("2020:02:29 00:00:00", datetime(2020, 2, 29)),
        ("1826:01:01 00:00:00", datetime(1826, 1, 1)),
        ("2100:12:31 23:59:59", datetime(2100, 12, 31, 23, 59, 59)),
        ("1825:12:31 23:59:59", None),
        ("2101:01:01 00:00:00", None),
        ("1601:06:06 16:39:33", None),
        ("0000:00:00 00:00:00", None),
        ("2020:13:01 00:00:00", None),
        ("2020:01:32 00:00:00", None),
        ("2021:02:29 00:00:00", None),
        ("2020:01:01 25:00:00", None),
        ("2020:01:01 24:00:00", None),
        ("2020:01:01 12:60:00", None),
        ("2020:01:01", None),
        ("", None),
        ("    :  :     :  :  ", None),
        ("garbage", None),
        ("2020:01:02 03:04:05 and more", None),
        ("２０２０:01:02 03:04:05", None),
        (b"2020:01:02 03:04:\xb9\xb2", None),
        ("2020:01:02 03:04:\xb9\xb2", None),
        (None, None),
        (20200102, None),
        ((2020, 1, 2), None),
    ],
)
def test_parse_datetime(value: object, expected: datetime | None) -> None:
    assert parse_datetime(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+02:00", "+02:00"),
        ("-05:00", "-05:00"),
        ("-0530", "-05:30"),
        ("+00:00", "+00:00"),
        ("-00:00", "+00:00"),
        ("+14:00", "+14:00"),
        ("-12:00", "-12:00"),
        (" +05:45\x00", "+05:45"),
        (b"+01:00", "+01:00"),
        ("+14:01", None),
        ("+25:00", None),
        ("+02:60", None),
        ("   :  ", None),
        ("", None),
        ("02:00", None),
        ("+2:00", None),
        ("Z", None),
        ("+02:00:00", None),
        (b"\xff\xfe", None),
        (None, None),
        (120, None),
    ],
)
def test_parse_offset(value: object, expected: str | None) -> None:
    assert parse_offset(value) == expected


# --- 4. bad EXIF never raises ------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:.*(EXIF|Tag data|Truncated|file):UserWarning")
def test_unreadable_exif_gives_empty_facts(tmp_path: Path) -> None:
    bad_pointer = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x01\x88\x25\x00\x04\x00\x00\x00\x01"
    bad_pointer += b"\x00\x00\xff\xff\x00\x00\x00\x00"  # GPS IFD pointer far past the end
    for number, blob in enumerate([bad_pointer, b"Exif\x00\x00II*\x00\xff\xff\xff\xff", b"junk"]):
        facts = read_file(jpeg_with(blob, tmp_path / f"{number}.jpg"))
        assert (facts.lat, facts.taken_at, facts.orientation) == (None, None, None)

    class Broken(Image.Image):
        def getexif(self) -> Image.Exif:
            raise SyntaxError("not a TIFF file")

    assert read_exif(Broken()) == ExifFacts()


def test_wrong_types_are_absent(tmp_path: Path) -> None:
    def typed(tag: int, name: str, kind: int) -> dict[int, dict[str, Any]]:
        return {tag: {"name": name, "type": kind}}

    ascii_, short = piexif.TYPES.Ascii, piexif.TYPES.Short
    with (
        mock.patch.dict(piexif.TAGS["0th"], typed(ORIENTATION, "Orientation", ascii_)),
        mock.patch.dict(piexif.TAGS["0th"], typed(MAKE, "Make", short)),
        mock.patch.dict(piexif.TAGS["Exif"], typed(DTO, "DateTimeOriginal", short)),
        mock.patch.dict(piexif.TAGS["GPS"], typed(LAT, "GPSLatitude", ascii_)),
        mock.patch.dict(piexif.TAGS["GPS"], typed(ALT, "GPSAltitude", ascii_)),
    ):
        blob = piexif.dump(
            {
                "0th": {ORIENTATION: "6", MAKE: 12},
                "Exif": {DTO: 2020},
                "GPS": {LAT: "north", LON: dms(12, 30, 0), ALT: "high"},
            }
        )
    facts = read_file(jpeg_with(blob, tmp_path / "types.jpg"))
    assert facts == ExifFacts()


@pytest.mark.filterwarnings("ignore:.*(EXIF|Tag data|Truncated|file):UserWarning")
def test_mutated_exif_never_raises(tmp_path: Path) -> None:
    case = next(case for case in CASES if case.id == "all-dates")
    gps = {LAT_REF: "S", LON_REF: "W", **SANTIAGO, ALT: (5, 1), ALT_REF: 1}
    blob = piexif.dump({"0th": {**case.ifd0, MAKE: "Canon"}, "Exif": case.exif, "GPS": gps})
    rng = random.Random(20240601)
    for attempt in range(150):
        mutated = bytearray(blob)
        for _ in range(rng.randint(1, 12)):
            mutated[rng.randrange(6, len(mutated))] = rng.randrange(256)
        facts = read_file(jpeg_with(bytes(mutated), tmp_path / f"m{attempt}.jpg"))
        assert facts.lat is None or -90 <= facts.lat <= 90
        assert facts.orientation is None or 1 <= facts.orientation <= 8
        assert facts.altitude is None or math.isfinite(facts.altitude)
        json.dumps(facts.extras, allow_nan=False)
