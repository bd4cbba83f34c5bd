"""CPU time of each step of labelling one photo (decode, thumbnail, classifier, detector), split
finer than the worker's stages, and what the two-step thumbnail resize changes in the pixels.

One process, one thread; times are CPU time of this process (time.process_time), the fastest of
--repeat passes over the same phone-size photos, so other load on a shared machine inflates them
little. For the cost compared with the original design use bench/label_throughput.py.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch is imported: one thread

import argparse
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from atw.core import media
from bench.phone_photos import ensure_phone_photos
from tests.shared_data import SHARED

MODELS = SHARED / "models"


def cpu_ms(fn: Callable[[Any], Any], items: list[Any], repeat: int) -> float:
    """CPU ms per item of fn, the fastest of `repeat` passes."""
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        for item in items:
            fn(item)
        best = min(best, (time.process_time() - t) / len(items))
    return 1000 * best


def labelers(config: dict[str, Any]) -> tuple[Any, Any]:
    from pipelines.labelers import registry

    specs = registry.resolve(["imagenet", "coco"], config)
    for spec in specs:
        print(f"  {spec.stage}: {spec.model} weights id {spec.weights_id}")
    cls, det = (registry.load(spec) for spec in specs)
    return cls, det


def stages(files: list[Path], config: dict[str, Any], repeat: int) -> None:
    import torch

    from pipelines.labelers import yolo

    torch.set_num_threads(1)
    cls, det = labelers(config)
    min_short = cls.min_short_side
    min_long = max(400, det.min_long_side)
    datas = [f.read_bytes() for f in files]
    uprights = [
        media.decode_upright(media.open_image(d, 10**9), 1, min_short, min_long) for d in datas
    ]

    def decode(data: bytes) -> Image.Image:
        img = media.open_image(data, 10**9)
        return media.decode_upright(img, media.orientation(img), min_short, min_long)

    def thumb_size(u: Image.Image) -> tuple[int, int]:
        s = 400 / max(u.size)
        return round(u.size[0] * s), round(u.size[1] * s)

    small = [u.resize(thumb_size(u), Image.Resampling.LANCZOS) for u in uprights]
    cls_inputs = [cls.input(u) for u in uprights]
    det_inputs = [yolo.letterbox_pixels(u, det.input_size(u.size), det.resize) for u in uprights]
    outputs = [det._runners[(x.shape[2], x.shape[1])](x) for x, _ in det_inputs]
    rows = {
        "open + orientation (header only)": cpu_ms(
            lambda d: media.orientation(media.open_image(d, 10**9)), datas, repeat
        ),
        f"decode (draft to ≥ {min_short} / {min_long} px)": cpu_ms(decode, datas, repeat),
        "thumbnail resize": cpu_ms(
            lambda u: u.resize(
                thumb_size(u), Image.Resampling.LANCZOS, reducing_gap=media.THUMB_REDUCING_GAP
            ),
            uprights,
            repeat,
        ),
        "thumbnail JPEG save": cpu_ms(
            lambda s: s.save(io.BytesIO(), "JPEG", quality=85, optimize=True), small, repeat
        ),
        f"classifier preprocessing ({'crop' if cls._fast else 'torchvision'})": cpu_ms(
            cls.input, uprights, repeat
        ),
        f"classifier model ({cls.runtime})": cpu_ms(
            lambda x: cls._session.run(None, {"input": x}), cls_inputs, repeat
        ),
        f"detector letterbox ({det.resize})": cpu_ms(
            lambda u: yolo.letterbox_pixels(u, det.input_size(u.size), det.resize), uprights, repeat
        ),
        f"detector model ({det.runtime}{', rect' if det.rect else ''})": cpu_ms(
            lambda x: det._runners[(x[0].shape[2], x[0].shape[1])](x[0]), det_inputs, repeat
        ),
        "detector decode + NMS": cpu_ms(
            lambda o: yolo.nms(*yolo.decode(o, len(det.names))), outputs, repeat
        ),
    }
    for name, ms in rows.items():
        print(f"  {name:<45} {ms:6.2f} ms")
    print(f"  {'total':<45} {sum(rows.values()):6.2f} ms")


def thumbnails(files: list[Path], repeat: int) -> None:
    """The two-step resize against LANCZOS alone: CPU ms and the pixel differences."""
    gap = media.THUMB_REDUCING_GAP
    diffs, t_one, t_two = [], [], []
    for f in files:
        upright = media.decode_upright(media.open_image(str(f), 10**9), 1, 256, 640)
        s = 400 / max(upright.size)
        size = round(upright.size[0] * s), round(upright.size[1] * s)
        one = upright.resize(size, Image.Resampling.LANCZOS)
        two = upright.resize(size, Image.Resampling.LANCZOS, reducing_gap=gap)
        t_one.append(
            cpu_ms(lambda u, size=size: u.resize(size, Image.Resampling.LANCZOS), [upright], repeat)
        )
        t_two.append(
            cpu_ms(
                lambda u, size=size: u.resize(size, Image.Resampling.LANCZOS, reducing_gap=gap),
                [upright],
                repeat,
            )
        )
        diffs.append(np.abs(np.asarray(one, np.float32) - np.asarray(two, np.float32)))
    mean = float(np.mean([d.mean() for d in diffs]))
    p99 = float(np.mean([np.percentile(d, 99) for d in diffs]))
    print(
        f"  LANCZOS alone {np.mean(t_one):.2f} ms, reducing_gap={gap} {np.mean(t_two):.2f} ms; "
        f"difference per channel (0..255): mean {mean:.2f}, 99th percentile {p99:.1f}, "
        f"max {max(float(d.max()) for d in diffs):.0f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=24, help="phone-size photos")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--imagenet-runtime", default="auto")
    ap.add_argument("--yolo-runtime", default="auto")
    ap.add_argument("--rect", choices=["default", "on", "off"], default="default")
    ap.add_argument("--thumbnails", action="store_true", help="only the thumbnail comparison")
    args = ap.parse_args()
    files = ensure_phone_photos(args.n)[: args.n]
    print(f"{len(files)} phone-size JPEGs (9–12 MP), 1 thread, CPU ms per photo")
    if args.thumbnails:
        thumbnails(files, args.repeat)
        return
    from atw.core.settings import SETTINGS

    config: dict[str, Any] = {s.name: s.default for s in SETTINGS if s.name.startswith("YOLO_")}
    config |= {
        "IMAGENET_MODEL": os.environ.get("ATW_IMAGENET_MODEL", "mobilenet_v2"),
        "IMAGENET_WEIGHTS": os.environ.get(
            "ATW_IMAGENET_WEIGHTS", str(MODELS / "mobilenet_v2_imagenet_from_tflite.pth")
        ),
        "YOLO_MODEL": os.environ.get("ATW_YOLO_MODEL", str(MODELS / "yolov8n_int8.onnx")),
        "MODELS_DIR": str(Path(__file__).resolve().parent / "out" / "models"),
        "IMAGENET_RUNTIME": args.imagenet_runtime,
        "YOLO_RUNTIME": args.yolo_runtime,
    }
    if args.rect != "default":
        config["YOLO_RECT"] = args.rect == "on"
    stages(files, config, args.repeat)


if __name__ == "__main__":
    main()
