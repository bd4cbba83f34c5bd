"""The places stage of an index run (pipelines/places.py): countries, regions, places and time
zones stored per photo, the offset resolved exif → gps → zone → none and sort_time kept, from the
index alone (no photo read again), incremental, re-run by --relabel places or a new gazetteer;
bad clocks, offsets and positions fall back a step and never stop a run; revision 0002."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import piexif
import pytest
from alembic import command
from sqlalchemy import delete, func, inspect, select, update
from sqlalchemy.orm import Session

from atw.core import derived, dialect, gazetteer, migrations
from atw.core.engine import make_engine
from atw.core.group_schema import PhotoGroup
from atw.core.schema import Label, Photo, PhotoClass, PhotoPath, StageDone
from pipelines import places
from tests.conftest import EXIF_DIR, MODEL_CONFIG, fresh_app, index, need_shared
from tests.photos import gps_ifd, pattern
from tests.test_localtime import REAL

T = datetime

# The country of every geotagged shared photo the indexer can open, checked by hand from its
# coordinates (the places DATA.md names: Italy, Kenya, Spain, Finland, USA, Germany, Mongolia,
# Iceland, Crimea, Poland, Fiji, Russia, France, Australia, Japan, Réunion, UK, Ethiopia).
# Crimea is UA: the time-zone polygons and ISO 3166 file it under Ukraine (see ATTRIBUTION.md).
COUNTRIES = {
    "67-0_length_string.jpg": "DE",  # Gummersbach, North Rhine-Westphalia
    "87_OSError.jpg": "IT",  # Florence
    "CorrectGPS.jpg": "IT",  # near Bologna
    "DSCN0010.jpg": "IT",  # Arezzo
    "DSCN0021.jpg": "IT",
    "DSCN0042.jpg": "IT",
    "HMD_Nokia_8.3_5G.jpg": "FI",  # Helsinki harbour
    "IMG_5195.HEIC": "US",  # near Kansas City, Missouri
    "IMG_5910.jpg": "US",  # Berkeley
    "IMG_6263.jpg": "US",  # Yosemite
    "IMG_9398-2.jpg": "US",  # Williams, Arizona
    "Iceland-P3.jpg": "IS",
    "Kodak_CX7530.jpg": "KE",  # on the equator near Nakuru
    "altitude.jpg": "UA",  # Crimea
    "before_epoch.jpg": "US",  # Yosemite
    "big_ben.jpg": "GB",
    "bird.jpg": "FI",  # Oulu
    "broken_orientation_exif.jpg": "US",  # Manhattan
    "chameleon_lime.jpg": "RE",  # Réunion
    "example.jpg": "RE",
    "example.tif": "RE",
    "gps-2000.jpg": "AU",  # Anglesea, Victoria
    "iphone_7.heic": "JP",  # Hyōgo
    "iphone_hdr_YES.jpg": "ES",  # Madrid
    "ladybug.jpg": "DE",
    "mongolia.jpeg": "MN",
    "newyear_london.jpg": "GB",
    "newyear_sydney.jpg": "AU",
    "orientation.jpg": "FR",  # Nice
    "panorama360.jpg": "RU",  # St Petersburg
    "parsingfromheic.heic": "ET",  # Addis Ababa
    "photoprism_digikam.jpg": "DE",  # Berlin
    "photoshop.jpg": "DE",
    "pigallery2_digikam.jpg": "JP",  # Chiba
    "sewing-threads.heic": "ES",  # Catalonia
    "ship.jpg": "PL",  # Bydgoszcz
    "smallFiji.JPG": "FJ",
    "sydney_opera_house.jpg": "AU",
}
# No usable position: 0,0 (a default, not a place), latitude 213.6, 0/0 rationals.
NO_POSITION = ("image-2011.jpg", "buggy_panorama.jpg", "snow.jpg")


def session_of(app: Any) -> Session:
    return Session(make_engine(app.config["DATABASE_URL"]))


def rows_by_name(app: Any) -> dict[str, Photo]:
    with session_of(app) as s:
        rows = s.execute(select(PhotoPath.path, Photo).join(Photo)).all()
        s.expunge_all()
    return {Path(path).name: p for path, p in rows}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The shared EXIF folder indexed once (metadata only; it is only read)."""
    need_shared(EXIF_DIR)
    app = fresh_app(tmp_path_factory.mktemp("shared") / "instance")
    summary = index(app, EXIF_DIR)
    assert summary.placed == summary.indexed > 100
    return app


def test_shared_photos_are_in_their_countries(shared):
    got = rows_by_name(shared)
    located = {n: p for n, p in got.items() if p.lat is not None}
    assert set(located) == set(COUNTRIES)
    for name, code in COUNTRIES.items():
        p = located[name]
        assert (p.country_code, p.at_sea) == (code, False), name
        assert p.region and p.place and 0 <= p.place_km < 100, name
        assert p.time_zone and not p.time_zone.startswith("Etc/"), name
    for name in NO_POSITION:
        p = got[name]
        assert (p.lat, p.country_code, p.place, p.time_zone) == (None, None, None, None), name


def test_shared_countries_agree_with_their_iptc_country_fields(shared):
    """Where a person or app wrote the country into the file (IPTC/XMP), it is ours too."""
    done = subprocess.run(
        ["exiftool", "-j", "-q", "-q", "-CountryCode", "-Country", str(EXIF_DIR)],
        capture_output=True,
        text=True,
        check=False,
    )
    got, checked = rows_by_name(shared), 0
    for r in json.loads(done.stdout):
        name, code = Path(r["SourceFile"]).name, r.get("CountryCode")
        if code and name in got and got[name].lat is not None:
            assert got[name].country_code == gazetteer.country(code).code, name
            checked += 1
    assert checked >= 8


def test_shared_photos_times_resolved_in_order(shared):
    got = rows_by_name(shared)
    for name, (offset, source, utc) in REAL.items():
        p = got[name]
        at = p.taken_at_utc.replace(microsecond=0)  # IMG_9398-2's XMP date has .31 s
        assert (p.utc_offset, p.offset_source, at) == (offset, source, utc), name
        assert p.sort_time == p.taken_at_utc
    # An offset written only in XMP, with the date it belongs to; no position needed.
    assert (got["image00971.jpg"].offset_source, got["image00971.jpg"].utc_offset) == (
        "exif",
        "+02:00",
    )
    for p in got.values():
        assert p.sort_time == (p.taken_at_utc or p.taken_at)
        assert (p.taken_at_utc is None) == (p.offset_source == "none")
        if p.taken_at_utc is not None:
            assert abs((p.taken_at - p.taken_at_utc).total_seconds()) <= 14 * 3600
        assert (p.offset_source == "file") == p.time_estimated  # no date: the file's time
    assert {p.offset_source for p in got.values()} == {"exif", "gps", "zone", "file", "none"}


def test_photo_json_has_time_and_place(shared):
    c = shared.test_client()
    photos = c.get("/api/photos?per_page=500").get_json()["photos"]
    by = {p["file_name"]: p for p in photos}
    big = by["big_ben.jpg"]
    assert (big["taken_at"], big["taken_at_utc"], big["utc_offset"]) == (
        "2023-06-07T13:45:55",
        "2023-06-07T12:45:55",
        "+01:00",
    )
    assert (big["offset_source"], big["time_zone"]) == ("exif", "Europe/London")
    assert big["place"] == {
        "country_code": "GB",
        "country": "United Kingdom",
        "region": "England",
        "name": "City of Westminster",
        "distance_km": pytest.approx(0.848, abs=0.01),
        "at_sea": False,
        "near": None,
    }
    assert by["image-2011.jpg"]["place"] is None and by["image-2011.jpg"]["time_zone"] is None
    assert by["smallFiji.JPG"]["place"]["country"] == "Fiji"


# --- written photos: at sea, bad clocks and offsets -------------------------------------------


def photo(path: Path, taken: str, *, offset: str | None = None, gps: Any = None, clock: Any = None):
    """A JPEG with DateTimeOriginal, optionally OffsetTimeOriginal, a position and a GPS clock
    ((date, (h, m, s)) as written, so impossible ones can be)."""
    exif = {piexif.ExifIFD.DateTimeOriginal: taken.encode()}
    if offset:
        exif[piexif.ExifIFD.OffsetTimeOriginal] = offset.encode()
    g = gps_ifd(*gps) if gps else {}
    if clock:
        g[piexif.GPSIFD.GPSDateStamp] = clock[0].encode()
        g[piexif.GPSIFD.GPSTimeStamp] = tuple((int(v), 1) for v in clock[1])
    path.parent.mkdir(parents=True, exist_ok=True)
    pattern((96, 72), seed=len(path.name)).save(
        path, "JPEG", exif=piexif.dump({"Exif": exif, "GPS": g})
    )
    return path


LISBON = (38.7223, -9.1393)
SUMMER = "2019:06:01 12:00:00"  # Lisbon is +01:00 then


def bad_input_root(root: Path) -> Path:
    photo(root / "good_gps.jpg", SUMMER, gps=LISBON, clock=("2019:06:01", (11, 0, 1)))
    photo(root / "clock_month_13.jpg", SUMMER, gps=LISBON, clock=("2019:13:45", (11, 0, 0)))
    photo(root / "clock_before_gps.jpg", SUMMER, gps=LISBON, clock=("1975:06:01", (11, 0, 0)))
    photo(root / "clock_off.jpg", SUMMER, gps=LISBON, clock=("2019:06:01", (8, 53, 0)))
    photo(root / "offset_1430.jpg", SUMMER, offset="+14:30", gps=LISBON)
    photo(root / "offset_0515.jpg", SUMMER, offset="+05:15", gps=LISBON)
    photo(root / "offset_0515_no_place.jpg", SUMMER, offset="+05:15")
    photo(root / "mid_atlantic.jpg", SUMMER, gps=(38.0, -35.0))
    photo(root / "nowhere.jpg", SUMMER)
    return root


def test_bad_clocks_offsets_and_positions_fall_back_one_step(make_app, tmp_path):
    app = make_app()
    summary = index(app, bad_input_root(tmp_path / "p"))
    assert summary.indexed == summary.placed == 9 and summary.quarantined == 0
    got = rows_by_name(app)
    want = {
        "good_gps.jpg": ("+01:00", "gps"),
        "clock_month_13.jpg": ("+01:00", "zone"),  # no GPS clock read at all
        "clock_before_gps.jpg": ("+01:00", "zone"),  # read, and refused: before 1980
        "clock_off.jpg": ("+01:00", "zone"),  # 3 h 07 min: no offset is that
        "offset_1430.jpg": ("+01:00", "zone"),  # beyond +14:00: not even stored
        "offset_0515.jpg": ("+01:00", "zone"),  # no zone uses +05:15
        "offset_0515_no_place.jpg": (None, "none"),  # …and nothing else to go by
        "mid_atlantic.jpg": ("-02:00", "zone"),  # the nautical zone there
        "nowhere.jpg": (None, "none"),
    }
    for name, (offset, source) in want.items():
        p = got[name]
        assert (p.utc_offset, p.offset_source) == (offset, source), name
        assert p.sort_time == (p.taken_at_utc or p.taken_at), name
    # The facts behind a fallback stay visible.
    assert got["clock_before_gps.jpg"].gps_at is None
    assert got["clock_off.jpg"].gps_at == T(2019, 6, 1, 8, 53)
    assert got["offset_0515.jpg"].exif_offset == "+05:15"
    assert got["offset_1430.jpg"].exif_offset is None
    sea = got["mid_atlantic.jpg"]
    assert (sea.at_sea, sea.country_code, sea.place, sea.time_zone) == (
        True,
        None,
        None,
        "Etc/GMT+2",
    )
    # the nearest populated place on any coast: Flores, Azores (39.38° N, 31.17° W), ~365 km
    assert sea.near == "Lajes das Flores, Portugal" and 340 < sea.place_km < 390
    body = app.test_client().get("/api/photos?per_page=50").get_json()["photos"]
    at_sea = next(p for p in body if p["file_name"] == "mid_atlantic.jpg")["place"]
    assert at_sea["at_sea"] is True and at_sea["country_code"] is None
    assert at_sea["near"] == sea.near and at_sea["name"] is None

    # Positions no zone covers (a latitude of 95°, written by an older tool) re-run alone:
    # no place, the offset falls through, the run completes.
    with session_of(app) as s, s.begin():
        s.execute(update(Photo).where(Photo.lat.is_not(None)).values(lat=95.0, lon=500.0))
    again = index(app, tmp_path / "p", relabel=["places"])
    assert again.placed == 9
    got = rows_by_name(app)
    assert got["good_gps.jpg"].offset_source == "gps"  # the GPS clock needs no place
    assert (got["clock_off.jpg"].offset_source, got["clock_off.jpg"].time_zone) == ("none", None)
    assert all(p.country_code is None and not p.at_sea for p in got.values())


# --- incremental, --relabel places, a new gazetteer, no decoding -----------------------------


class NoWorkers:
    """Stands in for the worker pool: a run that would read or decode a photo fails."""

    def __init__(self, *a: Any, **k: Any) -> None:
        raise AssertionError("a worker was started: a photo would be read again")


def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    import atw.core.media
    import pipelines.run

    monkeypatch.setattr(pipelines.run, "Pool", NoWorkers)

    def refuse(*a: Any, **k: Any) -> None:
        raise AssertionError("a photo was decoded")

    monkeypatch.setattr(atw.core.media, "open_image", refuse)


def places_of(app: Any) -> dict[str, tuple[Any, ...]]:
    cols = (
        Photo.country_code,
        Photo.region,
        Photo.place,
        Photo.place_km,
        Photo.at_sea,
        Photo.near,
        Photo.time_zone,
        Photo.utc_offset,
        Photo.offset_source,
        Photo.taken_at_utc,
        Photo.sort_time,
    )
    with session_of(app) as s:
        return {
            Path(r[0]).name: tuple(r[1:])
            for r in s.execute(select(PhotoPath.path, *cols).join(Photo))
        }


def stage_rows(app: Any) -> list[tuple[Any, ...]]:
    with session_of(app) as s:
        q = select(StageDone.photo_id, StageDone.model, StageDone.weights_id, StageDone.done_at)
        return sorted(s.execute(q.where(StageDone.stage == "places")).all())


def test_incremental_relabel_and_a_new_gazetteer(make_app, tmp_path, monkeypatch):
    app = make_app()
    root = bad_input_root(tmp_path / "p")
    assert index(app, root).placed == 9
    first, done = places_of(app), stage_rows(app)
    assert {(m, w) for _p, m, w, _d in done} == {("gazetteer", places.weights_id())}
    assert len(places.weights_id()) == 12

    no_decoding(monkeypatch)
    time.sleep(1.1)  # done_at has whole seconds: a rewrite would show
    assert index(app, root).placed == 0  # nothing to do
    assert stage_rows(app) == done

    res = app.test_cli_runner().invoke(args=["index", "--quiet", "--relabel", "places", str(root)])
    assert res.exit_code == 0, res.output
    assert "9 placed" in res.output and "0 re-labelled" in res.output
    assert places_of(app) == first
    redone = stage_rows(app)
    assert [r[:3] for r in redone] == [r[:3] for r in done] and redone != done

    monkeypatch.setattr(gazetteer, "GAZETTEER_VERSION", gazetteer.GAZETTEER_VERSION + "; changed")
    assert index(app, root).placed == 9
    assert {w for _p, _m, w, _d in stage_rows(app)} == {places.weights_id()} != {done[0][2]}
    monkeypatch.setattr(places, "TIME_RULES", places.TIME_RULES + 1)
    assert index(app, root).placed == 9
    assert index(app, root).placed == 0
    assert places_of(app) == first


def test_known_photos_get_places_without_being_read_again(make_app, tmp_path, monkeypatch):
    """An index whose photos have no places yet (as one made before them): the next run fills
    them from the rows alone, with the same values a fresh run gives."""
    app = make_app()
    root = bad_input_root(tmp_path / "p")
    index(app, root)
    want = places_of(app)
    with session_of(app) as s, s.begin():
        s.execute(delete(StageDone).where(StageDone.stage == "places"))
        blank = dict.fromkeys(("country_code", "region", "place", "place_km", "near", "time_zone"))
        s.execute(update(Photo).values(**blank, at_sea=False))
    assert places_of(app) != want
    no_decoding(monkeypatch)
    summary = index(app, root)
    assert (summary.processed, summary.placed) == (0, 9)
    assert places_of(app) == want


def test_class_summaries_follow_the_instant(tmp_path):
    """PhotoClass.sort_time and PhotoGroup.sort_time, the class and group plans' copies,
    equal the photo's after labelling (real models) and after the places stage moves it."""
    need_shared(Path(MODEL_CONFIG["IMAGENET_WEIGHTS"]), Path(MODEL_CONFIG["YOLO_MODEL"]))
    root = tmp_path / "p"
    root.mkdir()
    for name in ("DSCN0042.jpg", "big_ben.jpg", "boy1.jpg"):
        (root / name).write_bytes((EXIF_DIR / name).read_bytes())
    app = fresh_app(tmp_path / "instance", **MODEL_CONFIG)
    index(app, root)

    def pairs() -> set[tuple[Any, ...]]:
        with session_of(app) as s:
            q = select(PhotoClass.photo_id, PhotoClass.sort_time, Photo.sort_time).join(Photo)
            g = select(PhotoGroup.photo_id, PhotoGroup.sort_time, Photo.sort_time)
            g = g.join(Photo, Photo.id == PhotoGroup.photo_id)
            return {("class", *r) for r in s.execute(q)} | {("group", *r) for r in s.execute(g)}

    got = pairs()
    assert got and all(a == b for _k, _i, a, b in got)
    assert {k for k, *_ in got} == {"class", "group"}
    with session_of(app) as s:
        moved = s.scalar(select(func.count()).where(Photo.sort_time != Photo.taken_at))
    assert moved == 2  # Arezzo by its zone, Big Ben by its tag; boy1 has no offset
    with session_of(app) as s, s.begin():  # as if the stage had never run
        s.execute(update(PhotoClass).values(sort_time=PhotoClass.taken_at))
        s.execute(update(PhotoGroup).values(sort_time=PhotoGroup.taken_at))
        s.execute(update(Photo).values(sort_time=Photo.taken_at))
    index(app, root, relabel=["places"])
    assert pairs() == got


def test_derived_rebuild_keeps_sort_time(make_app, tmp_path):
    """rebuild (a repair; migration 0001 on schema-1 files) derives PhotoClass.sort_time too."""
    app = make_app()
    index(app, bad_input_root(tmp_path / "p"))
    with session_of(app) as s, s.begin():
        for pid, taken in s.execute(select(Photo.id, Photo.taken_at)).all():
            s.add(
                Label(
                    photo_id=pid,
                    source="imagenet",
                    label="cat",
                    score=0.5,
                    model="m",
                    weights_id="w",
                    taken_at=taken,
                )
            )
    with session_of(app) as s, s.begin():
        derived.rebuild(s)
    with session_of(app) as s:
        rows = s.execute(select(PhotoClass.sort_time, Photo.sort_time, Photo.taken_at).join(Photo))
        rows = rows.all()
    assert len(rows) == 9 and all(a == b for a, b, _t in rows)
    assert sum(b != t for _a, b, t in rows) >= 5  # the copy is of the instant, not taken_at


# --- revision 0002 on an index made before it -------------------------------------------------


def test_revision_0002_upgrades_an_older_index(make_app, tmp_path, monkeypatch):
    """Down to 0001 (as an index made before 0002: no place, time or GPS clock columns, the old
    meaning of utc_offset), then `db upgrade`'s step: instants from the stored offsets, no
    gazetteer; then the next index run places every photo without reading one."""
    app = make_app()
    root = bad_input_root(tmp_path / "p")
    pattern((64, 48)).save(root / "no_date.jpg")  # no metadata: the file time
    index(app, root)
    want = places_of(app)
    engine = make_engine(app.config["DATABASE_URL"])
    with dialect.migrating(engine) as conn:
        command.downgrade(migrations.config(conn), "0001")
    cols = {c["name"] for c in inspect(engine).get_columns("photo")}
    assert not cols & {"sort_time", "country_code", "gps_at", "offset_source"}
    with engine.connect() as conn:
        old = dict(conn.exec_driver_sql("SELECT id, utc_offset FROM photo").all())
        stages = conn.exec_driver_sql("SELECT count(*) FROM stage_done").scalar()
    assert stages == 0
    # What the old code stored: EXIF offsets only (+05:15 was accepted then), the file offset.
    assert sorted(v for v in old.values() if v) == sorted(
        ["+05:15", "+05:15", want["no_date.jpg"][7]]
    )

    before = migrations.upgrade(engine)
    engine.dispose()
    assert before.kind == "outdated"
    got = places_of(app)
    for name, row in got.items():
        assert row[:7] == (None, None, None, None, False, None, None), name  # no gazetteer run
        assert row[10] is not None and (row[9] is None or row[10] == row[9]), name
    assert got["no_date.jpg"][7:] == want["no_date.jpg"][7:]  # file times keep their instant
    assert got["no_date.jpg"][8] == "file"
    assert got["offset_0515.jpg"][7:9] == ("+05:15", "exif")  # as stored, until re-resolved
    assert got["nowhere.jpg"][7:10] == (None, "none", None)

    no_decoding(monkeypatch)
    summary = index(app, root)
    assert (summary.processed, summary.placed) == (0, 10)
    after = places_of(app)
    # good_gps.jpg's GPS clock was not stored before 0002: the zone gives it the same offset.
    assert after.pop("good_gps.jpg")[8] == "zone" and want.pop("good_gps.jpg")[8] == "gps"
    assert after == want


def test_placing_throughput_over_2000_photos_per_second(tmp_path):
    """The stage alone over 20,000 synthetic rows (bench/places_stage.py builds them), the
    gazetteer loaded before. Counted in this process's CPU time: the stage runs in one thread
    and SQLite in-process, and the test machine is shared (wall time there measures the
    neighbours); bench/places_stage.py prints both."""
    from bench.places_stage import build

    path = tmp_path / "s.sqlite"
    build(path, 20_000, seed=3)
    engine = make_engine(f"sqlite:///{path}")
    gazetteer.gazetteer().reverse  # noqa: B018 (loaded once per process)
    with Session(engine) as s:
        done = places.run_places(s)
        n = s.scalar(select(func.count()).select_from(StageDone))
    engine.dispose()
    assert done.photos == n == 20_000 and done.with_position > 14_000
    assert done.load_seconds < 0.1  # nothing left to load
    rate = done.photos / done.cpu_seconds
    assert rate >= 2000, f"{rate:.0f} photos per CPU second"
