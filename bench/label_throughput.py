"""Prints photos/s of a whole index run with labels (per stage), and of the original design."""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from atw import create_app
from bench.phone_photos import ensure_phone_photos
from pipelines.run import run_index

SHARED_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"


def atw_run(files: list[Path], workers: int) -> None:
    inst = Path(tempfile.mkdtemp(prefix="atw-bench-"))
    try:
        app = create_app(
            {
                "INSTANCE_PATH": str(inst),
                "LABELERS": "imagenet,coco",
                "IMAGENET_MODEL": os.environ.get("ATW_IMAGENET_MODEL", "mobilenet_v2"),
                "IMAGENET_WEIGHTS": os.environ.get(
                    "ATW_IMAGENET_WEIGHTS",
                    str(SHARED_MODELS / "mobilenet_v2_imagenet_from_tflite.pth"),
                ),
                "YOLO_MODEL": os.environ.get(
                    "ATW_YOLO_MODEL", str(SHARED_MODELS / "yolov8n_int8.onnx")
                ),
                "INDEX_WORKERS": workers,
            }
        )
        # Warm-up run on a few other files: worker start-up and the one-off ONNX export.
        warm = Path(tempfile.mkdtemp(prefix="atw-warm-"))
        for f in files[:4]:
            shutil.copy(f, warm / ("w" + f.name))
        run_index([str(warm)], app.config, progress=False)
        shutil.rmtree(warm)
        s = run_index([str(files[0].parent)], app.config, progress=True)
        n = s.processed
        print(
            f"\natw: {n} photos, {workers} workers: {n / s.work_seconds:.1f} photos/s once the "
            f"workers are up ({s.work_seconds:.1f} s); {n / s.seconds:.1f} photos/s over the "
            f"whole run ({s.seconds:.1f} s, incl. worker start-up and model loading)"
        )
        print("  per photo per core, ms:")
        for k, v in s.stage_seconds.items():
            print(f"    {k:<10} {1000 * v / n:6.1f}")
    finally:
        shutil.rmtree(inst, ignore_errors=True)


def _yolov3_like():  # type: ignore[no-untyped-def]
    """A Darknet-53 backbone with YOLOv3's three heads (random weights): the original design's
    detector size (~66 GFLOPs at 416 px); speed does not depend on the weights."""
    from torch import nn

    def conv(ci: int, co: int, k: int, s: int = 1) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(ci, co, k, s, k // 2, bias=False), nn.BatchNorm2d(co), nn.LeakyReLU(0.1)
        )

    class Res(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.f = nn.Sequential(conv(c, c // 2, 1), conv(c // 2, c, 3))

        def forward(self, x):  # type: ignore[no-untyped-def]
            return x + self.f(x)

    def stage(ci: int, co: int, n: int) -> nn.Module:
        return nn.Sequential(conv(ci, co, 3, 2), *[Res(co) for _ in range(n)])

    def head(ci: int, c: int) -> nn.Module:
        return nn.Sequential(
            conv(ci, c, 1),
            conv(c, 2 * c, 3),
            conv(2 * c, c, 1),
            conv(c, 2 * c, 3),
            conv(2 * c, c, 1),
        )

    class YoloV3(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.s3 = nn.Sequential(
                conv(3, 32, 3), stage(32, 64, 1), stage(64, 128, 2), stage(128, 256, 8)
            )
            self.s4, self.s5 = stage(256, 512, 8), stage(512, 1024, 4)
            self.h5, self.h4, self.h3 = head(1024, 512), head(768, 256), head(384, 128)
            self.o5, self.o4, self.o3 = (
                nn.Sequential(conv(c, 2 * c, 3), nn.Conv2d(2 * c, 255, 1)) for c in (512, 256, 128)
            )
            self.u5, self.u4 = conv(512, 256, 1), conv(256, 128, 1)
            self.up = nn.Upsample(scale_factor=2)

        def forward(self, x):  # type: ignore[no-untyped-def]
            import torch

            c3 = self.s3(x)
            c4 = self.s4(c3)
            c5 = self.s5(c4)
            p5 = self.h5(c5)
            p4 = self.h4(torch.cat([self.up(self.u5(p5)), c4], 1))
            p3 = self.h3(torch.cat([self.up(self.u4(p4)), c3], 1))
            return self.o5(p5), self.o4(p4), self.o3(p3)

    return YoloV3().eval()


def _original_worker(paths: list[str]) -> tuple[int, dict[str, float]]:
    """The original project's per-photo work: full decode, VGG16, YOLOv3 @416, full-size thumb."""
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch
    import torchvision
    from PIL import Image, ImageOps

    torch.set_num_threads(1)
    vgg = torchvision.models.vgg16(weights=None).eval()
    yolo = _yolov3_like()
    tf = torchvision.models.VGG16_Weights.IMAGENET1K_V1.transforms()
    t: dict[str, float] = {"decode": 0.0, "thumbnail": 0.0, "vgg16": 0.0, "yolov3": 0.0}
    with torch.inference_mode():
        for p in paths:
            t0 = time.perf_counter()
            img = ImageOps.exif_transpose(Image.open(p)).convert("RGB")
            t1 = time.perf_counter()
            img.copy().thumbnail((400, 400), Image.Resampling.LANCZOS)
            t2 = time.perf_counter()
            vgg(tf(img).unsqueeze(0))
            t3 = time.perf_counter()
            x = torchvision.transforms.functional.to_tensor(img.resize((416, 416))).unsqueeze(0)
            yolo(x)
            t4 = time.perf_counter()
            for k, a, b in (
                ("decode", t0, t1),
                ("thumbnail", t1, t2),
                ("vgg16", t2, t3),
                ("yolov3", t3, t4),
            ):
                t[k] += b - a
    return len(paths), t


def original_run(files: list[Path], workers: int) -> None:
    parts = [[str(f) for f in files[i::workers]] for i in range(workers)]
    start = time.perf_counter()
    with mp.get_context("spawn").Pool(workers) as pool:
        results = pool.map(_original_worker, parts)
    wall = time.perf_counter() - start
    n = sum(r[0] for r in results)
    print(
        f"\noriginal design (full decode, VGG16, YOLOv3-size @416; random weights), {n} photos, "
        f"{workers} workers: {n / wall:.2f} photos/s (wall {wall:.1f} s incl. model build)"
    )
    print("  per photo per core, ms:")
    for k in results[0][1]:
        print(f"    {k:<10} {1000 * sum(r[1][k] for r in results) / n:6.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=200, help="photos for the atw run")
    ap.add_argument("--original", type=int, default=16, help="photos for the original design")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    files = ensure_phone_photos(args.n)
    mb = sum(f.stat().st_size for f in files) / len(files) / 1e6
    print(f"phone-size JPEGs, 9–12 MP, {mb:.1f} MB average; detector at 640 px")
    atw_run(files, args.workers)
    if args.original:
        original_run(files[: args.original], args.workers)


if __name__ == "__main__":
    main()
