"""YOLO detector exported to ONNX (v5 / v8 / v11 layouts) on onnxruntime: letterbox, decode, NMS."""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pipelines.labelers.base import DETECTION_FLOOR, Box, LabelerSpec

PAD_VALUE = 114
NMS_IOU = 0.45
MAX_CANDIDATES = 30_000  # best-scoring boxes kept before NMS
MAX_DETECTIONS = 300


def load(spec: LabelerSpec) -> YoloLabeler:
    return YoloLabeler(spec)


@dataclass(frozen=True)
class Letterbox:
    """How an image was fitted into the model input: its size, the resized size and the padding."""

    width: int
    height: int
    new_width: int
    new_height: int
    left: int
    top: int


def letterbox(
    image: Image.Image, size: tuple[int, int], resize: str = "antialias"
) -> tuple[np.ndarray, Letterbox]:
    """letterbox_pixels as the float32 NCHW RGB/255 input of a YOLO graph."""
    from pipelines.labelers.yolo_engines import to_input

    pixels, lb = letterbox_pixels(image, size, resize)
    return to_input(pixels), lb


def letterbox_pixels(
    image: Image.Image, size: tuple[int, int], resize: str = "antialias"
) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping aspect to fit size (width, height), centre on PAD_VALUE grey; returns the
    (1, height, width, 3) uint8 pixels and the geometry needed to undo it.

    resize (RESIZES): "linear" is Ultralytics' own letterbox (OpenCV's INTER_LINEAR, what the
    models are trained and validated with; ~0.8 ms from a 1000×750 draft against ~5 ms here),
    with OpenCV's area average for a photo shrunk 2× or more (a PNG or HEIC at full size);
    "antialias" Pillow's bilinear, which widens its filter when shrinking."""
    in_w, in_h = size
    w, h = image.size
    r = min(in_w / w, in_h / h)
    nw, nh = max(1, round(w * r)), max(1, round(h * r))
    left, top = round((in_w - nw) / 2 - 0.1), round((in_h - nh) / 2 - 0.1)
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    if resize not in RESIZES:
        raise ValueError(f"unknown letterbox resize {resize!r} (known: {', '.join(RESIZES)})")
    if (nw, nh) == (w, h):
        pixels = np.asarray(rgb)
    elif resize == "linear":
        # shrunk 2× or more (a photo no JPEG draft reduced): an area average, not aliasing
        cv2 = _cv2()
        how = cv2.INTER_AREA if nw * 2 <= w else cv2.INTER_LINEAR
        pixels = cv2.resize(np.asarray(rgb), (nw, nh), interpolation=how)
    else:
        pixels = np.asarray(rgb.resize((nw, nh), Image.Resampling.BILINEAR))
    if (nw, nh) == (in_w, in_h):
        return pixels[None], Letterbox(w, h, nw, nh, left, top)
    x = np.full((1, in_h, in_w, 3), PAD_VALUE, np.uint8)
    x[0, top : top + nh, left : left + nw] = pixels
    return x, Letterbox(w, h, nw, nh, left, top)


RESIZES = ("linear", "antialias")


def _cv2() -> Any:
    """OpenCV, imported on first use and kept to one thread (one worker process per core)."""
    import cv2

    if cv2.getNumThreads() != 1:
        cv2.setNumThreads(1)
    return cv2


def unletterbox(boxes: np.ndarray, lb: Letterbox) -> np.ndarray:
    """Boxes (x0, y0, x1, y1) in model-input pixels → normalised 0..1 of the original image."""
    out = boxes.astype(np.float64).copy()
    out[:, [0, 2]] = (out[:, [0, 2]] - lb.left) / lb.new_width
    out[:, [1, 3]] = (out[:, [1, 3]] - lb.top) / lb.new_height
    return np.clip(out, 0.0, 1.0)


def decode(
    output: np.ndarray, num_classes: int, floor: float = DETECTION_FLOOR, end2end: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw model output → (boxes x0,y0,x1,y1 in input pixels, scores, class ids), score ≥ floor.

    Layouts, told apart by shape: YOLOv8/v11 [1, 4+nc, N] (cx,cy,w,h, class scores);
    YOLOv5 [1, N, 5+nc] (cx,cy,w,h, objectness, class scores; score = obj × cls);
    end2end exports (NMS inside the model) [1, N, 6]: x0,y0,x1,y1, score, class."""
    out = np.asarray(output, dtype=np.float32)
    if out.ndim == 3:
        out = out[0]
    if out.ndim != 2:
        raise ValueError(f"unexpected YOLO output shape {output.shape}")
    if end2end:
        rows = out if out.shape[1] == 6 else out.T
        keep = rows[:, 4] >= floor
        rows = rows[keep]
        return rows[:, :4].copy(), rows[:, 4].copy(), rows[:, 5].astype(np.int64)
    a, b = out.shape
    if a == 4 + num_classes and b != 4 + num_classes:  # v8: channels first
        # the best class of every candidate over contiguous rows, the argmax only of those kept
        best = out[4:].max(axis=0)
        keep = np.flatnonzero(best >= floor)
        if len(keep) > MAX_CANDIDATES:
            keep = keep[np.argsort(-best[keep])[:MAX_CANDIDATES]]
        cls = out[4:, keep].argmax(axis=0)
        cx, cy, w, h = out[:4, keep]
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        return boxes, best[keep], cls.astype(np.int64)
    if b == 5 + num_classes:  # v5: channels last, with objectness
        rows, has_obj = out, True
    elif b == 4 + num_classes:  # v8 transposed
        rows, has_obj = out, False
    elif a == 5 + num_classes:  # v5 transposed
        rows, has_obj = out.T, True
    else:
        raise ValueError(f"YOLO output shape {output.shape} does not fit {num_classes} classes")
    cls_scores = rows[:, 5:] * rows[:, 4:5] if has_obj else rows[:, 4:]
    cls = cls_scores.argmax(axis=1)
    scores = cls_scores[np.arange(len(rows)), cls]
    keep = np.flatnonzero(scores >= floor)
    if len(keep) > MAX_CANDIDATES:
        keep = keep[np.argsort(-scores[keep])[:MAX_CANDIDATES]]
    cx, cy, w, h = (rows[keep, i] for i in range(4))
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return boxes, scores[keep], cls[keep].astype(np.int64)


def nms(
    boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float = NMS_IOU
) -> np.ndarray:
    """Indices kept by class-wise NMS (torchvision.ops.batched_nms), best first, capped."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    import torch
    from torchvision.ops import batched_nms

    keep = batched_nms(
        torch.from_numpy(boxes).float(),
        torch.from_numpy(scores).float(),
        torch.from_numpy(classes),
        iou,
    )
    return keep[:MAX_DETECTIONS].numpy()


def parse_names(value: str) -> list[str]:
    """Class names from Ultralytics metadata: a dict literal {0: 'person', …} or a list literal."""
    names = ast.literal_eval(value)
    if isinstance(names, dict):
        return [str(names[i]) for i in sorted(names)]
    if isinstance(names, list | tuple):
        return [str(n) for n in names]
    raise ValueError(f"cannot read class names from {value[:80]!r}")


def read_names_file(path: Path) -> list[str]:
    """One class name per line (blank lines and # comments skipped)."""
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def find_names(model_path: Path, metadata: dict[str, str]) -> list[str]:
    """Class names: <stem>.names next to the model, else its `names` metadata, else names.txt."""
    specific = model_path.with_suffix(".names")
    if specific.is_file():
        return read_names_file(specific)
    if metadata.get("names"):
        return parse_names(metadata["names"])
    generic = model_path.parent / "names.txt"
    if generic.is_file():
        return read_names_file(generic)
    raise ValueError(
        f"{model_path}: no class names: the model has no 'names' metadata; put one name per line "
        f"in {specific.name} or names.txt next to it"
    )


class YoloLabeler:
    """COCO (or custom-class) boxes for an upright RGB image.

    spec.options["runtime"] says how the graph runs (registry.resolve never leaves "auto"):
    "file" the file as it is on onnxruntime; "fp32" float (weights recovered from a dynamically
    quantised file); "qdq" static int8 calibrated on options["calibration"] photos, on
    onnxruntime; "int8" NNCF's static int8, calibrated so, on OpenVINO; "openvino" the float
    graph on OpenVINO at options["precision"]. With options["rect"] a photo
    is letterboxed to a rectangle of stride multiples (rect_size: 640×512 for 4:3) instead of
    the full square, through a copy of the graph specialised to that size; options["resize"]
    says how the photo is scaled into it (letterbox)."""

    def __init__(self, spec: LabelerSpec) -> None:
        import onnx

        from pipelines.labelers import yolo_engines, yolo_graphs

        self.spec = spec
        path = Path(spec.weights_path or "")
        self.runtime = str(spec.options.get("runtime", "file"))
        if self.runtime not in yolo_engines.RUNTIMES[1:]:
            raise ValueError(f"unknown YOLO runtime {self.runtime!r}")
        proto = onnx.load(str(path))
        metadata = {p.key: p.value for p in proto.metadata_props}
        self.size = _input_size(
            [d.dim_value or d.dim_param for d in proto.graph.input[0].type.tensor_type.shape.dim],
            metadata,
        )
        self.names = find_names(path, metadata)
        # NMS inside the model: Ultralytics end2end (YOLOv10/26) or nms=True exports
        args = metadata.get("args", "")
        self.end2end = metadata.get("end2end", "").lower() == "true" or "'nms': True" in args
        self.stride = int(metadata.get("stride", 32) or 32)
        self.min_short_side = 0
        self.min_long_side = max(self.size)
        self._graph: Any = None  # the graph runners are made from (None: the file itself)
        if self.runtime != "file":
            graph = proto
            if yolo_graphs.has_conv_integer(graph):
                try:
                    graph = yolo_graphs.dequantize(graph)
                except yolo_graphs.NotDerivable as exc:  # both runtimes run it as it is, slower
                    import logging

                    logging.getLogger(__name__).warning(
                        "%s: int8 graph kept as it is (%s)", spec.model, exc
                    )
            if self.runtime in ("qdq", "int8"):
                graph = onnx.load_from_string(_static_model(spec, graph, self.size))
            self._graph = graph
        self.rect = bool(spec.options.get("rect")) and self._graph is not None
        self.resize = str(spec.options.get("resize", "antialias"))
        if self.resize not in RESIZES:
            raise ValueError(f"unknown YOLO resize {self.resize!r}")
        self._runners: dict[tuple[int, int], Any] = {self.size: self._runner(self.size)}

    def __call__(self, image: Image.Image) -> list[Box]:
        size = self.input_size(image.size)
        x, lb = letterbox_pixels(image, size, self.resize)
        output = self._runners[size](x)
        boxes, scores, classes = decode(output, len(self.names), end2end=self.end2end)
        if not self.end2end:
            keep = nms(boxes, scores, classes)
            boxes, scores, classes = boxes[keep], scores[keep], classes[keep]
        norm = unletterbox(boxes, lb)
        return [
            Box(self.names[c], float(s), (float(b[0]), float(b[1]), float(b[2]), float(b[3])))
            for b, s, c in zip(norm, scores, classes, strict=True)
            if 0 <= c < len(self.names) and b[2] > b[0] and b[3] > b[1]
        ]

    def input_size(self, image_size: tuple[int, int]) -> tuple[int, int]:
        """The model input (width, height) for a photo: the square, or with rect the photo
        scaled into the square and each side rounded up to the stride; a graph that cannot be
        specialised falls back to the square for good."""
        if not self.rect:
            return self.size
        size = rect_size(image_size, self.size, self.stride)
        if size not in self._runners:
            try:
                self._runners[size] = self._runner(size)
            except Exception as exc:  # NotDerivable, or a runtime refusing the copy
                import logging

                logging.getLogger(__name__).warning(
                    "%s: square input only (%s)", self.spec.model, exc
                )
                self.rect = False
                return self.size
        return size

    def _runner(self, size: tuple[int, int]) -> Any:
        from pipelines.labelers import yolo_engines, yolo_graphs

        device = str(self.spec.options.get("device", "cpu"))  # LABEL_DEVICE (not OpenVINO)
        if self._graph is None:
            return yolo_engines.ort_runner(str(self.spec.weights_path), device)
        graph = self._graph
        if size != self.size:
            graph = yolo_graphs.specialise(graph, size[0], size[1], self.stride)
        data = graph.SerializeToString()
        if self.runtime in ("openvino", "int8"):
            return yolo_engines.pixel_runner(data, str(self.spec.options["precision"]))
        return yolo_engines.ort_runner(data, device)


RECT_PAD = 0.5  # strides of grey added to a side, at least, before rounding up to the stride


def rect_size(image_size: tuple[int, int], square: tuple[int, int], stride: int) -> tuple[int, int]:
    """The input, in stride multiples within `square`, for the photo scaled to fit the square:
    each side with at least half a stride of grey border, rounded up to the stride (the shapes
    of Ultralytics' rectangular validation, capped at the square). A 4:3 photo: 640×512.

    Without the border (the tightest multiple, 640×480 for 4:3) objects at the photo's edge
    were less stable across rotated copies of a photo: over 600 copies, 580 kept every box ≥ 0.4
    against 585 with the square and 584 with the border (bench/label_accuracy.py
    --orient-count 100 --quality 95 --subsampling 2, with --rect-pad 0 or --rect off)."""
    w, h = image_size
    r = min(square[0] / w, square[1] / h)
    nw, nh = max(1, round(w * r)), max(1, round(h * r))
    return (
        min(square[0], math.ceil(nw / stride + RECT_PAD) * stride),
        min(square[1], math.ceil(nh / stride + RECT_PAD) * stride),
    )


def _static_model(spec: LabelerSpec, fp32: Any, size: tuple[int, int]) -> bytes:
    """The static-int8 graph the registry built (or builds now, for a spec made by hand)."""
    from pipelines.labelers import yolo_engines

    cached = spec.options.get("qdq_path")
    if cached and Path(cached).is_file():
        return Path(cached).read_bytes()
    paths = yolo_engines.calibration_photos(str(spec.options.get("calibration", "")))
    inputs = yolo_engines.calibration_inputs(paths, size, letterbox)
    build = yolo_engines.build_int8 if spec.options["runtime"] == "int8" else yolo_engines.build_qdq
    model, _ = build(fp32, inputs, None, "")
    return model if isinstance(model, bytes) else Path(model).read_bytes()


def _input_size(shape: list[Any], metadata: dict[str, str]) -> tuple[int, int]:
    """(width, height) of the model input: from its fixed shape, else metadata imgsz, else 640."""
    h, w = shape[2], shape[3]
    if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0:
        return w, h
    if metadata.get("imgsz"):
        size = ast.literal_eval(metadata["imgsz"])
        if isinstance(size, int):
            return size, size
        return int(size[1]), int(size[0])
    return 640, 640
