"""The notebook API (atw.notebook.Archive) over a real index: its photos, labels, boxes, classes
and classes per period equal what /api/photos, /api/classes and /charts.json return for the
same filter words; dtypes; empty results; Python values; opening and refusing; read-only; no
pandas in the web process, no Flask in the notebook's."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tomllib
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pandas as pd
import pytest
from packaging.requirements import Requirement
from PIL import Image

from atw.core.migrations import SchemaOutdated
from atw.notebook import Archive, ArchiveError
from atw.notebook.figures import circle, world_map
from atw.query import filters, keywords
from atw.query.rules import FilterError
from tests.conftest import fresh_app
from tests.test_query import LISBON, SYDNEY, build_world, haversine, world

ROOT = Path(__file__).resolve().parents[1]

# (query string of the web, the same filter in Python values). PHOTOS: the photo root.
FILTERS: list[tuple[str, dict[str, Any]]] = [
    ("", {}),
    ("start=2014-06-01&end=2015-12-31", {"start": date(2014, 6, 1), "end": date(2015, 12, 31)}),
    ("classes=person", {"classes": ["person"]}),
    (
        "classes=umbrella,dog&match=any&min_score=0.5",
        {"classes": ["umbrella", "dog"], "match": "any", "min_score": 0.5},
    ),
    ("classes=umbrella,dog&match=all", {"classes": ("umbrella", "dog"), "match": "all"}),
    (
        "classes=seashore&min_score=0.5&source=imagenet",
        {"classes": "seashore", "min_score": 0.5, "source": "imagenet"},
    ),
    (
        f"lat={LISBON[0]}&lon={LISBON[1]}&radius_km=20&sort=nearest",
        {"lat": LISBON[0], "lon": LISBON[1], "radius_km": 20, "sort": "nearest"},
    ),
    ("lat=-17.0&lon=180&radius_km=50", {"lat": -17.0, "lon": 180, "radius_km": 50.0}),
    (
        f"lat={SYDNEY[0]}&lon={SYDNEY[1]}&radius_km=10&classes=car,person&match=any",
        {"lat": SYDNEY[0], "lon": SYDNEY[1], "radius_km": 10, "classes": {"person", "car"}},
    ),
    ("source=coco&has_gps=yes", {"source": "coco", "has_gps": True}),
    (
        "has_gps=no&estimated=exclude&sort=oldest",
        {"has_gps": False, "estimated": False, "sort": "oldest"},
    ),
    ("folder=PHOTOS/lisbon&camera_make=Canon", {"folder": "PHOTOS/lisbon", "camera_make": "Canon"}),
    ("classes=person&min_count=3", {"classes": ["person"], "min_count": 3}),
]
NOTHING = ("start=2030-01-01", {"start": datetime(2030, 1, 1, 15, 30)})


@pytest.fixture(scope="module")
def world_archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, Path]:
    """(app, photo root, instance folder): the query tests' world, indexed for real."""
    base = tmp_path_factory.mktemp("notebook")
    app = fresh_app(base / "instance")
    build_world(app, base / "photos", world())
    return app, base / "photos", base / "instance"


@pytest.fixture(scope="module")
def archive(world_archive: tuple[Any, Path, Path]) -> Any:
    with Archive(world_archive[2]) as a:
        yield a


def fix(q: str, kw: dict[str, Any], root: Path) -> tuple[str, dict[str, Any]]:
    q = q.replace("PHOTOS", str(root))
    kw = {k: (root / "lisbon" if v == "PHOTOS/lisbon" else v) for k, v in kw.items()}
    return q, kw


def api_photos(app: Any, q: str) -> tuple[int, list[dict[str, Any]]]:
    """(total, every photo) of /api/photos for q, page after page."""
    out: list[dict[str, Any]] = []
    page, client = 1, app.test_client()
    while True:
        r = client.get(f"/api/photos?per_page=7&page={page}&{q}")
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        out += body["photos"]
        if page * 7 >= body["total"]:
            return body["total"], out
        page += 1


def value(x: Any) -> Any:
    """A frame's cell as the JSON would have it (missing values as None)."""
    if x is None or (not isinstance(x, str) and pd.isna(x)):
        return None
    return x.item() if hasattr(x, "item") else x


def iso(ts: Any) -> str | None:
    if value(ts) is None:
        return None
    return (ts.tz_convert(None) if ts.tzinfo else ts).isoformat()


@pytest.mark.parametrize(("q", "kw"), FILTERS)
def test_photos_are_the_apis_photos(world_archive, archive, q, kw):
    app, root, _ = world_archive
    q, kw = fix(q, kw, root)
    total, recs = api_photos(app, q)
    df = archive.photos(**kw)
    assert df["id"].tolist() == [r["id"] for r in recs]  # the same photos in the same order
    assert archive.count(**kw) == total == len(df)
    if q:
        assert len(df) < len(archive.photos())  # the filter filters
    # The columns of issue 13's revision (UTC instant, offset source, zone, place) are checked
    # where the schema has them: the frame leaves out what the index lacks.
    later = {"taken_at_utc", "offset_source", "time_zone", "country_code"} & set(df.columns)
    for row, rec in zip(df.itertuples(index=False), recs, strict=True):
        assert iso(row.taken_at) == rec["taken_at"]
        if "taken_at_utc" in later:
            assert iso(row.taken_at_utc) == rec["taken_at_utc"]
        for name in ("utc_offset", "time_estimated", "lat", "lon", *later - {"taken_at_utc"}):
            if name != "country_code":
                assert value(getattr(row, name)) == rec[name], name
        for name in ("camera_make", "camera_model", "width", "height", "bytes", "format"):
            assert value(getattr(row, name)) == rec[name], name
        assert row.sha256 == rec["sha256"] and bool(row.damaged) == rec["damaged"]
        assert row.path == (rec["paths"] or rec["missing_paths"])[0]
        assert bool(row.missing) == rec["missing"]
        if "country_code" in later:
            place = rec["place"] or {}
            assert value(row.country_code) == place.get("country_code")
            assert value(row.country) == place.get("country")
            assert value(row.region) == place.get("region")
            assert value(row.place) == place.get("name")
        best = max((lb["score"] for lb in rec["labels"]), default=None)
        assert value(row.top_score) == best
        tops = {lb["label"] for lb in rec["labels"] if lb["score"] == best} or {None}
        assert value(row.top_label) in tops
        dets = rec["detections"]
        assert row.boxes == len(dets)
        assert set((value(row.objects) or "").split(", ")) - {""} == {d["label"] for d in dets}
        if "distance_km" in rec:  # sort=nearest: the API gives the distance
            assert row.distance_km == pytest.approx(rec["distance_km"], abs=1e-6)
    if "lat" in kw:  # a centre: every photo has its distance, within the radius
        want = [haversine((kw["lat"], kw["lon"]), (r["lat"], r["lon"])) for r in recs]
        assert df["distance_km"].tolist() == pytest.approx(want, abs=1e-6)
        assert (df["distance_km"] <= kw["radius_km"] + 1e-6).all()
    else:
        assert "distance_km" not in df


@pytest.mark.parametrize(("q", "kw"), FILTERS)
def test_labels_and_boxes_are_the_apis_long_form(world_archive, archive, q, kw):
    app, root, _ = world_archive
    q, kw = fix(q, kw, root)
    _, recs = api_photos(app, q)
    labels, boxes = archive.labels(**kw), archive.detections(**kw)
    want_labels = [
        (r["id"], lb["source"], lb["label"], lb["score"], lb["model"])
        for r in recs
        for lb in r["labels"]
    ]
    got = labels[["photo_id", "source", "label", "score", "model"]].itertuples(index=False)
    assert Counter(tuple(value(v) for v in t) for t in got) == Counter(want_labels)
    want_boxes = [
        (r["id"], "coco", d["label"], d["score"], *d["box"], d["model"])
        for r in recs
        for d in r["detections"]
    ]
    cols = ["photo_id", "source", "label", "score", "x0", "y0", "x1", "y1", "model"]
    got = boxes[cols].itertuples(index=False)
    assert Counter(tuple(value(v) for v in t) for t in got) == Counter(want_boxes)
    # Photos in the filter's order, each photo's rows best first.
    order = {r["id"]: i for i, r in enumerate(recs)}
    for df in (labels, boxes):
        keys = [(order[p], -s) for p, s in zip(df["photo_id"], df["score"], strict=True)]
        assert keys == sorted(keys)


@pytest.mark.parametrize(("q", "kw"), FILTERS)
def test_classes_are_the_apis_classes(world_archive, archive, q, kw):
    app, root, _ = world_archive
    q, kw = fix(q, kw, root)
    r = app.test_client().get(f"/api/classes?kind=class&{q}")
    assert r.status_code == 200
    want = [(c["label"], c["source"], c["photos"]) for c in r.get_json()]
    got = archive.classes(**kw)
    assert list(got.columns) == ["label", "source", "photos"]
    assert Counter(got.itertuples(index=False, name=None)) == Counter(want)
    assert got["photos"].is_monotonic_decreasing  # most photos first


@pytest.mark.parametrize(("q", "kw"), [FILTERS[0], FILTERS[2], FILTERS[3], FILTERS[9]])
def test_classes_per_period_are_the_dashboards(world_archive, archive, q, kw):
    app, root, _ = world_archive
    q, kw = fix(q, kw, root)
    r = app.test_client().get(f"/charts.json?{q}&period=month")
    assert r.status_code == 200
    data = r.get_json()
    want = {
        (t["name"], x[:7]): y
        for t in data["figures"]["classes_over_time"]["data"]
        for x, y in zip(t["x"], t["y"], strict=True)
    }
    got = archive.per_period("month", **kw)
    assert list(got["label"].drop_duplicates()) == data["shown"]
    assert {(lb, p.strftime("%Y-%m")): n for p, lb, n in got.itertuples(index=False)} == want
    assert sum(want.values()) > 0


def test_python_values_make_the_same_filter_as_the_web_words(world_archive, archive):
    _, root, _ = world_archive
    for q, kw in [*FILTERS, NOTHING]:
        q, kw = fix(q, kw, root)
        assert archive.filter(**kw) == filters.parse(dict(parse_qsl(q)))
        assert archive.filter(**dict(parse_qsl(q))) == archive.filter(**kw)  # text works too
    assert archive.filter(min_score=None, classes=None) == filters.PhotoFilter()  # None: absent


def test_every_word_parse_reads_is_accepted_and_a_typo_is_refused(archive):
    """New filter words (places, trips, …) pass through: the API knows parse()'s words."""
    assert keywords.words() == tuple(filters.PARAMS)
    for word in filters.PARAMS:
        assert archive.filter(**{word: None}) == filters.PhotoFilter()
    with pytest.raises(FilterError) as exc:
        archive.photos(radius=5)
    assert exc.value.param == "radius" and "did you mean radius_km?" in str(exc.value)


@pytest.mark.parametrize(
    ("q", "kw"),
    [
        ("min_score=high", {"min_score": "high"}),
        ("radius_km=10", {"radius_km": 10}),
        ("start=2015-01-01&end=2014-01-01", {"start": date(2015, 1, 1), "end": date(2014, 1, 1)}),
        ("match=some", {"match": "some"}),
        ("sort=nearest", {"sort": "nearest"}),
        ("has_gps=maybe", {"has_gps": "maybe"}),
    ],
)
def test_a_bad_filter_is_refused_as_the_api_refuses_it(world_archive, archive, q, kw):
    app = world_archive[0]
    r = app.test_client().get(f"/api/photos?{q}")
    assert r.status_code == 400
    with pytest.raises(FilterError) as exc:
        archive.photos(**kw)
    assert (exc.value.param, exc.value.message) == (
        r.get_json()["parameter"],
        r.get_json()["message"],
    )


def test_dtypes_and_empty_frames(archive):
    full = archive.photos(lat=LISBON[0], lon=LISBON[1], radius_km=20000)
    empty = archive.photos(start=date(2030, 1, 1), lat=0, lon=0, radius_km=1)
    assert len(full) > 0 and len(empty) == 0
    assert full.dtypes.to_dict() == empty.dtypes.to_dict()
    types = full.dtypes
    assert str(types["taken_at"]) == "datetime64[us]"  # the photo's own clock: naive
    if "taken_at_utc" in full:  # issue 13's revision
        assert str(types["taken_at_utc"]) == "datetime64[us, UTC]"
        assert full["taken_at_utc"].notna().any()
    for name in ("id", "bytes", "boxes"):
        assert types[name] == "int64", name
    for name in ("lat", "lon", "top_score", "distance_km"):
        assert types[name] == "float64", name
    for name in ("time_estimated", "damaged", "missing"):
        assert types[name] == "bool", name
    assert pd.api.types.is_string_dtype(types["path"])
    for method, cols in [
        ("labels", ["photo_id", "source", "label", "score", "model", "weights_id"]),
        ("detections", ["photo_id", "source", "label", "score", "x0", "y0", "x1", "y1"]),
        ("classes", ["label", "source", "photos"]),
    ]:
        some, none = getattr(archive, method)(), getattr(archive, method)(start="2030-01-01")
        assert len(some) > 0 and len(none) == 0
        assert list(some.columns)[: len(cols)] == cols == list(none.columns)[: len(cols)]
        assert some.dtypes.to_dict() == none.dtypes.to_dict()
    assert archive.per_period(start="2030-01-01").empty


def test_chunks_do_not_change_the_result(world_archive, archive):
    with Archive(world_archive[2], chunk=3) as small:
        for kw in ({}, {"classes": ["umbrella", "dog"]}, {"sort": "oldest"}):
            pd.testing.assert_frame_equal(small.photos(**kw), archive.photos(**kw))
            pd.testing.assert_frame_equal(small.labels(**kw), archive.labels(**kw))
            pd.testing.assert_frame_equal(small.detections(**kw), archive.detections(**kw))


# --- opening, refusing, reading only -------------------------------------------------------


def test_an_instance_folder_an_index_file_and_a_url_open_the_same_index(world_archive, archive):
    _, _, instance = world_archive
    db = instance / "atw.sqlite"
    want = archive.photos()
    for where in (str(instance), db, f"sqlite:///{db}"):
        with Archive(where) as a:
            pd.testing.assert_frame_equal(a.photos(), want)


def test_the_instance_settings_name_the_database(world_archive, tmp_path, monkeypatch):
    """instance/config.py's DATABASE_URL (the web app's layers), then ATW_DATABASE_URL."""
    _, _, instance = world_archive
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.py").write_text(f"DATABASE_URL = 'sqlite:///{instance / 'atw.sqlite'}'\n")
    with Archive(other) as a:
        assert a.count() == len(world())
    monkeypatch.setenv("ATW_DATABASE_URL", f"sqlite:///{tmp_path / 'nothing.sqlite'}")
    with pytest.raises(ArchiveError, match="no index at"):
        Archive(other)
    monkeypatch.setenv("ATW_DATABASE_URL", "")
    monkeypatch.setenv("ATW_THUMB_SIZE", "big")
    with pytest.raises(ArchiveError, match="ATW_THUMB_SIZE"):
        Archive(other)


def test_nothing_there_is_refused_and_nothing_is_created(tmp_path):
    with pytest.raises(ArchiveError, match="no instance folder or index file"):
        Archive(tmp_path / "missing")
    with pytest.raises(ArchiveError, match="no index at"):
        Archive(tmp_path)  # a folder without atw.sqlite
    with pytest.raises(ArchiveError, match="no index at"):
        Archive(f"sqlite:///{tmp_path / 'none.sqlite'}")
    assert list(tmp_path.iterdir()) == []  # no empty database left behind
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()
    with pytest.raises(ArchiveError, match="no atw index"):
        Archive(empty)


def test_an_index_at_another_schema_is_refused_with_the_command(tmp_path):
    old = tmp_path / "old.sqlite"
    with sqlite3.connect(old) as conn:  # an index written before atw used Alembic
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        conn.execute("INSERT INTO meta VALUES ('schema_version', '2')")
        conn.execute("CREATE TABLE photo (id INTEGER PRIMARY KEY)")
    with pytest.raises(SchemaOutdated, match="db upgrade"):
        Archive(old)


def test_the_archive_only_reads(world_archive, archive):
    db = world_archive[2] / "atw.sqlite"
    before = (db.read_bytes(), db.stat().st_mtime_ns)
    archive.photos()
    archive.labels(classes=["person"])
    archive.per_period()
    with archive.engine.connect() as conn, pytest.raises(Exception, match="readonly"):
        conn.exec_driver_sql("DELETE FROM photo")
    assert (db.read_bytes(), db.stat().st_mtime_ns) == before


def test_one_photos_record_and_image(world_archive, archive):
    app = world_archive[0]
    df = archive.photos(classes=["person"])
    pid = int(df["id"].iloc[0])
    rec = archive.record(pid)
    api = app.test_client().get(f"/api/photos/{pid}").get_json()
    api.pop("thumbnail_url")
    assert json.loads(json.dumps(rec)) == api
    thumb, original = archive.image(pid), archive.image(pid, original=True)
    assert isinstance(thumb, Image.Image) and thumb.mode == "RGB"
    assert max(thumb.size) == app.config["THUMB_SIZE"] < max(original.size)
    with Image.open(df["path"].iloc[0]) as img:
        assert original.size == img.size  # the test photos are smaller than DISPLAY_SIZE
    with pytest.raises(KeyError):
        archive.image(10**9)


def test_the_web_process_needs_no_pandas_and_the_notebook_no_flask(world_archive):
    code = (
        "import sys\n"
        "import atw.notebook, atw.web.factory\n"
        "loaded = lambda *names: sorted(m for m in names if m in sys.modules)\n"
        "print(loaded('pandas'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"  # importing the package (and the web app) loads no pandas
    code = (
        "import sys\n"
        "from atw.notebook import Archive\n"
        f"a = Archive({str(world_archive[2])!r})\n"
        "print(len(a.photos()), len(a.labels()), len(a.per_period()))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in\n"
        "      {'flask', 'werkzeug', 'flask_wtf', 'wtforms', 'torch', 'onnxruntime', 'pipelines'}\n"
        "      or m.startswith(('atw.web', 'atw.cli', 'atw.services'))))\n"
        "print('pandas' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATW_")}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    counts, modules, pandas = out.stdout.strip().splitlines()
    assert counts.split()[0] == str(len(world()))
    assert modules == "[]" and pandas == "True"


# --- the offline map ---------------------------------------------------------------------


@pytest.mark.parametrize("centre", [LISBON, (-17.0, 179.9), (89.0, 45.0)])
def test_the_maps_circle_is_the_radius_and_the_map_fetches_nothing(archive, centre):
    lats, lons = circle(*centre, 300)
    points = [(a, b) for a, b in zip(lats, lons, strict=True) if a is not None]
    assert len(points) >= 181
    for p in points:
        assert haversine(centre, p) == pytest.approx(300, abs=1e-6)
    assert all(-180 <= b <= 180 for _, b in points)
    near = archive.photos(lat=centre[0], lon=centre[1], radius_km=300)
    fig = world_map(near, centre=centre, radius_km=300, others=archive.photos(has_gps=True))
    layout = fig.to_plotly_json()["layout"]["geo"]
    assert layout["visible"] is False  # no base layer: plotly.js fetches no topojson
    names = [t.name for t in fig.data]
    assert f"{near['lat'].notna().sum()} photos" in names and "300 km" in names


def test_query_strings_round_trip_through_the_python_words():
    """to_args gives text parse() reads, for every kind of value."""
    kw = {"start": date(2014, 1, 2), "classes": ["dog", "beach"], "has_gps": True}
    assert keywords.to_args(kw) == {"start": "2014-01-02", "classes": "dog,beach", "has_gps": "yes"}
    assert urlencode(keywords.to_args({"estimated": False})) == "estimated=exclude"


def test_pandas_is_the_notebook_extra_not_a_dependency_of_the_web_install():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {Requirement(s).name.lower() for s in project["dependencies"]}
    assert "pandas" not in names
    (pandas,) = project["optional-dependencies"]["notebook"]
    assert Requirement(pandas).name == "pandas"
    assert Requirement(pandas).specifier.contains(pd.__version__)
