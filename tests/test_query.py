"""The query layer over a real index: filters, orders, pages and class counts against a reference
computed here, in plain Python, from the known fixture data (never by the query layer)."""

from __future__ import annotations

import math
import os
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atw.core import geo
from atw.core.derived import bucket, class_rows
from atw.core.engine import create_schema, make_engine
from atw.core.migrations import SchemaOutdated
from atw.core.schema import ClassCount, Detection, Label, Photo, PhotoClass, PhotoPath
from atw.query import records, search
from atw.query.filters import FilterError, PhotoFilter, describe, parse, to_args
from pipelines.labelers.base import Box
from pipelines.labelers.base import Label as LabelItem
from pipelines.worker import Result, StageResult, Task
from pipelines.writer import Writer
from tests.conftest import fresh_app, index
from tests.photos import pattern, write_jpeg

pytestmark = pytest.mark.databases  # on SQLite and on PostgreSQL (tests/conftest.py)

R_KM = 6371.0088  # the haversine package's mean Earth radius


def haversine(a: tuple[float, float], b: tuple[float, float]) -> float:
    """The great-circle distance, written out here on purpose: an independent reference for
    atw.core.geo (which calls the `haversine` package) and for the SQL radius test."""
    (la1, lo1), (la2, lo2) = (map(math.radians, a)), (map(math.radians, b))
    h = (
        math.sin((la2 - la1) / 2) ** 2
        + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    )
    return 2 * R_KM * math.asin(math.sqrt(h))


def dest(lat: float, lon: float, km: float, bearing: float) -> tuple[float, float]:
    """The point km away from (lat, lon) on an initial bearing (degrees), on the sphere."""
    p1, l1, d, th = math.radians(lat), math.radians(lon), km / R_KM, math.radians(bearing)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(th))
    l2 = l1 + math.atan2(
        math.sin(th) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    return round(math.degrees(p2), 6), round((math.degrees(l2) + 540) % 360 - 180, 6)


# --- the fixture world ----------------------------------------------------------------------

LISBON = (38.72, -9.14)
SYDNEY = (-33.87, 151.21)
CAMERAS = [("Canon", "EOS 6D"), ("Apple", "iPhone 12"), ("Apple", "iPhone 8"), (None, None)]
FOLDERS = [
    "lisbon",
    "100%_done",
    "100x_done",
    "a_b",
    "aXb",
    "trip",
    "trip-old",
    "Trip",
    "trip/day1",
]
IMAGENET = ["seashore", "sandbar", "alp", "valley", "umbrella"]
COCO_CLASSES = ["person", "dog", "umbrella", "car"]


@dataclass
class P:
    name: str
    folder: str
    taken: str | None  # EXIF "YYYY:MM:DD HH:MM:SS"; None → estimated from mtime
    gps: tuple[float, float] | None = None
    camera: tuple[str | None, str | None] = (None, None)
    mtime: datetime | None = None
    imagenet: list[tuple[str, float]] = field(default_factory=list)
    coco: list[tuple[str, float]] = field(default_factory=list)
    id: int = 0
    # The capture instant as the index stored it (taken_at_utc, read back by build_world):
    # newest/oldest first order by it where there is one, else by the wall-clock time.
    instant: datetime | None = None

    @property
    def order_key(self) -> datetime:
        return self.instant or self.taken_at

    @property
    def taken_at(self) -> datetime:
        if self.taken is None:
            assert self.mtime is not None
            return self.mtime
        return datetime.strptime(self.taken, "%Y:%m:%d %H:%M:%S")

    @property
    def path_rel(self) -> str:
        return f"{self.folder}/{self.name}.jpg"


def world() -> list[P]:
    rnd = random.Random(4)
    ps = [
        P("lis_centre", "lisbon", "2014:06:01 00:00:00", LISBON),
        P("lis_10n", "lisbon", "2014:05:31 23:59:59", dest(*LISBON, 10, 0)),
        P("lis_in_e", "lisbon", "2014:07:31 23:59:59", dest(*LISBON, 19.95, 90)),
        P("lis_out_e", "lisbon", "2014:08:01 00:00:00", dest(*LISBON, 20.05, 90)),
        P("lis_in_ssw", "lisbon", "2014:06:15 08:00:00", dest(*LISBON, 19.9, 200)),
        P("lis_out_w", "lisbon", "2014:06:16 08:00:00", dest(*LISBON, 20.05, 270)),
        P("fiji_e", "trip", "2015:03:01 10:00:00", (-17.0, 179.9)),
        P("fiji_w", "trip", "2015:03:01 11:00:00", (-17.0, -179.9)),
        P("fiji_far", "trip", "2015:03:02 10:00:00", (-17.0, 179.0)),
        P("north_0", "trip/day1", "2015:07:01 10:00:00", (89.9, 0.0)),
        P("north_180", "trip/day1", "2015:07:01 11:00:00", (89.9, 180.0)),
        P("north_90", "trip/day1", "2015:07:01 12:00:00", (89.95, 90.0)),
        P("north_far", "trip-old", "2015:07:02 12:00:00", (89.0, 45.0)),
        P("south_pole", "Trip", "2016:12:01 12:00:00", (-89.95, 10.0)),
        P("sydney", "100%_done", "2017:01:01 09:00:00", SYDNEY),
        P("sydney_5", "100x_done", "2017:01:02 09:00:00", dest(*SYDNEY, 5, 45)),
        P("buenos_aires", "a_b", "2017:02:01 09:00:00", (-34.60, -58.38)),
        P("new_york", "aXb", "2017:03:01 09:00:00", (40.71, -74.01)),
        P("tokyo", "lisbon", "2017:04:01 09:00:00", (35.68, 139.69)),
        P("nogps_1", "a_b", "2014:06:10 09:00:00"),
        P("nogps_2", "aXb", "2018:06:10 09:00:00"),
        P("est_jun", "trip", None, mtime=datetime(2014, 6, 15, 12, 0, 0)),
        P("est_aug", "trip", None, mtime=datetime(2014, 8, 15, 12, 0, 0)),
    ]
    # Same time and place: pagination and nearest ties are broken by id.
    ps += [P(f"tie_{c}", "trip", "2016:01:01 10:00:00", SYDNEY) for c in "abcd"]
    for i, p in enumerate(ps):
        p.camera = CAMERAS[i % len(CAMERAS)]
        for lb in rnd.sample(IMAGENET, rnd.randint(0, 3)):
            p.imagenet.append((lb, round(rnd.uniform(0.02, 0.9), 4)))
        for _ in range(rnd.randint(0, 6)):
            p.coco.append((rnd.choice(COCO_CLASSES), round(rnd.uniform(0.2, 1.0), 4)))
    crowd = ps[0]  # seven people, the k > 5 fallback to the detection table
    crowd.coco = [("person", s) for s in (0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.3)] + [("dog", 0.55)]
    crowd.imagenet = [("seashore", 0.5), ("umbrella", 0.3)]
    ps[1].imagenet, ps[1].coco = [("seashore", 0.5001)], [("umbrella", 0.7)]
    ps[2].imagenet, ps[2].coco = [("seashore", 0.4999)], []
    return ps


def session_of(app: Any) -> Session:
    return Session(make_engine(app.config["DATABASE_URL"]))


def write_labels(
    app: Any, photos: list[P], model: str = "m1", stages: tuple[str, ...] = ()
) -> None:
    """Store the photos' labels and boxes through the real Writer (as an index run would)."""
    stages = stages or ("imagenet", "coco")
    with session_of(app) as s:
        cols = [
            PhotoPath.photo_id,
            PhotoPath.path,
            PhotoPath.root,
            PhotoPath.size,
            PhotoPath.mtime_ns,
        ]
        paths = {
            r.photo_id: r for r in s.execute(select(*cols).where(PhotoPath.missing_since.is_(None)))
        }
        shas = dict(s.execute(select(Photo.id, Photo.sha256)).all())
        s.rollback()
        results = []
        for p in photos:
            pp = paths[p.id]
            st = []
            if "imagenet" in stages:
                st.append(
                    StageResult(
                        "imagenet", model, f"w-{model}", [LabelItem(*x) for x in p.imagenet]
                    )
                )
            if "coco" in stages:
                boxes = [Box(lb, sc, (0.1, 0.2, 0.5, 0.6)) for lb, sc in p.coco]
                st.append(StageResult("coco", model, f"w-{model}", boxes))
            task = Task(pp.path, pp.root, pp.size, pp.mtime_ns, p.id, stages)
            results.append(Result(task, "labels", shas[p.id], pp.size, pp.mtime_ns, stages=st))
        Writer(s, 0).write_batch(results)


def build_world(app: Any, root: Path, photos: list[P]) -> None:
    for i, p in enumerate(photos):
        path = write_jpeg(
            root / p.path_rel,
            pattern(seed=i),
            taken=p.taken,
            gps=p.gps,
            make=p.camera[0],
            model=p.camera[1],
        )
        if p.mtime is not None:
            ts = p.mtime.timestamp()
            os.utime(path, (ts, ts))
    summary = index(app, root)
    assert summary.indexed == len(photos), summary.errors
    with session_of(app) as s:
        ids = dict(s.execute(select(PhotoPath.path, PhotoPath.photo_id)).all())
        utc = dict(s.execute(select(Photo.id, Photo.taken_at_utc)).all())
    for p in photos:
        p.id = ids[str(root / p.path_rel)]
        p.instant = utc[p.id]
    write_labels(app, photos)


def module_world(base: Path, module_database: Any, photos: list[P]) -> tuple[Any, Path, list[P]]:
    """An app on the module's database (SQLite or PostgreSQL: tests/conftest.py) under base,
    the photos written and indexed (build_world): (app, the photos' root, photos)."""
    app = fresh_app(base / "instance", DATABASE_URL=module_database(base / "instance"))
    build_world(app, base / "photos", photos)
    return app, base / "photos", photos


@pytest.fixture(scope="module")
def fixture_world(
    tmp_path_factory: pytest.TempPathFactory, module_database: Any
) -> tuple[Any, Path, list[P]]:
    return module_world(tmp_path_factory.mktemp("world"), module_database, world())


# --- the reference: the filter's meaning, in plain Python over the fixture data -------------


def ref_has(p: P, label: str, flt: PhotoFilter) -> list[str]:
    """The sources in which class `label` alone selects photo p under the filter."""
    t = flt.min_score if flt.min_score is not None else 0.0
    k = flt.min_count
    sources = ["coco"] if k > 1 else (["imagenet", "coco"] if flt.source == "any" else [flt.source])
    out = []
    for s in sources:
        items = p.imagenet if s == "imagenet" else p.coco
        scores = [sc for lb, sc in items if lb == label]
        if scores and sum(sc >= t for sc in scores) >= k:
            out.append(s)
    return out


def ref_match(p: P, flt: PhotoFilter, root: Path) -> bool:
    d = p.taken_at.date()
    if (flt.start and d < flt.start) or (flt.end and d > flt.end):
        return False
    if not flt.estimated and p.taken is None:
        return False
    if flt.classes:
        hits = [bool(ref_has(p, c, flt)) for c in flt.classes]
        if not (all(hits) if flt.match == "all" else any(hits)):
            return False
    if flt.radius_km is not None and (
        p.gps is None or haversine((flt.lat, flt.lon), p.gps) > flt.radius_km
    ):
        return False
    if flt.has_gps is not None and (p.gps is not None) != flt.has_gps:
        return False
    if flt.camera_make and p.camera[0] != flt.camera_make:
        return False
    if flt.camera_model and p.camera[1] != flt.camera_model:
        return False
    return not (flt.folder and not str(root / p.path_rel).startswith(flt.folder.rstrip("/") + "/"))


def reference(photos: list[P], flt: PhotoFilter, root: Path) -> list[int]:
    hits = [p for p in photos if ref_match(p, flt, root)]
    if flt.sort == "nearest":
        centre = (flt.lat, flt.lon)
        with_gps = sorted(
            (p for p in hits if p.gps), key=lambda p: (haversine(centre, p.gps), -p.id)
        )
        without = sorted((p for p in hits if not p.gps), key=lambda p: -p.id)
        return [p.id for p in with_gps + without]
    rev = flt.sort == "newest"  # by the capture instant, class groups too (issue 13)
    return [p.id for p in sorted(hits, key=lambda p: (p.order_key, p.id), reverse=rev)]


def ref_counts(photos: list[P], flt: PhotoFilter, root: Path) -> list[dict[str, Any]]:
    ids = set(reference(photos, flt, root))
    counts: Counter[tuple[str, str]] = Counter()
    for p in photos:
        if p.id in ids:
            for label in {lb for lb, _ in p.imagenet + p.coco}:
                for s in ref_has(p, label, flt):
                    counts[(label, s)] += 1
    out = [{"label": lb, "source": s, "photos": n} for (lb, s), n in counts.items()]
    return sorted(out, key=lambda r: (-r["photos"], r["label"], r["source"]))


def names(photos: list[P], ids: list[int]) -> list[str]:
    by_id = {p.id: p.name for p in photos}
    return [by_id[i] for i in ids]


def run(app: Any, flt: PhotoFilter, per_page: int = 1000) -> search.Page:
    with session_of(app) as s:
        return search.search(s, flt, 1, per_page)


# --- geometry (pure) ------------------------------------------------------------------------


def test_bbox_holds_every_point_of_the_circle_antimeridian_and_poles():
    rnd = random.Random(1)
    centres = [(0, 179.95), (-17, -179.9), (89.9, 0), (89.99, 120), (-89.9, 10), (60, 0)]
    centres += [(rnd.uniform(-90, 90), rnd.uniform(-180, 180)) for _ in range(200)]
    for lat, lon in centres:
        for r in (0.5, 20, 50, 1000, 9000):
            box = geo.bbox(lat, lon, r)
            for bearing in range(0, 360, 5):
                for frac in (0.5, 0.999):
                    p = dest(lat, lon, r * frac, bearing)
                    assert box.lat_min <= p[0] <= box.lat_max, (lat, lon, r, p)
                    assert not box.lon_ranges or any(
                        lo <= p[1] <= hi for lo, hi in box.lon_ranges
                    ), (lat, lon, r, p, box)
    # Across ±180° the box is two ranges; reaching a pole it spans every longitude.
    assert len(geo.bbox(-17.0, 179.9, 25).lon_ranges) == 2
    assert geo.bbox(89.9, 0.0, 25).lon_ranges == ()
    assert geo.bbox(10, 10, 30000).lon_ranges == ()
    assert abs(geo.distance_km(*LISBON, *dest(*LISBON, 20.0, 33)) - 20.0) < 1e-3  # dest: 6 dp


# --- radius, dates, estimated times ------------------------------------------------------------


def test_radius_sets_equal_an_independent_haversine(fixture_world):
    app, root, photos = fixture_world
    cases = [
        (LISBON, 20.0, {"lis_centre", "lis_10n", "lis_in_e", "lis_in_ssw"}),
        ((-17.0, 179.9), 25.0, {"fiji_e", "fiji_w"}),  # 179.9° E and W, ≈21 km apart
        ((-17.0, -179.9), 15.0, {"fiji_w"}),
        ((-17.0, 180.0), 15.0, {"fiji_e", "fiji_w"}),
        ((89.9, 0.0), 25.0, {"north_0", "north_180", "north_90"}),  # across the pole
        ((90.0, 0.0), 12.0, {"north_0", "north_180", "north_90"}),
        ((-90.0, 0.0), 10.0, {"south_pole"}),
        (SYDNEY, 6.0, {"sydney", "sydney_5", "tie_a", "tie_b", "tie_c", "tie_d"}),
        ((-34.6, -58.38), 1.0, {"buenos_aires"}),
        ((40.71, -74.01), 0.5, {"new_york"}),
        ((35.68, 139.69), 0.5, {"tokyo"}),
        ((0.0, 0.0), 50.0, set()),
    ]
    for (lat, lon), r, expected in cases:
        flt = PhotoFilter(lat=lat, lon=lon, radius_km=r)
        ref = reference(photos, flt, root)
        assert set(names(photos, ref)) == expected, (lat, lon, r)  # the fixture is what we think
        page = run(app, flt)
        assert page.ids == ref and page.total == len(ref), (lat, lon, r)
    # The whole globe: every photo with GPS.
    flt = PhotoFilter(lat=0.0, lon=0.0, radius_km=20037.5)  # the cap: half the circumference
    assert set(run(app, flt).ids) == {p.id for p in photos if p.gps}


def test_dates_are_inclusive_local_days_and_estimated_times_can_be_excluded(fixture_world):
    app, root, photos = fixture_world
    jun_jul = PhotoFilter(start=date(2014, 6, 1), end=date(2014, 7, 31))
    got = set(names(photos, run(app, jun_jul).ids))
    assert {"lis_centre", "lis_in_e", "est_jun"} <= got  # 00:00:00 and 23:59:59 both in
    assert not {"lis_10n", "lis_out_e", "est_aug"} & got  # a second outside either end
    assert "est_jun" not in names(photos, run(app, replace(jun_jul, estimated=False)).ids)
    one_day = PhotoFilter(start=date(2014, 8, 1), end=date(2014, 8, 1))
    assert names(photos, run(app, one_day).ids) == ["lis_out_e"]
    for flt in (
        jun_jul,
        replace(jun_jul, estimated=False),
        PhotoFilter(end=date(2014, 6, 1)),
        PhotoFilter(start=date(2016, 1, 1)),
        PhotoFilter(estimated=False),
    ):
        assert run(app, flt).ids == reference(photos, flt, root)


# --- classes ----------------------------------------------------------------------------------


def test_classes_any_all_source_threshold_and_counts(fixture_world):
    app, root, photos = fixture_world
    checks = [
        PhotoFilter(classes=("seashore",), min_score=0.5),
        PhotoFilter(classes=("seashore", "alp"), match="any"),
        PhotoFilter(classes=("seashore", "person"), match="all", min_score=0.5),
        PhotoFilter(classes=("umbrella",)),  # in both ImageNet and COCO
        PhotoFilter(classes=("umbrella",), source="imagenet"),
        PhotoFilter(classes=("umbrella",), source="coco", min_score=0.6),
        PhotoFilter(classes=("person",), min_count=3),
        PhotoFilter(classes=("person",), min_count=3, min_score=0.8),
        PhotoFilter(classes=("person",), min_count=5, min_score=0.6),
        PhotoFilter(classes=("person",), min_count=6),  # beyond the stored top five
        PhotoFilter(classes=("person",), min_count=7, min_score=0.3),
        PhotoFilter(classes=("person", "dog"), match="all", min_count=2),
        PhotoFilter(classes=("zebra",)),  # a known class that no photo has
        PhotoFilter(classes=("zebra", "person"), match="all"),
        PhotoFilter(classes=("zebra", "person"), match="any"),
    ]
    for flt in checks:
        assert run(app, flt).ids == reference(photos, flt, root), describe(flt)
    # The threshold is ≥ at the stored precision.
    got = names(photos, run(app, PhotoFilter(classes=("seashore",), min_score=0.5)).ids)
    assert "lis_centre" in got and "lis_10n" in got and "lis_in_e" not in got
    seven = PhotoFilter(classes=("person",), min_count=7, min_score=0.3)
    assert names(photos, run(app, seven).ids) == ["lis_centre"]
    assert run(app, replace(seven, min_score=0.31)).ids == []


def test_class_counts_within_the_filtered_set(fixture_world):
    app, root, photos = fixture_world
    filters = [
        PhotoFilter(),
        PhotoFilter(min_score=0.5),
        PhotoFilter(min_score=0.555),  # off the 0.01 grid: the exact generic path
        PhotoFilter(source="coco"),
        PhotoFilter(min_count=2, classes=("person",)),
        PhotoFilter(start=date(2014, 6, 1), end=date(2014, 7, 31)),
        PhotoFilter(lat=LISBON[0], lon=LISBON[1], radius_km=20),
        PhotoFilter(classes=("seashore",), min_score=0.3),
    ]
    with session_of(app) as s:
        for flt in filters:
            assert search.class_counts(s, flt) == ref_counts(photos, flt, root), describe(flt)
        # A class's count is what selecting that class alone would find.
        for row in search.class_counts(s, PhotoFilter(min_score=0.4)):
            flt = PhotoFilter(classes=(row["label"],), source=row["source"], min_score=0.4)
            assert search.search(s, flt).total == row["photos"]


# --- photo conditions ---------------------------------------------------------------------------


def test_folder_prefix_is_literal_and_camera_and_gps_filters(fixture_world):
    app, root, photos = fixture_world
    for folder, expected in [
        ("100%_done", {"sydney"}),  # % and _ are not wildcards
        ("a_b", {"buenos_aires", "nogps_1"}),
        ("trip", None),  # trip/ and trip/day1/, never trip-old/ or Trip/
        ("trip/day1", {"north_0", "north_180", "north_90"}),
        ("Trip", {"south_pole"}),
        ("tri", set()),
    ]:
        flt = PhotoFilter(folder=str(root / folder))
        ref = reference(photos, flt, root)
        if expected is not None:
            assert set(names(photos, ref)) == expected
        assert run(app, flt).ids == ref, folder
    trip = set(names(photos, run(app, PhotoFilter(folder=str(root / "trip") + "/")).ids))
    assert "north_0" in trip and "north_far" not in trip and "south_pole" not in trip
    assert run(app, PhotoFilter(folder=str(root))).total == len(photos)
    for flt in [
        PhotoFilter(camera_make="Apple"),
        PhotoFilter(camera_make="Apple", camera_model="iPhone 8"),
        PhotoFilter(camera_model="EOS 6D"),
        PhotoFilter(camera_make="apple"),  # exact strings
        PhotoFilter(has_gps=True),
        PhotoFilter(has_gps=False),
    ]:
        assert run(app, flt).ids == reference(photos, flt, root), describe(flt)
    assert set(names(photos, run(app, PhotoFilter(has_gps=False)).ids)) == {
        "nogps_1",
        "nogps_2",
        "est_jun",
        "est_aug",
    }


# --- order and pages -----------------------------------------------------------------------------


def test_sort_orders_nearest_distances_and_stable_pages(fixture_world):
    app, root, photos = fixture_world
    for flt in [
        PhotoFilter(),
        PhotoFilter(sort="oldest"),
        PhotoFilter(lat=SYDNEY[0], lon=SYDNEY[1], sort="nearest"),
        PhotoFilter(lat=-17.0, lon=179.99, radius_km=200, sort="nearest"),
    ]:
        assert run(app, flt).ids == reference(photos, flt, root), describe(flt)
    near = PhotoFilter(lat=LISBON[0], lon=LISBON[1], radius_km=20.0, sort="nearest")
    page = run(app, near)
    assert names(photos, page.ids) == ["lis_centre", "lis_10n", "lis_in_ssw", "lis_in_e"]
    by_id = {p.id: p for p in photos}
    assert page.distances is not None
    for pid, d in zip(page.ids, page.distances, strict=True):
        assert d == pytest.approx(haversine(LISBON, by_id[pid].gps), abs=1e-3)
    with session_of(app) as s:
        recs = records.photo_records(s, page.ids, page.distances)
    assert [r["distance_km"] for r in recs] == pytest.approx(page.distances, abs=1e-5)
    # Pages of 2 over ties (same time, same place) are stable and cover each photo once.
    for flt in [
        PhotoFilter(),
        PhotoFilter(sort="oldest"),
        PhotoFilter(lat=SYDNEY[0], lon=SYDNEY[1], radius_km=10, sort="nearest"),
    ]:
        full = reference(photos, flt, root)
        with session_of(app) as s:
            pages = [search.search(s, flt, n, 2) for n in range(1, len(full) // 2 + 3)]
        assert [i for pg in pages for i in pg.ids] == full
        assert {pg.total for pg in pages} == {len(full)}
    ties = sorted((p.id for p in photos if p.name.startswith("tie_")), reverse=True)
    newest = reference(photos, PhotoFilter(), root)
    assert [i for i in newest if i in ties] == ties


def test_random_filter_combinations_match_the_reference(fixture_world):
    app, root, photos = fixture_world
    rnd = random.Random(11)
    centres = [LISBON, SYDNEY, (-17.0, 179.95), (89.95, -30.0), (-34.6, -58.38)]
    days = [date(2014, 6, 1), date(2014, 7, 31), date(2015, 3, 1), date(2017, 1, 1)]
    checked = 0
    with session_of(app) as s:
        for _ in range(300):
            kw: dict[str, Any] = {}
            if rnd.random() < 0.4:
                a, b = sorted(rnd.sample(days, 2))
                kw.update(start=a if rnd.random() < 0.8 else None, end=b)
            if rnd.random() < 0.2:
                kw["estimated"] = False
            if rnd.random() < 0.6:
                kw["classes"] = tuple(rnd.sample(IMAGENET + COCO_CLASSES, rnd.randint(1, 3)))
                kw["match"] = rnd.choice(["any", "all"])
                kw["source"] = rnd.choice(["any", "any", "imagenet", "coco"])
                kw["min_score"] = rnd.choice([None, 0.3, 0.5, 0.55, 0.8])
                if kw["source"] != "imagenet" and rnd.random() < 0.3:
                    kw["min_count"] = rnd.choice([2, 3, 6])
            if rnd.random() < 0.4:
                (lat, lon), r = rnd.choice(centres), rnd.choice([5, 20, 50, 3000])
                kw.update(lat=lat, lon=lon, radius_km=r)
                kw["sort"] = rnd.choice(["newest", "oldest", "nearest"])
            elif rnd.random() < 0.2:
                kw["has_gps"] = rnd.choice([True, False])
            if rnd.random() < 0.2:
                kw["camera_make"] = rnd.choice(["Apple", "Canon"])
            if rnd.random() < 0.2:
                kw["folder"] = str(root / rnd.choice(FOLDERS))
            flt = PhotoFilter(**kw)
            page = search.search(s, flt, 1, 1000)
            assert page.ids == reference(photos, flt, root), describe(flt)
            if rnd.random() < 0.3:
                assert search.class_counts(s, flt) == ref_counts(photos, flt, root), describe(flt)
            checked += bool(page.ids)
    assert checked > 60  # most combinations found something


def test_the_page_and_the_api_show_the_same_count_and_ids(fixture_world):
    """For the same filter, the dashboard's count and tiles equal the API's total and ids."""
    import re

    app, root, _photos = fixture_world
    client = app.test_client()
    filters = [
        {},
        {"start": "2014-06-01", "end": "2014-07-31"},
        {"classes": "person,umbrella", "match": "any", "min_score": "0.5"},
        {"classes": "seashore,person", "match": "all"},
        {"lat": "38.72", "lon": "-9.14", "radius_km": "50", "sort": "nearest"},
        {"lat": "-17", "lon": "179.95", "radius_km": "3000", "sort": "oldest"},
        {"has_gps": "no", "estimated": "exclude"},
        {"classes": "person", "min_count": "3", "source": "coco"},
        {"folder": str(root / "trip"), "camera_make": "Apple"},
    ]
    for args in filters:
        api = client.get("/api/photos", query_string={**args, "per_page": 100}).get_json()
        html = client.get("/", query_string=args).get_data(as_text=True)
        total = re.search(r'<strong id="total">([\d,]+)</strong>', html)
        assert total and int(total.group(1).replace(",", "")) == api["total"], args
        tiles = [int(x) for x in re.findall(r'class="tile" data-id="(\d+)"', html)]
        assert tiles == [p["id"] for p in api["photos"]], args
        assert api["description"] in html.replace("&#39;", "'"), args


# --- the summary stays right when labels change ---------------------------------------------------


def check_summary(app: Any) -> None:
    """PhotoClass and ClassCount equal what the Label/Detection rows of listed photos imply."""
    with session_of(app) as s:
        listed = {
            pid: t for pid, t in s.execute(select(Photo.id, Photo.taken_at).where(Photo.listed))
        }
        items: dict[tuple[int, str], list[tuple[str, float]]] = defaultdict(list)
        for pid, src, lb, sc in s.execute(
            select(Label.photo_id, Label.source, Label.label, Label.score)
        ):
            items[(pid, src)].append((lb, sc))
        for pid, lb, sc in s.execute(select(Detection.photo_id, Detection.label, Detection.score)):
            items[(pid, "coco")].append((lb, sc))
        want = set()
        for (pid, src), its in items.items():
            if pid in listed:
                by: dict[str, list[float]] = defaultdict(list)
                for lb, sc in its:
                    by[lb].append(sc)
                for lb, scores in by.items():
                    top = sorted(scores, reverse=True)[:5] + [None] * 5
                    want.add((pid, src, lb, listed[pid], *top[:5], len(scores)))
        cols = [
            PhotoClass.photo_id,
            PhotoClass.source,
            PhotoClass.label,
            PhotoClass.taken_at,
            PhotoClass.score,
            PhotoClass.s2,
            PhotoClass.s3,
            PhotoClass.s4,
            PhotoClass.s5,
            PhotoClass.n,
        ]
        assert set(s.execute(select(*cols))) == want
        counts = Counter(
            (src, lb, min(100, round(sc * 10000) // 100)) for (_, src, lb, _, sc, *_rest) in want
        )
        stored = {
            (c.source, c.label, c.bucket): c.photos
            for c in s.scalars(select(ClassCount))
            if c.photos
        }
        assert stored == dict(counts)


def test_class_rows_keep_the_best_five_scores_per_class():
    rows = class_rows([("person", 0.5), ("dog", 0.3), ("person", 0.9), ("person", 0.7)])
    assert rows == [
        {"label": "dog", "score": 0.3, "s2": None, "s3": None, "s4": None, "s5": None, "n": 1},
        {"label": "person", "score": 0.9, "s2": 0.7, "s3": 0.5, "s4": None, "s5": None, "n": 3},
    ]
    six = class_rows([("p", s / 10) for s in range(1, 7)])
    assert six[0]["score"] == 0.6 and six[0]["s5"] == 0.2 and six[0]["n"] == 6
    assert [bucket(x) for x in (0.0, 0.0099, 0.29, 0.5, 0.5099, 1.0)] == [0, 0, 29, 50, 50, 100]


def small_world(make_app: Any, tmp_path: Path) -> tuple[Any, Path, list[P]]:
    photos = [
        P("one", "f", "2020:01:01 10:00:00", LISBON, imagenet=[("alp", 0.6)], coco=[("dog", 0.9)]),
        P("two", "f", "2020:01:02 10:00:00", None, imagenet=[("alp", 0.4), ("valley", 0.3)]),
        P("three", "f", "2020:01:03 10:00:00", SYDNEY, coco=[("person", 0.8), ("person", 0.7)]),
    ]
    app = make_app()
    build_world(app, tmp_path / "photos", photos)
    return app, tmp_path / "photos", photos


def total(app: Any, **kw: Any) -> int:
    return run(app, PhotoFilter(**kw)).total


def counts(app: Any, **kw: Any) -> dict[tuple[str, str], int]:
    with session_of(app) as s:
        return {
            (r["label"], r["source"]): r["photos"]
            for r in search.class_counts(s, PhotoFilter(**kw))
        }


def test_relabelling_with_another_model_replaces_the_classes_everywhere(make_app, tmp_path):
    app, _, photos = small_world(make_app, tmp_path)
    check_summary(app)
    assert total(app, classes=("alp",)) == 2 and counts(app)[("alp", "imagenet")] == 2
    # The ImageNet stage re-run with another model: "alp" is gone, "seashore" is new.
    photos[0].imagenet = [("seashore", 0.8)]
    photos[1].imagenet = []
    write_labels(app, photos[:2], model="m2", stages=("imagenet",))
    check_summary(app)
    for flt in [
        PhotoFilter(classes=("alp",)),
        PhotoFilter(classes=("alp", "valley"), match="any"),
        PhotoFilter(classes=("alp",), source="imagenet", min_score=0.1),
    ]:
        assert run(app, flt).total == 0 and run(app, flt).ids == []
    for kw in [{}, {"min_score": 0.3}, {"start": date(2020, 1, 1)}]:
        c = counts(app, **kw)
        assert ("alp", "imagenet") not in c and ("valley", "imagenet") not in c
    assert counts(app)[("seashore", "imagenet")] == 1
    assert counts(app)[("dog", "coco")] == 1  # the other stage is untouched
    with session_of(app) as s:
        models = set(s.scalars(select(Label.model)))
    assert models == {"m2"}
    # COCO re-run finding nothing: the boxes and their class rows go too.
    photos[2].coco = []
    write_labels(app, photos[2:], model="m2", stages=("coco",))
    check_summary(app)
    assert total(app, classes=("person",)) == 0 and ("person", "coco") not in counts(app)


def test_an_edited_file_lists_only_its_new_version(make_app, tmp_path):
    app, root, photos = small_world(make_app, tmp_path)
    f = root / photos[0].path_rel
    original = f.read_bytes()
    write_jpeg(f, pattern(seed=99), taken="2021:05:05 10:00:00")  # edited: new content
    os.utime(f, (1_700_000_000, 1_700_000_000))
    index(app, root)
    check_summary(app)
    assert total(app) == 3 and total(app, classes=("alp",)) == 1  # the old version is gone
    assert ("dog", "coco") not in counts(app)
    assert total(app, start=date(2021, 5, 5)) == 1
    f.write_bytes(original)  # edited back: the old content (and its labels) are listed again
    os.utime(f, (1_600_000_000, 1_600_000_000))
    index(app, root)
    check_summary(app)
    assert total(app) == 3 and total(app, classes=("alp",)) == 2
    assert counts(app)[("dog", "coco")] == 1 and total(app, start=date(2021, 5, 5)) == 0
    with session_of(app) as s:
        assert s.scalar(select(func.count()).select_from(Photo).where(Photo.listed)) == 3


# --- parsing and describing ------------------------------------------------------------------


def test_parse_reads_every_parameter_and_round_trips():
    flt = parse(
        {
            "start": "2014-06-01",
            "end": "2014-07-31",
            "estimated": "exclude",
            "classes": "beach, seashore,,beach",
            "match": "all",
            "source": "coco",
            "min_score": "0.5",
            "min_count": "3",
            "lat": "38.72",
            "lon": "-9.14",
            "radius_km": "20",
            "has_gps": "yes",
            "camera_make": "Canon",
            "camera_model": "EOS 6D",
            "folder": "/p/2014/",
            "sort": "nearest",
            "page": "2",
        }
    )
    assert flt == PhotoFilter(
        start=date(2014, 6, 1),
        end=date(2014, 7, 31),
        estimated=False,
        classes=("beach", "seashore"),
        match="all",
        source="coco",
        min_score=0.5,
        min_count=3,
        lat=38.72,
        lon=-9.14,
        radius_km=20.0,
        has_gps=True,
        camera_make="Canon",
        camera_model="EOS 6D",
        folder="/p/2014",
        sort="nearest",
    )
    assert parse(to_args(flt)) == flt
    assert parse({}) == PhotoFilter() and to_args(PhotoFilter()) == {}
    assert parse({"classes": "", "lat": " ", "sort": ""}) == PhotoFilter()

    from werkzeug.datastructures import MultiDict

    got = parse(MultiDict([("classes", "ox,ape"), ("classes", "ant")])).classes
    assert got == ("ox", "ape", "ant")


@pytest.mark.parametrize(
    ("args", "param"),
    [
        ({"start": "2014-13-01"}, "start"),
        ({"start": "01/06/2014"}, "start"),
        ({"end": "2014-6-1"}, "end"),
        ({"start": "2014-08-01", "end": "2014-07-01"}, "end"),
        ({"lat": "91", "lon": "0"}, "lat"),
        ({"lat": "10", "lon": "-180.5"}, "lon"),
        ({"lat": "abc", "lon": "0"}, "lat"),
        ({"lat": "nan", "lon": "0"}, "lat"),
        ({"lat": "10"}, "lon"),
        ({"radius_km": "5"}, "radius_km"),
        ({"lat": "1", "lon": "1", "radius_km": "-5"}, "radius_km"),
        ({"lat": "1", "lon": "1", "radius_km": "0"}, "radius_km"),
        ({"lat": "1", "lon": "1", "radius_km": "inf"}, "radius_km"),
        ({"match": "most"}, "match"),
        ({"source": "places"}, "source"),
        ({"sort": "random"}, "sort"),
        ({"sort": "nearest"}, "sort"),
        ({"min_score": "1.5"}, "min_score"),
        ({"min_score": "-0.1"}, "min_score"),
        ({"min_count": "0", "classes": "person"}, "min_count"),
        ({"min_count": "two", "classes": "person"}, "min_count"),
        ({"min_count": "3"}, "min_count"),
        ({"min_count": "3", "classes": "person", "source": "imagenet"}, "min_count"),
        ({"has_gps": "maybe"}, "has_gps"),
        ({"has_gps": "no", "lat": "1", "lon": "1", "radius_km": "5"}, "has_gps"),
        ({"estimated": "only"}, "estimated"),
    ],
)
def test_parse_errors_name_the_parameter(args, param):
    with pytest.raises(FilterError) as exc:
        parse(args)
    assert exc.value.param == param and param in exc.value.message


def test_describe_in_plain_words():
    flt = PhotoFilter(
        classes=("beach", "seashore", "dogs", "dog"),
        min_score=0.5,
        start=date(2014, 6, 1),
        end=date(2014, 7, 31),
        lat=38.72,
        lon=-9.14,
        radius_km=20,
    )
    assert describe(flt) == (  # words are named by what they mean: "beach" is the seashore
        "seashore, dogs or dog (group) ≥ 0.5, 1 Jun 2014 – 31 Jul 2014, within 20 km of Lisbon, "
        "Portugal"  # the centre by its place (atw.query.placenames; tests/test_places_query.py)
    )
    assert describe(PhotoFilter()) == "all photos"
    assert describe(
        PhotoFilter(
            classes=("person",),
            min_count=3,
            source="coco",
            match="all",
            estimated=False,
            has_gps=True,
            camera_make="Canon",
            folder="/p/x",
            start=date(2020, 1, 2),
        )
    ) == (
        "at least 3 × person (group) (COCO), from 2 Jan 2020, known capture times only, with GPS, "
        "camera Canon, in /p/x"
    )
    assert describe(PhotoFilter(lat=1.5, lon=2, sort="nearest")).endswith(
        "nearest to a point at sea, 493 km from Anloga, Ghana first"
    )
    assert describe(PhotoFilter(classes=("ox", "ant", "alp"), match="all")) == "ox, ant and alp"


@pytest.mark.databases("sqlite")  # indexes from before Alembic exist on SQLite only
def test_an_index_of_schema_1_is_upgraded_with_every_derived_row(make_app, tmp_path):
    from alembic import command
    from sqlalchemy import text

    from atw.core import dialect, migrations

    app, root, photos = small_world(make_app, tmp_path)
    engine = make_engine(app.config["DATABASE_URL"])
    with dialect.migrating(engine) as conn:  # the revisions after the baseline undone first
        command.downgrade(migrations.config(conn), "0001")
    with session_of(app) as s, s.begin():  # back to what schema 1 looked like
        for ix in (
            "ix_photo_taken_at",
            "ix_photo_lat_lon",
            "ix_photo_unlisted",
            "ix_photo_damaged",
        ):
            s.execute(text(f"DROP INDEX {ix}"))
        for col in ("listed", "geo_x", "geo_y", "geo_z", "damaged", "damage_reason"):
            s.execute(text(f"ALTER TABLE photo DROP COLUMN {col}"))
        s.execute(text("CREATE INDEX ix_photo_taken_at ON photo (taken_at, id)"))
        s.execute(text("CREATE INDEX ix_photo_lat_lon ON photo (lat, lon)"))
        s.execute(text("DROP TABLE photo_class"))
        s.execute(text("DROP TABLE class_count"))
        s.execute(text("UPDATE meta SET value = '1' WHERE key = 'schema_version'"))
        s.execute(text("DROP TABLE alembic_version"))  # written before atw used Alembic
    with pytest.raises(SchemaOutdated, match="db upgrade"):
        make_app()  # the web app never migrates
    create_schema(make_engine(app.config["DATABASE_URL"]))  # as `db upgrade` and an index run
    app = make_app()
    check_summary(app)
    with session_of(app) as s:
        assert s.scalar(text("SELECT value FROM meta WHERE key = 'schema_version'")) == "3"
        cols = {r[2] for r in s.execute(text("PRAGMA index_info(ix_photo_lat_lon)"))}
        assert {"lat", "lon", "geo_x", "listed"} <= cols
        assert s.execute(text("PRAGMA index_info(ix_photo_unlisted)")).all()
    for flt in [
        PhotoFilter(),
        PhotoFilter(classes=("alp",)),
        PhotoFilter(lat=LISBON[0], lon=LISBON[1], radius_km=1),
        PhotoFilter(classes=("person",), min_count=2),
    ]:
        assert run(app, flt).ids == reference(photos, flt, root)


def test_neighbours_follow_the_filter_order_and_helpers(fixture_world):
    app, root, photos = fixture_world
    filters_ = [
        PhotoFilter(),
        PhotoFilter(sort="oldest"),
        PhotoFilter(lat=SYDNEY[0], lon=SYDNEY[1], sort="nearest"),  # no-GPS photos last
        PhotoFilter(classes=("person", "dog"), match="any"),
        PhotoFilter(classes=("person", "seashore"), match="all", sort="oldest"),
        PhotoFilter(lat=LISBON[0], lon=LISBON[1], radius_km=20, sort="nearest"),
    ]
    with session_of(app) as s:
        for flt in filters_:
            ref = reference(photos, flt, root)
            assert len(ref) > 2
            for i, pid in enumerate(ref):
                want = (ref[i - 1] if i else None, ref[i + 1] if i + 1 < len(ref) else None)
                assert search.neighbours(s, flt, pid) == want, (describe(flt), i)
        assert search.neighbours(s, PhotoFilter(), 999_999) == (None, None)
        assert search.any_photo(s)
        assert search.cameras(s) == {
            "makes": ["Apple", "Canon"],
            "models": ["EOS 6D", "iPhone 12", "iPhone 8"],
        }
        p = photos[0]
        sha, files = records.photo_files(s, p.id)
        assert len(sha) == 64 and files == [(str(root / p.path_rel), str(root))]
        assert records.photo_files(s, 999_999) is None


@pytest.mark.parametrize("probes", [0, 10**9])  # the merge page (counted in one pass), the probe
def test_all_of_several_classes_by_either_page_strategy(fixture_world, monkeypatch, probes):
    from atw.query import plan

    app, root, photos = fixture_world
    monkeypatch.setattr(plan, "PROBES_PER_PAGE", probes)
    for flt in [
        PhotoFilter(classes=("person", "umbrella"), match="all"),
        PhotoFilter(classes=("person", "dog", "seashore"), match="all", sort="oldest"),
        PhotoFilter(classes=("umbrella", "person"), match="all", min_score=0.5),
        PhotoFilter(classes=("person", "car"), match="all", min_count=2),
    ]:
        full = reference(photos, flt, root)
        assert run(app, flt).ids == full, describe(flt)
        with session_of(app) as s:
            pages = [search.search(s, flt, n, 2) for n in range(1, len(full) // 2 + 2)]
        assert [i for pg in pages for i in pg.ids] == full
        assert {pg.total for pg in pages} == {len(full)}


@pytest.mark.parametrize("above", [0, 10**9])  # driven by the place, or by the class
def test_classes_within_a_radius_by_either_driver(fixture_world, monkeypatch, above):
    from atw.query import plan

    app, root, photos = fixture_world
    monkeypatch.setattr(plan, "PLACE_FIRST_ABOVE", above)
    kinds = set()
    for flt in [
        PhotoFilter(classes=("person",), lat=LISBON[0], lon=LISBON[1], radius_km=20),
        PhotoFilter(classes=("umbrella", "dog"), lat=SYDNEY[0], lon=SYDNEY[1], radius_km=10),
        PhotoFilter(
            classes=("person", "seashore"), match="all", lat=LISBON[0], lon=LISBON[1], radius_km=25
        ),
        PhotoFilter(classes=("person",), min_count=3, lat=89.9, lon=0.0, radius_km=5000),
        PhotoFilter(
            classes=("umbrella",),
            source="coco",
            lat=-17,
            lon=179.99,
            radius_km=3000,
            sort="nearest",
        ),
        PhotoFilter(classes=("zebra", "dog"), lat=0.0, lon=0.0, radius_km=20000),
        # With dates (the classes' rows estimated by the dates' share of the archive's span).
        PhotoFilter(
            classes=("dog",),
            start=date(2016, 1, 1),
            end=date(2023, 12, 31),
            lat=0.0,
            lon=0.0,
            radius_km=20000,
        ),
        PhotoFilter(
            classes=("person", "seashore"),
            match="all",
            start=date(2010, 6, 1),
            lat=LISBON[0],
            lon=LISBON[1],
            radius_km=25,
            sort="oldest",
        ),
    ]:
        ref = reference(photos, flt, root)
        page = run(app, flt)
        assert (page.ids, page.total) == (ref, len(ref)), describe(flt)
        with session_of(app) as s:
            assert search.search(s, flt, 1, 1).total == len(ref)  # the count query itself
            kinds.add(plan.Query(s, flt).kind)
    assert ("photo" in kinds) == (above == 0)
