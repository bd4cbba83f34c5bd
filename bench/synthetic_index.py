"""The synthetic photo index for benchmarks: realistic photos, labels, boxes, places, built fast."""

from __future__ import annotations

import math
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Column, MetaData, Table, create_engine, event, insert, select
from sqlalchemy.engine import Engine

from atw.core import gazetteer, group_rows, summary_counts, vocabulary
from atw.core.derived import count_deltas, geo_columns, photo_class_rows
from atw.core.group_schema import GroupCount, PhotoGroup
from atw.core.localtime import photo_time
from atw.core.schema import Base, ClassCount, Detection, Label, Meta, Photo, PhotoClass, PhotoPath
from bench import synthetic_travel

DATA_VERSION = "5"  # bump when the generator changes, so cached files are rebuilt
# 2: places (the gazetteer's, as the places stage stores them) and capture instants (sort_time)
# 3: the ImageNet names the classifier stores (the vocabulary's), class-group rows (issue 14)
# 4: class-group rows carry sort_time (revision 0005: groups ordered by the instant)
# 5: the positions dealt out again as home stays and trips (bench/synthetic_travel.py)

# The 80 COCO classes (underscores stand for spaces).
_COCO_NAMES = (
    "person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant "
    "stop_sign parking_meter bench bird cat dog horse sheep cow elephant bear zebra giraffe "
    "backpack umbrella handbag tie suitcase frisbee skis snowboard sports_ball kite "
    "baseball_bat baseball_glove skateboard surfboard tennis_racket bottle wine_glass cup "
    "fork knife spoon bowl banana apple sandwich orange broccoli carrot hot_dog pizza donut "
    "cake chair couch potted_plant bed dining_table toilet tv laptop mouse remote keyboard "
    "cell_phone microwave oven toaster sink refrigerator book clock vase scissors teddy_bear "
    "hair_drier toothbrush"
)
COCO = [c.replace("_", " ") for c in _COCO_NAMES.split()]

# Places photos cluster around (name, lat, lon); the first is "home" and gets the most photos.
CITIES = [
    ("Lisbon", 38.72, -9.14),
    ("Paris", 48.86, 2.35),
    ("New York", 40.71, -74.01),
    ("Tokyo", 35.68, 139.69),
    ("Sydney", -33.87, 151.21),
    ("Auckland", -36.85, 174.76),
    ("Suva", -18.14, 178.44),
    ("Taveuni (antimeridian)", -16.8, -179.97),
    ("Longyearbyen", 78.22, 15.65),
    ("Reykjavik", 64.15, -21.94),
    ("Cape Town", -33.92, 18.42),
    ("São Paulo", -23.55, -46.63),
    ("Buenos Aires", -34.60, -58.38),
    ("Nairobi", -1.29, 36.82),
    ("Mumbai", 19.08, 72.88),
    ("Porto", 41.15, -8.61),
    ("Madrid", 40.42, -3.70),
    ("Berlin", 52.52, 13.40),
    ("Anchorage", 61.22, -149.90),
    ("Ushuaia", -54.80, -68.30),
]


def imagenet_names() -> list[str]:
    """The 1000 ImageNet class names as the classifier stores them (torchvision's, which the
    vocabulary's groups are built on)."""
    return list(vocabulary.load().labels["imagenet"])


def city_centres(rng: np.random.Generator, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    lat = [c[1] for c in CITIES]
    lon = [c[2] for c in CITIES]
    extra = n - len(CITIES)
    lat += list(np.degrees(np.arcsin(rng.uniform(-0.95, 0.95, extra))))
    lon += list(rng.uniform(-180, 180, extra))
    return np.array(lat), np.array(lon)


def wrap_lon(lon: np.ndarray) -> np.ndarray:
    return (lon + 180.0) % 360.0 - 180.0


def gen_positions(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """75 % of photos have GPS; of those 85 % are near one of 300 cities (Zipf weights, the home
    city ≈ 10 % of all photos, 10 km spread), the rest anywhere on the sphere. NaN = no GPS."""
    clat, clon = city_centres(rng)
    w = 1.0 / np.arange(1, len(clat) + 1)
    w /= w.sum()
    lat = np.full(n, np.nan)
    lon = np.full(n, np.nan)
    has = rng.random(n) < 0.75
    clustered = has & (rng.random(n) < 0.85)
    k = rng.choice(len(clat), size=int(clustered.sum()), p=w)
    spread = rng.exponential(8.0, size=k.size) + 1.0  # km
    dlat = rng.normal(0, 1, k.size) * spread / 111.2
    lat_c = np.clip(clat[k] + dlat, -89.999, 89.999)
    dlon = rng.normal(0, 1, k.size) * spread / (111.2 * np.maximum(0.05, np.cos(np.radians(lat_c))))
    lat[clustered] = lat_c
    lon[clustered] = wrap_lon(clon[k] + dlon)
    scattered = has & ~clustered
    m = int(scattered.sum())
    lat[scattered] = np.degrees(np.arcsin(rng.uniform(-1, 1, m)))
    lon[scattered] = rng.uniform(-180, 180, m)
    return lat, lon


def top5(rng: np.random.Generator, n: int, weights: np.ndarray) -> np.ndarray:
    """n rows of 5 distinct class indices drawn ∝ weights (Gumbel top-k)."""
    logw = np.log(weights).astype(np.float32)
    with np.errstate(divide="ignore"):  # a uniform draw of exactly 0 gives +inf: harmless
        keys = logw[None, :] - np.log(-np.log(1 - rng.random((n, weights.size), dtype=np.float32)))
    idx = np.argpartition(-keys, 5, axis=1)[:, :5]
    order = np.argsort(-np.take_along_axis(keys, idx, axis=1), axis=1)
    return np.take_along_axis(idx, order, axis=1)


def imagenet_scores(rng: np.random.Generator, n: int) -> np.ndarray:
    """Descending softmax-like top-5 scores, ≥ 0.02 (the stored floor)."""
    raw = rng.dirichlet([3.0, 1.2, 0.8, 0.6, 0.5, 2.0], size=n)[:, :5]
    raw = -np.sort(-raw, axis=1)
    return np.round(np.maximum(raw, 0.02), 4)


HOME_ZONE = "Europe/Lisbon"  # the camera's zone for photos without a position


def place_and_time(
    rng: np.random.Generator,
    taken: list[datetime],
    lat: np.ndarray,
    lon: np.ndarray,
    estimated: np.ndarray,
) -> list[dict[str, Any]]:
    """The place columns (the gazetteer's answer for each position, as pipelines/places.py
    stores it) and the time columns (localtime.photo_time) of a chunk: a photo with a position
    has its zone's offset, written by the camera (source "exif") for half of them, found from
    the zone for the rest; of those without, a third have their camera's offset (HOME_ZONE),
    the others none (sort_time = the wall clock); estimated times have the file's offset."""
    places = gazetteer.reverse_many(lat, lon)
    written = rng.random(len(taken)) < 0.5
    home = rng.random(len(taken)) < 1 / 3
    out = []
    for i, (t, pl) in enumerate(zip(taken, places, strict=True)):
        zone = pl.time_zone if pl is not None else (HOME_ZONE if home[i] else None)
        if estimated[i]:
            file_off = photo_time(t, time_zone=HOME_ZONE)["utc_offset"]
            times = photo_time(t, estimated=True, file_offset=file_off)
        else:
            times = photo_time(t, time_zone=zone)
            if times["offset_source"] == "zone" and (pl is None or written[i]):
                times["offset_source"] = "exif"
        out.append(
            {
                **times,
                "exif_offset": times["utc_offset"] if times["offset_source"] == "exif" else None,
                "gps_at": None,
                "time_zone": pl.time_zone if pl is not None else None,
                "country_code": pl.country_code if pl is not None else None,
                "region": pl.region if pl is not None else None,
                "place": pl.name if pl is not None else None,
                "place_km": pl.distance_km if pl is not None else None,
                "at_sea": bool(pl is not None and pl.at_sea),
                "near": pl.near if pl is not None else None,
            }
        )
    return out


def chunk_rows(
    rng: np.random.Generator, first_id: int, n: int, inet: list[str], inet_w: np.ndarray
) -> dict[str, list[dict[str, Any]]]:
    ids = np.arange(first_id, first_id + n)
    t0 = datetime(2013, 1, 1)
    span = int((datetime(2025, 1, 1) - t0).total_seconds())
    secs = rng.integers(0, span, n)
    estimated = rng.random(n) < 0.03
    lat, lon = gen_positions(rng, n)
    # Places and instants from a generator of their own: the rest of the data stays as it was.
    takens = [t0 + timedelta(seconds=int(x)) for x in secs]
    where = place_and_time(np.random.default_rng(first_id), takens, lat, lon, estimated)
    cams = [
        ("Apple", "iPhone 12"),
        ("Apple", "iPhone 8"),
        ("Canon", "EOS 6D"),
        ("Canon", "EOS 5D Mark III"),
        ("SONY", "ILCE-7M3"),
        ("samsung", "SM-G991B"),
        ("Google", "Pixel 7"),
        ("NIKON CORPORATION", "NIKON D750"),
    ]
    cam = rng.choice(len(cams), size=n, p=[0.3, 0.15, 0.12, 0.08, 0.1, 0.1, 0.1, 0.05])
    has_cam = rng.random(n) < 0.95
    unlisted = rng.random(n) < 0.003  # older versions of edited files: no path
    labels_idx = top5(rng, n, inet_w)
    labels_sc = imagenet_scores(rng, n)
    n_person = np.where(rng.random(n) < 1 / 3, rng.geometric(0.45, n), 0)
    n_other = rng.poisson(2.2, n)
    coco_w = 1.0 / np.arange(1, len(COCO)) ** 0.9
    coco_w /= coco_w.sum()
    now = datetime(2025, 6, 1)
    out: dict[str, list[dict[str, Any]]] = {
        "photo": [],
        "path": [],
        "label": [],
        "detection": [],
        "summary": [],
        "group": [],
    }
    for i in range(n):
        pid = int(ids[i])
        taken = t0 + timedelta(seconds=int(secs[i]))
        la = None if math.isnan(lat[i]) else float(round(lat[i], 6))
        lo = None if math.isnan(lon[i]) else float(round(lon[i], 6))
        make, model = cams[cam[i]] if has_cam[i] else (None, None)
        out["photo"].append(
            {
                "id": pid,
                "sha256": rng.bytes(32).hex(),
                "bytes": int(rng.integers(1_000_000, 6_000_000)),
                "format": "JPEG",
                "width": 4032,
                "height": 3024,
                "orientation": 1,
                "taken_at": taken,
                "time_estimated": bool(estimated[i]),
                "lat": la,
                "lon": lo,
                "altitude": None,
                "camera_make": make,
                "camera_model": model,
                "exif_json": None,
                "source": "scan",
                "previous_version_id": None,
                "indexed_at": now,
                "first_run_id": None,
                "listed": not unlisted[i],
                **geo_columns(la, lo),
                **where[i],
            }
        )
        if not unlisted[i]:
            out["path"].append(
                {
                    "photo_id": pid,
                    "path": f"/archive/{taken.year}/{taken.month:02d}/IMG_{pid:07d}.jpg",
                    "root": "/archive",
                    "size": 3_000_000,
                    "mtime_ns": 0,
                    "first_seen": now,
                    "missing_since": None,
                }
            )
        inet_items = [(inet[labels_idx[i, j]], float(labels_sc[i, j])) for j in range(5)]
        for lb, sc in inet_items:
            out["label"].append(
                {
                    "photo_id": pid,
                    "source": "imagenet",
                    "label": lb,
                    "score": sc,
                    "model": "mobilenet_v2",
                    "weights_id": "bench",
                    "taken_at": taken,
                }
            )
        boxes = ["person"] * int(n_person[i])
        boxes += [COCO[1 + k] for k in rng.choice(len(COCO) - 1, size=n_other[i], p=coco_w)]
        box_sc = np.round(rng.uniform(0.2, 1.0, len(boxes)) ** 0.7, 4)
        coco_items = [(b, float(s)) for b, s in zip(boxes, box_sc, strict=True)]
        for lb, sc in coco_items:
            out["detection"].append(
                {
                    "photo_id": pid,
                    "label": lb,
                    "score": sc,
                    "x0": 0.1,
                    "y0": 0.1,
                    "x1": 0.5,
                    "y1": 0.5,
                    "model": "yolov8n",
                    "weights_id": "bench",
                    "taken_at": taken,
                }
            )
        if not unlisted[i]:  # the same pure derivations the writer uses
            st = where[i]["sort_time"]
            summary = photo_class_rows(pid, taken, "imagenet", inet_items, st)
            summary += photo_class_rows(pid, taken, "coco", coco_items, st)
            out["summary"] += summary
            out["group"] += group_rows.rows_of(pid, taken, summary, sort_time=st)
    return out


def bench_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        # SQLite-specific, benchmark only: the app's own settings live in atw/core/engine.py.
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=OFF")
        cur.execute("PRAGMA cache_size=-1000000")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    return engine


def fresh_engine(path: Path) -> tuple[Path, Engine]:
    """An empty index with the app's tables at path's ".building" twin (renamed to path when
    the build is done), leftovers of an earlier build removed first."""
    tmp = path.with_suffix(".building")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    engine = bench_engine(tmp)
    Base.metadata.create_all(engine)  # with photo's triggers: the summary counts as rows come in
    assert summary_counts.TABLES[0] in Base.metadata.tables
    return tmp, engine


def build(path: Path, n: int, seed: int) -> float:
    """Create the synthetic index at path; returns seconds taken."""
    t = time.perf_counter()
    tmp, engine = fresh_engine(path)
    indexes = [ix for table in Base.metadata.sorted_tables for ix in table.indexes]
    with engine.begin() as conn:  # bulk load first, index after: the same schema, built faster
        for ix in indexes:
            ix.drop(conn)
    rng = np.random.default_rng(seed)
    inet = imagenet_names()
    inet_w = 1.0 / np.arange(1, len(inet) + 1) ** 0.9  # the top class in ≈ 40 % of photos
    rng.shuffle(inet_w)  # which classes are frequent: random
    counts: Counter[tuple[str, str, int]] = Counter()
    step = 50_000
    tables = {
        "photo": Photo.__table__,
        "path": PhotoPath.__table__,
        "label": Label.__table__,
        "detection": Detection.__table__,
        "summary": PhotoClass.__table__,
    }
    # Group rows go to a plain table first, then into photo_group in key order (one pass).
    staging = Table(
        "group_staging", MetaData(), *(Column(c.name, c.type) for c in PhotoGroup.__table__.c)
    )
    staging.create(engine)
    group_counts: Counter[tuple[int, str, int]] = Counter()
    for first in range(1, n + 1, step):
        rows = chunk_rows(rng, first, min(step, n + 1 - first), inet, inet_w)
        counts.update(count_deltas(rows["summary"]))
        group_counts.update(group_rows.count_deltas(rows["group"]))
        with engine.begin() as conn:
            for key, table in tables.items():
                conn.execute(insert(table), rows[key])
            conn.execute(insert(staging), rows["group"])
        done = min(n, first + step - 1)
        print(f"\r  {done:,} photos  {time.perf_counter() - t:6.1f} s", end="", flush=True)
    print()
    with engine.begin() as conn:
        conn.execute(
            insert(ClassCount.__table__),
            [
                {"source": s, "label": lb, "bucket": b, "photos": c}
                for (s, lb, b), c in sorted(counts.items())
            ],
        )
        conn.execute(insert(Meta.__table__), [{"key": "schema_version", "value": "bench"}])
        t_ix = time.perf_counter()
        order = [staging.c.grp, staging.c.taken_at, staging.c.photo_id]
        cols = list(staging.c)
        conn.execute(insert(PhotoGroup).from_select(cols, select(staging).order_by(*order)))
        staging.drop(conn)
        conn.execute(
            insert(GroupCount.__table__),
            [
                {"grp": g, "source": s, "bucket": b, "photos": c}
                for (g, s, b), c in sorted(group_counts.items())
                if c
            ],
        )
        meta = {"key": group_rows.META_KEY, "value": group_rows.provenance()}
        conn.execute(insert(Meta.__table__), [meta])
        print(f"  photo_group (sorted in): {time.perf_counter() - t_ix:.1f} s", flush=True)
        print(f"  travel: {synthetic_travel.travel(conn, seed)}", flush=True)
        for ix in indexes:
            t_ix = time.perf_counter()
            ix.create(conn)
            print(f"  index {ix.name}: {time.perf_counter() - t_ix:.1f} s", flush=True)
    engine.dispose()
    tmp.rename(path)
    return time.perf_counter() - t
