"""How the YOLO graph runs: onnxruntime or OpenVINO (one thread each); the static-int8 build."""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.labelers.base import ort_session
from pipelines.labelers.openvino_cpu import (
    openvino_available,
    openvino_precision,
    openvino_runner,
)

log = logging.getLogger(__name__)

# (1, H, W, 3) uint8 letterboxed pixels → the graph's first output
Runner = Callable[[np.ndarray], np.ndarray]
__all__ = [
    "openvino_available",
    "openvino_precision",
    "openvino_runner",
    "ort_runner",
    "pixel_runner",
    "to_input",
]

RUNTIMES = ("auto", "file", "fp32", "qdq", "openvino")
QDQ_RECIPE = "qdq2"  # bump when the calibration recipe below changes: new files, new ids
CALIBRATION_PHOTOS = 48  # at most this many photos calibrate a static-int8 graph
CALIBRATION_MIN = 8
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".heic", ".heif"}


def ort_runner(model: str | bytes, device: str = "cpu") -> Runner:
    """An onnxruntime session (one thread, sequential; on "cuda" the GPU) as a function of
    8-bit pixels."""
    session = ort_session(model, device)
    name = session.get_inputs()[0].name

    def run(pixels: np.ndarray) -> np.ndarray:
        return session.run(None, {name: to_input(pixels)})[0]

    return run


def pixel_runner(model: bytes, precision: str) -> Runner:
    """An OpenVINO model (one thread) as a function of 8-bit pixels, converted in the model."""
    return openvino_runner(model, precision, pixels=True)


def to_input(pixels: np.ndarray) -> np.ndarray:
    """(1, H, W, 3) uint8 pixels → the float32 NCHW ÷ 255 input of a YOLO graph."""
    x = np.empty((1, 3, *pixels.shape[1:3]), np.float32)
    np.multiply(pixels[0].transpose(2, 0, 1), np.float32(1 / 255.0), out=x[0])
    return x


def calibration_photos(folder: str | Path, limit: int = CALIBRATION_PHOTOS) -> list[Path]:
    """Photos of a folder (recursively, sorted) spread evenly over it, at most `limit`."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ValueError(f"YOLO_CALIBRATION names {root}, which is not a folder")
    found = sorted(p for p in root.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES and p.is_file())
    if len(found) > limit:
        found = [found[i * len(found) // limit] for i in range(limit)]
    return found


def calibration_inputs(
    paths: Sequence[Path], size: tuple[int, int], prepare: Callable[..., Any]
) -> list[np.ndarray]:
    """Model inputs for the photos that decode (unreadable ones are passed over)."""
    from PIL import Image, ImageOps

    from atw.core.media import register_plugins

    register_plugins()
    out = []
    for path in paths:
        try:
            with Image.open(path) as im:
                im.draft("RGB", (2 * size[0], 2 * size[1]))
                img = ImageOps.exif_transpose(im).convert("RGB")
        except Exception as exc:  # a damaged file in the folder: not a reason to fail
            log.info("calibration: skipping %s (%s)", path, exc)
            continue
        out.append(prepare(img, size)[0])
    return out


def build_qdq(
    fp32: Any, inputs: list[np.ndarray], cache_dir: str | None, key: str
) -> tuple[str | bytes, str]:
    """A static int8 (QDQ) copy of a float YOLO graph calibrated on `inputs` (99.999th
    percentile ranges), and the first 8 hex digits of its sha256. Weights int8 per channel,
    activations uint8; the first convolution, the last ones and the box decoding after them stay
    float (quantising the concatenated pixel coordinates with the 0–1 class scores in one uint8
    tensor zeroes every score; min/max ranges, or quantised first and last layers, cost box
    recall on coco128: 0.478 against 0.490). Cached under cache_dir as yolo-<key>.onnx when that
    folder is writable: built once, then reused as is."""
    path = Path(cache_dir) / f"yolo-{key}.onnx" if cache_dir else None
    if path is not None and path.is_file():
        data = path.read_bytes()
        return str(path), hashlib.sha256(data).hexdigest()[:8]
    if len(inputs) < CALIBRATION_MIN:
        raise ValueError(
            f"static int8 needs at least {CALIBRATION_MIN} calibration photos that decode "
            f"(got {len(inputs)}); set YOLO_CALIBRATION to a folder of everyday photos"
        )
    import tempfile

    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    name = fp32.graph.input[0].name
    head = head_nodes(fp32) + edge_convs(fp32)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(inputs)

        def get_next(self) -> dict[str, np.ndarray] | None:
            x = next(self.items, None)
            return None if x is None else {name: x}

    with tempfile.TemporaryDirectory(prefix="atw-qdq-") as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "qdq.onnx"
        import onnx

        onnx.save(fp32, src)
        with contextlib.redirect_stdout(io.StringIO()):  # its calibration progress prints
            quantize_static(
                str(src),
                str(dst),
                Reader(),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.Percentile,
                nodes_to_exclude=head,
            )
        data = dst.read_bytes()
    digest = hashlib.sha256(data).hexdigest()[:8]
    if path is None:
        return data, digest
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp_path = path.with_suffix(f".tmp{os.getpid()}")
        tmp_path.write_bytes(data)
        os.replace(tmp_path, path)
    except OSError as exc:
        log.warning("cannot cache %s: %s", path, exc)
        return data, digest
    return str(path), digest


def head_nodes(model: Any) -> list[str]:
    """The box and score decoding after the detector's convolutions, to be left float: the
    one-channel convolutions (YOLOv8's DFL expectation) and every node whose outputs feed only
    such nodes or the graph outputs (reshapes, concatenations, sigmoid, softmax, anchors)."""
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    consumers: dict[str, list[Any]] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    excluded: set[int] = set()
    changed = True
    while changed:
        changed = False
        for n in g.node:
            if id(n) in excluded:
                continue
            if n.op_type == "Conv":
                w = inits.get(n.input[1])
                head = w is not None and w.dims[0] == 1
            else:
                after = [c for o in n.output for c in consumers.get(o, [])]
                head = all(id(c) in excluded for c in after)
            if head:
                excluded.add(id(n))
                changed = True
    return [n.name for n in g.node if id(n) in excluded]


def edge_convs(model: Any) -> list[str]:
    """The convolutions that read the image and those that feed only the box decoding."""
    g = model.graph
    head = set(head_nodes(model))
    consumers: dict[str, list[Any]] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    image = g.input[0].name
    out = []
    for n in g.node:
        if n.op_type != "Conv" or n.name in head:
            continue
        after = [c for o in n.output for c in consumers.get(o, [])]
        if image in n.input or (after and all(c.name in head for c in after)):
            out.append(n.name)
    return out
