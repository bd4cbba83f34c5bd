"""Accuracy, orientation invariance and latency of the labelers, called directly on ../shared."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch is imported: one thread, like a worker

import argparse
import csv
import io
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.labelers import registry, yolo_engines  # noqa: E402
from pipelines.labelers.base import Box, Label  # noqa: E402
from tests.shared_data import SHARED  # noqa: E402

MIN_SCORE = 0.25  # the query-time threshold the acceptance figures use
# pixels stored = upright image transposed by ROTATE[o]; exif_transpose undoes it
ROTATE = {
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_90,
    8: Image.Transpose.ROTATE_270,
}


def draft_request(width: int, height: int, min_short: int, min_long: int) -> tuple[int, int]:
    """The smallest size at the image's aspect with short side ≥ min_short and long side ≥
    min_long (capped at the image's own size); Image.draft picks the DCT scale that reaches it."""
    scale = min(1.0, max(min_short / min(width, height), min_long / max(width, height)))
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))


def decode(source: Path | bytes, min_short: int, min_long: int) -> Image.Image:
    """Decode as the pipeline does: JPEG draft to the smallest size the labelers need, then EXIF
    orientation, then RGB."""
    with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as im:
        im.draft("RGB", draft_request(*im.size, min_short, min_long))
        return ImageOps.exif_transpose(im).convert("RGB")


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match(dets: list[Box], truth: list[tuple[str, tuple[float, ...]]], thr: float) -> int:
    """Greedy one-to-one same-class matches at IoU ≥ thr, detections best first."""
    used: set[int] = set()
    n = 0
    for d in sorted(dets, key=lambda d: -d.score):
        best, best_iou = -1, thr
        for j, (label, box) in enumerate(truth):
            if j not in used and label == d.label and (v := iou(d.box, box)) >= best_iou:
                best, best_iou = j, v
        if best >= 0:
            used.add(best)
            n += 1
    return n


def imagenet_accuracy(labeler: Any, sides: tuple[int, int]) -> dict[str, float]:
    folder = SHARED / "photos" / "imagenet-samples"
    with (folder / "labels.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    categories = labeler.categories
    top1 = top5 = 0
    for row in rows:
        labels = labeler(decode(folder / row["file"], *sides))
        want = categories[int(row["class_index"])]
        top1 += bool(labels) and labels[0].label == want
        top5 += want in [lab.label for lab in labels]
    n = len(rows)
    return {"images": n, "top1": top1 / n, "top5": top5 / n}


def coco_truth(names: list[str]) -> list[tuple[Path, list[tuple[str, tuple[float, ...]]]]]:
    base = SHARED / "photos" / "coco128"
    out = []
    for txt in sorted((base / "labels" / "train2017").glob("*.txt")):
        image = base / "images" / "train2017" / f"{txt.stem}.jpg"
        if not image.is_file():
            continue
        truth = []
        for line in txt.read_text().split("\n"):
            if line.strip():
                c, cx, cy, w, h = line.split()
                cxf, cyf, wf, hf = float(cx), float(cy), float(w), float(h)
                truth.append(
                    (names[int(c)], (cxf - wf / 2, cyf - hf / 2, cxf + wf / 2, cyf + hf / 2))
                )
        out.append((image, truth))
    return out


def coco_accuracy(labeler: Any, sides: tuple[int, int], upscale: float = 1.0) -> dict[str, float]:
    """coco128 figures; upscale > 1 enlarges each photo first (Lanczos), so that the detector
    shrinks it again as it does a phone photo's draft (coco128 is at the model's 640 px)."""
    hit_images = n_truth = n_det = n_match = 0
    data = coco_truth(labeler.names)
    for image, truth in data:
        img = decode(image, *sides)
        if upscale != 1.0:
            size = (round(img.width * upscale), round(img.height * upscale))
            img = img.resize(size, Image.Resampling.LANCZOS)
        dets = [d for d in labeler(img) if d.score >= MIN_SCORE]
        hit_images += bool({d.label for d in dets} & {t[0] for t in truth})
        m = match(dets, truth, 0.5)
        n_truth, n_det, n_match = n_truth + len(truth), n_det + len(dets), n_match + m
    return {
        "images": len(data),
        "images_with_correct_class": hit_images,
        "box_recall@0.5": n_match / n_truth,
        "box_precision@0.5": n_match / max(1, n_det),
        "truth_boxes": n_truth,
        "detections": n_det,
    }


def rotated_copies(path: Path, quality: int, subsampling: int) -> dict[int, bytes]:
    """The photo re-encoded upright (1) and with its pixels rotated + EXIF orientation 3, 6, 8."""
    with Image.open(path) as im:
        upright = ImageOps.exif_transpose(im).convert("RGB")
    out = {}
    for o, transpose in {1: None, **ROTATE}.items():
        pixels = upright if transpose is None else upright.transpose(transpose)
        exif = Image.Exif()
        exif[0x0112] = o
        buf = io.BytesIO()
        pixels.save(buf, "JPEG", quality=quality, subsampling=subsampling, exif=exif.tobytes())
        out[o] = buf.getvalue()
    return out


def same_boxes(a: list[Box], b: list[Box], min_score: float, twin_score: float) -> bool:
    """Every box of a scoring ≥ min_score has a same-class twin in b (score ≥ twin_score) at
    IoU ≥ 0.8, and the other way round."""

    def covered(x: list[Box], y: list[Box]) -> bool:
        y = [e for e in y if e.score >= twin_score]
        return all(
            any(e.label == d.label and iou(d.box, e.box) >= 0.8 for e in y)
            for d in x
            if d.score >= min_score
        )

    return covered(a, b) and covered(b, a)


def orientation(
    labelers: dict[str, Any], sides: tuple[int, int], count: int, quality: int, subsampling: int
) -> dict[str, Any]:
    photos = sorted((SHARED / "photos" / "imagenet-samples").glob("*.JPEG"))[:count]
    photos += sorted((SHARED / "photos" / "coco128" / "images" / "train2017").glob("*.jpg"))[:count]
    rules = {
        "all stored (>=0.20)": (0.2, 0.2),
        ">=0.25 (twin >=0.20)": (0.25, 0.2),
        ">=0.40 (twin >=0.20, tests/test_labels.py)": (0.4, 0.2),
        ">=0.50 (twin >=0.25)": (0.5, 0.25),
    }
    same = dict.fromkeys(rules, 0)
    same_top = total = 0
    bad: list[str] = []
    for path in photos:
        copies = rotated_copies(path, quality, subsampling)
        ref_image = decode(copies[1], *sides)
        ref_top = labelers["imagenet"](ref_image)[0].label
        ref_boxes = labelers["coco"](ref_image)
        for o in (3, 6, 8):
            image = decode(copies[o], *sides)
            if image.size != ref_image.size:
                raise AssertionError(f"{path.name}@{o}: orientation not applied")
            total += 1
            top_ok = labelers["imagenet"](image)[0].label == ref_top
            same_top += top_ok
            boxes = labelers["coco"](image)
            for rule, (min_score, twin) in rules.items():
                same[rule] += same_boxes(ref_boxes, boxes, min_score, twin)
            if not (top_ok and same_boxes(ref_boxes, boxes, 0.5, 0.25)):
                bad.append(f"{path.name}@{o}")
    return {
        "copies": total,
        "jpeg": f"q{quality} subsampling {subsampling}",
        "same_top_class": same_top,
        **{f"same_detections {rule}, IoU>=0.8": n for rule, n in same.items()},
        "mismatches (top class or >=0.50 rule)": bad,
    }


def latency(
    fn: Callable[[Image.Image], list[Label] | list[Box]], images: list[Image.Image], rounds: int = 3
) -> float:
    """Median ms per image of the quietest of a few rounds (the machine may be shared)."""
    for im in images[:3]:
        fn(im)
    medians = []
    for _ in range(rounds):
        times = []
        for im in images:
            t = time.perf_counter()
            fn(im)
            times.append(time.perf_counter() - t)
        medians.append(1000 * statistics.median(times))
    return min(medians)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--imagenet-model", default="mobilenet_v2")
    ap.add_argument(
        "--imagenet-weights",
        default=str(SHARED / "models" / "mobilenet_v2_imagenet_from_tflite.pth"),
    )
    ap.add_argument("--yolo", default=str(SHARED / "models" / "yolov8n_int8.onnx"))
    ap.add_argument("--models-dir", default=str(ROOT / "bench" / "out" / "models"))
    ap.add_argument("--runtime", default="auto", choices=["auto", "onnx", "eager", "openvino"])
    ap.add_argument("--yolo-runtime", default="auto", choices=yolo_engines.RUNTIMES)
    ap.add_argument(
        "--rect",
        choices=["on", "off"],
        default="on",
        help="rectangular input (YOLO_RECT, on by default) or the square",
    )
    ap.add_argument(
        "--rect-pad",
        type=float,
        default=None,
        help="strides of border around a rectangular input (yolo.RECT_PAD; 0 = the tightest)",
    )
    ap.add_argument(
        "--calibration",
        default="",
        help="photos that calibrate --yolo-runtime int8 and qdq (never the accuracy sets; "
        "default: the shipped pipelines/labelers/calibration)",
    )
    ap.add_argument(
        "--resize",
        choices=["linear", "antialias"],
        default="linear",
        help="how the detector scales a photo into its input (YOLO_RESIZE)",
    )
    ap.add_argument(
        "--upscale",
        type=float,
        default=1.0,
        help="enlarge coco128 photos by this factor first (1.5: the detector then "
        "shrinks them, as a phone photo's 1000 px draft)",
    )
    ap.add_argument("--coco-only", action="store_true", help="detector figures only")
    ap.add_argument("--separate", action="store_true", help="decode per labeler, not once for both")
    ap.add_argument("--orient-count", type=int, default=30, help="photos per set for orientation")
    ap.add_argument("--quality", type=int, default=100, help="JPEG quality of orientation copies")
    ap.add_argument("--subsampling", type=int, default=0, help="0 = 4:4:4, 2 = 4:2:0")
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--latency-images", type=int, default=60)
    ap.add_argument(
        "--fallback",
        default="",
        help="also time this torchvision detector (random weights: speed only), "
        "e.g. fasterrcnn_mobilenet_v3_large_fpn",
    )
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    config = {
        "IMAGENET_MODEL": args.imagenet_model,
        "IMAGENET_WEIGHTS": args.imagenet_weights,
        "YOLO_MODEL": args.yolo,
        "MODELS_DIR": args.models_dir,
        "IMAGENET_RUNTIME": args.runtime,
        "YOLO_RUNTIME": args.yolo_runtime,
        "YOLO_RECT": args.rect == "on",
        "YOLO_CALIBRATION": args.calibration,
        "YOLO_RESIZE": args.resize,
    }
    if args.rect_pad is not None:
        from pipelines.labelers import yolo

        yolo.RECT_PAD = args.rect_pad  # measurement only: the weights id does not say it
    specs = registry.resolve(["imagenet", "coco"], config)
    labelers = {spec.stage: registry.load(spec) for spec in specs}
    for spec in specs:
        print(
            f"{spec.stage}: {spec.model} weights {spec.weights_id} ({spec.backend}, "
            f"{labelers[spec.stage].runtime})"
        )
    both = (
        max(lab.min_short_side for lab in labelers.values()),
        max(lab.min_long_side for lab in labelers.values()),
    )

    def sides(stage: str) -> tuple[int, int]:
        lab = labelers[stage]
        return (lab.min_short_side, lab.min_long_side) if args.separate else both

    print(f"decode: draft to min sides {both if not args.separate else 'per labeler'}")
    if not args.skip_accuracy:
        if not args.coco_only:
            print("imagenet-samples:", imagenet_accuracy(labelers["imagenet"], sides("imagenet")))
        print("coco128:", coco_accuracy(labelers["coco"], sides("coco"), args.upscale))
    if args.coco_only:
        return
    if args.orient_count:
        orient = orientation(labelers, both, args.orient_count, args.quality, args.subsampling)
        print("orientation:", orient)

    photos = sorted((SHARED / "photos" / "coco128" / "images" / "train2017").glob("*.jpg"))
    images = [decode(p, *both) for p in photos[: args.latency_images]]
    eager_spec = registry.resolve(["imagenet"], config | {"IMAGENET_RUNTIME": "eager"})[0]
    eager = registry.load(eager_spec)
    print(
        f"latency, 1 thread, median ms/image over {len(images)} coco128 images (+ preprocessing):"
    )
    print(f"  imagenet {args.imagenet_model} eager: {latency(eager, images):.1f}")
    if labelers["imagenet"].runtime != "eager":
        rt = labelers["imagenet"].runtime
        print(f"  imagenet {args.imagenet_model} {rt}: {latency(labelers['imagenet'], images):.1f}")
    coco = labelers["coco"]
    print(f"  coco {specs[1].model} @{coco.min_long_side}: {latency(coco, images):.1f}")
    if args.fallback:
        ms = fallback_latency(args.fallback, images)
        print(f"  coco {args.fallback} (random weights): {ms:.1f}")


def fallback_latency(name: str, images: list[Image.Image]) -> float:
    """Speed of a torchvision detector; its weights are random (speed does not depend on them)."""
    import tempfile

    import torch
    import torchvision

    with tempfile.TemporaryDirectory() as tmp:
        model = torchvision.models.get_model(name, weights=None, weights_backbone=None)
        torch.save(model.state_dict(), Path(tmp) / f"{name}.pth")
        config = {"MODELS_DIR": tmp, "DETECTOR_FALLBACK": name}
        labeler = registry.load(registry.resolve(["coco"], config)[0])
    return latency(labeler, images[:10], rounds=1)


if __name__ == "__main__":
    main()
