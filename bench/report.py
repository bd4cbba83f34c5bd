"""Prints the time to build the HTML report for 1,000 and 10,000 synthetic photos.

With real thumbnails on disk (so embedding them is measured); also the CSV export and the
charts JSON of the same set. Run: python bench/report.py [--sizes 1000 10000]"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select
from sqlalchemy.orm import Session

from atw.core import media
from atw.core.engine import make_engine
from atw.core.schema import Photo
from atw.present import charts, reports, tables
from atw.query.filters import PhotoFilter
from bench.synthetic_index import DATA_VERSION, build

OUT = Path(__file__).resolve().parent / "out"
THUMB_SIZE, THUMB_QUALITY = 400, 82  # the indexer's defaults


def sample_thumbs(rng: np.random.Generator, n: int = 64) -> list[bytes]:
    """n distinct photo-like 400×300 JPEGs (smooth shapes plus sensor-like noise)."""
    out = []
    for _ in range(n):
        img = Image.new("RGB", (THUMB_SIZE, 300), tuple(int(c) for c in rng.integers(0, 255, 3)))
        d = ImageDraw.Draw(img)
        for _ in range(12):
            x, y = rng.integers(0, THUMB_SIZE, 2)
            r = int(rng.integers(10, 120))
            colour = tuple(int(c) for c in rng.integers(0, 255, 3))
            d.ellipse([x - r, y - r, x + r, y + r], fill=colour)
        img = img.filter(ImageFilter.GaussianBlur(3))
        noise = rng.normal(0, 8, (300, THUMB_SIZE, 3))
        arr = np.clip(np.asarray(img, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, "JPEG", quality=THUMB_QUALITY)
        out.append(buf.getvalue())
    return out


def prepare(n: int) -> tuple[Path, Path]:
    """The synthetic index of n photos and its thumbnails folder (cached under bench/out)."""
    OUT.mkdir(exist_ok=True)
    db = OUT / f"report-{n}-v{DATA_VERSION}.sqlite"
    thumbs = OUT / f"report-{n}-thumbs"
    if not db.exists():
        print(f"building a synthetic index of {n:,} photos …")
        build(db, n, seed=n)
        shutil.rmtree(thumbs, ignore_errors=True)
    if not thumbs.exists():
        engine = make_engine(f"sqlite:///{db}")
        with Session(engine) as s:
            shas = list(s.scalars(select(Photo.sha256)))
        engine.dispose()
        samples = sample_thumbs(np.random.default_rng(1))
        tmp = thumbs.with_name(thumbs.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        for i, sha in enumerate(shas):
            path = media.thumb_path(tmp, sha)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(samples[i % len(samples)])
        tmp.rename(thumbs)
    return db, thumbs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    args = ap.parse_args()
    targets = {1000: 5.0, 10000: 30.0}
    for n in args.sizes:
        db, thumbs = prepare(n)
        engine = make_engine(f"sqlite:///{db}")
        with Session(engine) as s:
            t = time.perf_counter()
            body = reports.build_report(s, PhotoFilter(), thumbs)
            took = time.perf_counter() - t
            t = time.perf_counter()
            rows = sum(chunk.count("\n") for chunk in tables.iter_csv(s, PhotoFilter())) - 1
            csv_took = time.perf_counter() - t
            t = time.perf_counter()
            charts.charts(s, PhotoFilter())
            charts_took = time.perf_counter() - t
        engine.dispose()
        target = targets.get(n)
        verdict = "" if target is None else f" (target < {target:.0f} s: "
        verdict += "" if target is None else ("met)" if took < target else "MISSED)")
        print(
            f"{n:>7,} photos: report {took:6.2f} s, {len(body) / 1e6:6.1f} MB{verdict}; "
            f"CSV export {csv_took:5.2f} s ({rows:,} rows); charts JSON {charts_took:5.2f} s"
        )


if __name__ == "__main__":
    main()
