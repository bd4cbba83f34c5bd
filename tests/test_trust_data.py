"""Leaks and silent data bugs (issue 10): private exports name no place, folder or camera;
roots that differ only in case stay apart; the GPS hemisphere comes from the ref. (Times from
the clock: tests/test_trust_times.py.)"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import quote, quote_plus, urlencode

import piexif
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from atw.core.engine import make_engine
from atw.core.schema import Photo, PhotoPath, StageDone
from tests.conftest import MODEL_CONFIG, fresh_app, index, need_shared
from tests.photos import pattern, write_jpeg

ROOT = Path(__file__).resolve().parents[1]


def session_of(app: Any) -> Session:
    return Session(make_engine(app.config["DATABASE_URL"]))


def photos_by_name(app: Any) -> dict[str, Photo]:
    with session_of(app) as s:
        rows = s.execute(select(PhotoPath.path, Photo).join(Photo)).all()
        s.expunge_all()
    return {Path(path).name: p for path, p in rows}


# --- 1. private exports leak nothing of the filter --------------------------------------------

CENTRE = {"lat": "38.7223", "lon": "-9.1393", "radius_km": "17.35"}
MAKE, MODEL = "Hasselblad", "ValletX-42"
# The centre and radius in every form an output could spell them (plain, rounded, with a
# typographic minus, JSON- and URL-escaped).
PLACE_NEEDLES = [
    "38.72",
    "38.7223",
    "-9.14",
    "−9.14",
    "\\u22129.14",
    "%E2%88%929.14",
    "-9.1393",
    "9.1393",
    "17.35",
    "Lisbon",  # the centre and the photos' places by name (issue 13: a name is a position)
]


@pytest.fixture(scope="module")
def private_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, str]:
    """Three photos near Lisbon in a folder with a distinctive name, one elsewhere."""
    tmp_path = tmp_path_factory.mktemp("private")
    folder = tmp_path / "Zanzibar-Holiday-7781"
    for i, (lat, lon) in enumerate([(38.75, -9.20), (38.70, -9.05), (38.76, -9.13)]):
        write_jpeg(
            folder / f"day{i}" / f"img_{i}.jpg",
            pattern(seed=i),
            taken=f"2019:05:0{i + 1} 10:00:00",
            gps=(lat, lon),
            make=MAKE,
            model=MODEL,
        )
    write_jpeg(tmp_path / "other" / "img_9.jpg", pattern(seed=9), gps=(38.75, -9.20))
    app = fresh_app(tmp_path / "instance")
    assert index(app, tmp_path / "Zanzibar-Holiday-7781", tmp_path / "other").indexed == 4
    query = urlencode({**CENTRE, "folder": str(folder), "camera_make": MAKE, "camera_model": MODEL})
    return app, folder, query + "&sort=nearest"


def needles(folder: Path) -> list[str]:
    text = str(folder)
    return [
        *PLACE_NEEDLES,
        text,
        quote(text, safe=""),
        quote_plus(text),
        json.dumps(text)[1:-1],
        folder.name,
        MAKE,
        MODEL,
    ]


def cli_filter(folder: Path) -> list[str]:
    return [
        *("--lat", CENTRE["lat"], "--lon", CENTRE["lon"], "--radius-km", CENTRE["radius_km"]),
        *("--folder", str(folder), "--camera-make", MAKE, "--camera-model", MODEL),
        *("--sort", "nearest"),
    ]


def private_outputs(app: Any, folder: Path, query: str, tmp: Path) -> dict[str, bytes]:
    """Every private output of the filter: HTTP report, CSV and JSON, and the CLI's."""
    client, runner = app.test_client(), app.test_cli_runner()
    out: dict[str, bytes] = {}
    for name, url in [
        ("GET /report", "/report"),
        ("GET /export.csv", "/export.csv"),
        ("GET /export.json", "/export.json"),
    ]:
        r = client.get(f"{url}?privacy=1&{query}")
        assert r.status_code == 200, r.get_data(as_text=True)[:500]
        out[name] = r.get_data()
    commands = [
        ("cli report", ["report", "--private"]),
        ("cli export csv", ["export", "--private", "--format", "csv"]),
        ("cli export json", ["export", "--private", "--format", "json"]),
    ]
    for name, args in commands:
        path = tmp / (name.replace(" ", "-") + ".out")
        res = runner.invoke(args=[*args, "--out", str(path), *cli_filter(folder)])
        assert res.exit_code == 0, res.output
        out[name] = path.read_bytes()
    return out


def test_private_outputs_name_no_place_folder_or_camera(private_world, tmp_path):
    app, folder, query = private_world
    outputs = private_outputs(app, folder, query, tmp_path)
    leaks = [
        (name, needle)
        for name, body in outputs.items()
        for needle in needles(folder)
        if needle.encode("utf-8") in body
    ]
    assert not leaks, leaks
    # …and they are not empty: the three photos of the folder, by file name only.
    for name in ("GET /export.json", "cli export json"):
        data = json.loads(outputs[name])
        assert sorted(p["path"] for p in data["photos"]) == ["img_0.jpg", "img_1.jpg", "img_2.jpg"]
        assert data["private"] is True
        assert data["withheld"] == [
            "lat",
            "lon",
            "radius_km",
            "camera_make",
            "camera_model",
            "folder",
        ]
        assert data["filter"] == {}
        assert data["description"] == (
            "within a radius of a private place, with a private camera, in a private folder; "
            "nearest to a private place first"
        )
    csv_rows = outputs["GET /export.csv"].decode().splitlines()
    assert csv_rows[0] == "id,path,taken_at,utc_offset,time_estimated,labels,detections"
    assert len(csv_rows) == 4
    assert outputs["GET /export.csv"] == outputs["cli export csv"]
    html = outputs["GET /report"].decode()
    assert 'id="reopen"' not in html and 'id="no-reopen"' in html
    assert "within a radius of a private place" in html
    assert html.count('"file":"img_') == 3


def test_the_same_outputs_without_privacy_do_carry_the_filter(private_world, tmp_path):
    """The control: the needles are found where they belong, so their absence above means
    something."""
    app, folder, query = private_world
    client = app.test_client()
    report = client.get("/report?" + query).get_data()
    head = json.loads(client.get("/export.json?" + query).get_data())
    assert head["filter"]["lat"] == "38.7223" and head["filter"]["folder"] == str(folder)
    # the centre by its place (the filter in words) and the photos' places (the report's lists)
    needles = ["38.7223", "within 17.35 km of Lisbon, Portugal", "Lisbon, Portugal", MAKE, MODEL]
    assert all(n.encode() in report for n in needles)
    assert quote_plus(str(folder)).encode() in report and str(folder).encode() in report


def test_a_private_report_of_a_public_filter_keeps_its_link(private_world):
    app, _folder, _query = private_world
    html = app.test_client().get("/report?privacy=1&start=2019-05-01").get_data(as_text=True)
    assert 'id="reopen" href="http://localhost/?start=2019-05-01"' in html


# --- 2. roots that differ only in case ------------------------------------------------------


@pytest.mark.slow
def test_roots_that_differ_only_in_case_stay_apart(make_app, tmp_path):
    need_shared(Path(MODEL_CONFIG["YOLO_MODEL"]))
    upper, lower = tmp_path / "photos" / "Trip", tmp_path / "photos" / "trip"
    write_jpeg(upper / "a.jpg", pattern(seed=1))
    write_jpeg(lower / "b.jpg", pattern(seed=2))
    write_jpeg(lower / "sub" / "c.jpg", pattern(seed=3))
    bare = make_app(LABELERS="")
    assert index(bare, lower).indexed == 2
    labelled = make_app(**{**MODEL_CONFIG, "LABELERS": "coco"})
    for _ in range(2):  # the first run over Trip, and a re-index
        summary = index(labelled, upper)
        assert (summary.missing, summary.relabelled) == (0, 0), summary
    assert summary.processed == 0 and summary.unchanged == 1
    with session_of(labelled) as s:
        paths = {Path(p.path).name: p for p in s.scalars(select(PhotoPath))}
        done = {
            Path(path).name
            for path, _ in s.execute(
                select(PhotoPath.path, StageDone.stage)
                .join(StageDone, StageDone.photo_id == PhotoPath.photo_id)
                .where(StageDone.stage == "coco")  # (the places stage covers every photo)
            )
        }
    assert all(p.missing_since is None for p in paths.values()), paths
    assert done == {"a.jpg"}  # only Trip's photo was labelled; trip's were not queued

    client = labelled.test_client()

    def names(folder: Path) -> list[str]:
        r = client.get("/api/photos?" + urlencode({"folder": str(folder), "sort": "oldest"}))
        return sorted(p["file_name"] for p in r.get_json()["photos"])

    assert names(upper) == ["a.jpg"]
    assert names(lower) == ["b.jpg", "c.jpg"]
    assert names(tmp_path / "photos" / "TRIP") == []
    assert names(tmp_path / "photos") == ["a.jpg", "b.jpg", "c.jpg"]


def test_a_root_with_a_name_that_is_not_utf8_is_matched_bytewise(make_app, tmp_path):
    """Paths are stored as their bytes (FsPath): the prefix test compares bytes, so a root and
    files whose names are not UTF-8 are found again, and kept apart from a look-alike root."""
    base = os.fsencode(tmp_path)
    odd = Path(os.fsdecode(base + b"/caf\xe9"))  # Latin-1 "café": not UTF-8
    write_jpeg(odd / "x.jpg", pattern(seed=4))
    write_jpeg(Path(os.fsdecode(base + b"/caf\xe9/y\xff.jpg")), pattern(seed=5))
    write_jpeg(tmp_path / "CAF\xe9" / "z.jpg", pattern(seed=6))  # "CAFé" in UTF-8
    app = make_app()
    assert index(app, odd).indexed == 2
    assert index(app, tmp_path / "CAF\xe9").indexed == 1
    again = index(app, odd)
    assert (again.missing, again.unchanged, again.processed) == (0, 2, 0)
    whole = index(app, tmp_path)
    assert (whole.missing, whole.unchanged, whole.processed) == (0, 3, 0)
    with session_of(app) as s:
        assert all(p.missing_since is None for p in s.scalars(select(PhotoPath)))
    r = app.test_client().get("/api/photos?" + urlencode({"folder": str(tmp_path / "CAF\xe9")}))
    assert [p["file_name"] for p in r.get_json()["photos"]] == ["z.jpg"]


# --- 3. the GPS hemisphere comes from the ref ----------------------------------------------

LAT, LAT_REF = piexif.GPSIFD.GPSLatitude, piexif.GPSIFD.GPSLatitudeRef
LON, LON_REF = piexif.GPSIFD.GPSLongitude, piexif.GPSIFD.GPSLongitudeRef
SIGNED = {
    LAT: {"name": "GPSLatitude", "type": piexif.TYPES.SRational},
    LON: {"name": "GPSLongitude", "type": piexif.TYPES.SRational},
}
# 38° 43' 20.28" = 38.7223, 9° 8' 21.48" = 9.1393 (degrees, minutes, seconds as rationals)
LAT_DMS = ((38, 1), (43, 1), (2028, 100))
LON_DMS = ((9, 1), (8, 1), (2148, 100))


def negated(dms: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    """What a writer with signed rationals stores for a negative value: a negative degree."""
    (d, dd), *rest = dms
    return ((-d, dd), *rest)


def gps_jpeg(path: Path, lat_sign: int, lat_ref: str | None, lon_sign: int, lon_ref: str | None):
    """A JPEG whose GPS IFD holds the values as such a writer stores them: SRATIONAL (type 10)
    when negative, the usual RATIONAL when not, and the refs given (None: no ref tag)."""
    gps: dict[int, Any] = {
        LAT: LAT_DMS if lat_sign > 0 else negated(LAT_DMS),
        LON: LON_DMS if lon_sign > 0 else negated(LON_DMS),
    }
    if lat_ref:
        gps[LAT_REF] = lat_ref.encode()
    if lon_ref:
        gps[LON_REF] = lon_ref.encode()
    types = {tag: SIGNED[tag] for tag, sign in ((LAT, lat_sign), (LON, lon_sign)) if sign < 0}
    with mock.patch.dict(piexif.TAGS["GPS"], types):
        blob = piexif.dump({"GPS": gps})
    path.parent.mkdir(parents=True, exist_ok=True)
    pattern(seed=abs(hash(path.name)) % 50).save(path, "JPEG", exif=blob)
    return path


# (lat sign, lat ref, lon sign, lon ref) → (lat, lon). Every sign × ref pair for each axis.
GPS_CASES = {
    "pN_pW": ((+1, "N", +1, "W"), (38.7223, -9.1393)),
    "pS_mE": ((+1, "S", -1, "E"), (-38.7223, 9.1393)),
    "mN_pE": ((-1, "N", +1, "E"), (38.7223, 9.1393)),
    "mS_mW": ((-1, "S", -1, "W"), (-38.7223, -9.1393)),
    "mNone_mNone": ((-1, None, -1, None), (-38.7223, -9.1393)),  # no ref: the sign counts
}


def test_the_hemisphere_comes_from_the_ref_through_the_indexer(make_app, tmp_path):
    for name, (args, _) in GPS_CASES.items():
        gps_jpeg(tmp_path / "gps" / f"{name}.jpg", *args)
    # The files really hold signed rationals (read back by exiftool, an independent parser).
    out = subprocess.run(
        ["exiftool", "-v3", str(tmp_path / "gps" / "mS_mW.jpg")], capture_output=True, text=True
    ).stdout
    assert "GPSLatitude = -38 43 20.28" in out and "rational64s[3]" in out
    assert "GPSLatitudeRef = S" in out
    app = make_app()
    assert index(app, tmp_path / "gps").indexed == len(GPS_CASES)
    got = photos_by_name(app)
    for name, (_, (lat, lon)) in GPS_CASES.items():
        p = got[f"{name}.jpg"]
        assert p.lat == pytest.approx(lat, abs=1e-6), name
        assert p.lon == pytest.approx(lon, abs=1e-6), name
