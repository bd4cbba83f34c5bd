"""Makes a folder of phone-size (9–12 MP) JPEGs with EXIF from the shared photos, for benchmarks."""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
from pathlib import Path

import numpy as np
import piexif
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.shared_data import SHARED as DATA

SHARED = DATA / "photos"
OUT = Path(__file__).resolve().parent / "out" / "phone"
SIZES = [(4000, 3000), (3024, 4032), (4032, 2268), (3648, 2736)]  # 12, 12, 9.1, 10 MP


def _sources() -> list[Path]:
    files = sorted((SHARED / "coco128" / "images").rglob("*.jpg"))
    files += sorted((SHARED / "imagenet-samples").glob("*.JPEG"))
    if not files:
        raise SystemExit(f"no source photos under {SHARED}")
    return files


def _make(args: tuple[int, Path, Path]) -> Path:
    i, src, dst = args
    size = SIZES[i % len(SIZES)]
    with Image.open(src) as im:
        img = im.convert("RGB").resize(size, Image.Resampling.BICUBIC)
    # Sensor-like noise so the files are as large as real phone photos (2–4 MB).
    rng = np.random.default_rng(i)
    arr = np.asarray(img, dtype=np.int16) + rng.normal(0, 3, (size[1], size[0], 1)).astype(np.int16)
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    exif = piexif.dump(
        {
            "0th": {
                piexif.ImageIFD.Make: b"BenchPhone",
                piexif.ImageIFD.Model: b"BP-12",
                piexif.ImageIFD.Orientation: 1,
            },
            "Exif": {
                piexif.ExifIFD.DateTimeOriginal: f"2019:{1 + i % 12:02d}:{1 + i % 28:02d} "
                f"12:{i % 60:02d}:00".encode(),
                piexif.ExifIFD.OffsetTimeOriginal: b"+01:00",
            },
            "GPS": {},
        }
    )
    dst.parent.mkdir(parents=True, exist_ok=True)
    img.save(dst, "JPEG", quality=90, exif=exif)
    return dst


def ensure_phone_photos(n: int, out: Path = OUT) -> list[Path]:
    """n phone-size JPEGs in `out` (made once, reused afterwards)."""
    srcs = _sources()
    want = [(i, srcs[i % len(srcs)], out / f"IMG_{i:05d}.jpg") for i in range(n)]
    todo = [w for w in want if not w[2].exists()]
    if todo:
        print(f"making {len(todo)} phone-size JPEGs in {out} …", flush=True)
        with mp.get_context("spawn").Pool() as pool:
            pool.map(_make, todo, chunksize=4)
    return [w[2] for w in want]


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=200)
    files = ensure_phone_photos(ap.parse_args().n)
    mb = sum(f.stat().st_size for f in files) / len(files) / 1e6
    print(f"{len(files)} files, {mb:.1f} MB each on average")
