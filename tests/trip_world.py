"""A travelling archive written as real JPEGs (EXIF dates, offsets, GPS) and indexed by the real
indexer (places stage included): home in Lisbon, ten days in Japan with a day without photos and
a photo without GPS, a day trip to Sintra, Porto and Madrid back to back, Fiji and Honolulu
across the antimeridian. Used by tests/test_trip_store.py and tests/test_browser_trips.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from atw.core.schema import PhotoPath
from tests.conftest import index
from tests.photos import write_jpeg

LISBON = (38.7223, -9.1393)
SINTRA = (38.7976, -9.3904)
PORTO = (41.1496, -8.6109)
MADRID = (40.4168, -3.7038)
TOKYO = (35.6895, 139.6917)
KYOTO = (35.0116, 135.7681)
OSAKA = (34.6937, 135.5023)
SUVA = (-18.1416, 178.4419)
TAVEUNI = (-16.80, -179.97)
HONOLULU = (21.3069, -157.8583)


@dataclass
class Shot:
    name: str
    taken: str  # EXIF "YYYY:MM:DD HH:MM:SS", local wall-clock time
    gps: tuple[float, float] | None
    offset: str | None = None  # EXIF OffsetTimeOriginal; else the zone at the position
    id: int = 0


def _home(first: str, n: int) -> list[Shot]:
    day = date.fromisoformat(first)
    out = []
    for i in range(n):
        d = day + timedelta(days=i)
        out.append(Shot(f"home/{d}.jpg", f"{d:%Y:%m:%d} 12:00:00", LISBON))
    return out


def shots() -> list[Shot]:
    japan = [
        ("04a", "2014:10:04 10:00:00", TOKYO),
        ("04b", "2014:10:04 18:00:00", TOKYO),
        ("05", "2014:10:05 11:00:00", TOKYO),
        ("06a", "2014:10:06 09:30:00", KYOTO),
        ("06b", "2014:10:06 15:00:00", KYOTO),
        ("07", "2014:10:07 10:00:00", KYOTO),
        # 8 Oct: no photo
        ("09", "2014:10:09 12:00:00", OSAKA),
        ("10-nogps", "2014:10:10 12:00:00", None),
        ("11", "2014:10:11 13:00:00", OSAKA),
        ("12", "2014:10:12 09:00:00", TOKYO),
        ("13", "2014:10:13 07:00:00", TOKYO),
    ]
    return [
        *_home("2014-09-20", 13),  # 20 Sep – 2 Oct
        Shot("home/leaving.jpg", "2014:10:03 08:00:00", LISBON),
        *(Shot(f"japan/{n}.jpg", t, g) for n, t, g in japan),
        *_home("2014-10-14", 1),
        Shot("sintra/a.jpg", "2014:10:15 11:00:00", SINTRA),
        Shot("sintra/b.jpg", "2014:10:15 16:00:00", SINTRA),
        Shot("porto/a.jpg", "2014:10:16 12:00:00", PORTO),
        Shot("porto/b.jpg", "2014:10:17 12:00:00", PORTO),
        *_home("2014-10-18", 1),
        Shot("madrid/a.jpg", "2014:10:19 12:00:00", MADRID),
        Shot("madrid/b.jpg", "2014:10:20 12:00:00", MADRID),
        *_home("2014-10-21", 2),
        *_home("2015-03-01", 5),
        # UTC order: Suva 9 Mar 21:00, Taveuni 10 Mar 03:00, Honolulu 10 Mar 08:00
        Shot("pacific/honolulu.jpg", "2015:03:09 22:00:00", HONOLULU, "-10:00"),
        Shot("pacific/suva.jpg", "2015:03:10 09:00:00", SUVA, "+12:00"),
        Shot("pacific/taveuni.jpg", "2015:03:10 15:00:00", TAVEUNI, "+12:00"),
        *_home("2015-03-15", 2),
    ]


# What the rules find (atw.query.travel), oldest first: (id, last day, countries, photos).
EXPECTED = [
    ("2014-10-04", "2014-10-13", ["JP"], 11),
    ("2014-10-16", "2014-10-17", ["PT"], 2),
    ("2014-10-19", "2014-10-20", ["ES"], 2),
    ("2015-03-09", "2015-03-10", ["FJ", "US"], 3),
]


def write(root: Path, photos: list[Shot]) -> None:
    for i, s in enumerate(photos):
        img = Image.new("RGB", (96, 64), (40 + i * 13 % 200, 90, 140 - i * 7 % 120))
        write_jpeg(root / s.name, img, taken=s.taken, gps=s.gps, offset=s.offset)


def build(app: Any, root: Path, photos: list[Shot] | None = None) -> list[Shot]:
    """Write and index the photos (metadata only: no labels needed); their ids filled in."""
    photos = shots() if photos is None else photos
    write(root, photos)
    summary = index(app, root)
    assert summary.indexed == len(photos), summary.errors
    from atw.web import db

    with app.app_context():
        s: Session = db.session()
        ids = dict(s.execute(select(PhotoPath.path, PhotoPath.photo_id)).all())
    for p in photos:
        p.id = ids[str(root / p.name)]
    return photos
