"""How the YOLO graph runs: onnxruntime or OpenVINO (one thread each); the static-int8 builds."""

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
from pipelines.labelers.yolo_graphs import (
    edge_convs,
    head_nodes,
    mixed_ranges,
    unsigned_activations,
)

log = logging.getLogger(__name__)

# (1, H, W, 3) uint8 letterboxed pixels → the graph's first output
Runner = Callable[[np.ndarray], np.ndarray]
__all__ = [
    "nncf_available",
    "openvino_available",
    "openvino_precision",
    "openvino_runner",
    "ort_runner",
    "pixel_runner",
    "to_input",
]

RUNTIMES = ("auto", "file", "fp32", "qdq", "openvino", "int8")
QDQ_RECIPE = "qdq2"  # bump when the calibration recipe below changes: new files, new ids
INT8_RECIPE = "nncf3"  # the same for build_int8
# everyday photos from Debian and PyPI packages (SOURCES.md, scripts/build_calibration_set.py):
# the calibration set when YOLO_CALIBRATION names none
CALIBRATION_DIR = Path(__file__).resolve().parent / "calibration"
CALIBRATION_PHOTOS = 48  # at most this many photos calibrate a static-int8 graph
CALIBRATION_MIN = 8
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".heic", ".heif"}


def auto_runtime() -> str:
    """YOLO_RUNTIME=auto on the CPU: NNCF's static int8 on OpenVINO where both are installed
    (its float parts at bf16 where the processor has it), else OpenVINO's float graph, else
    onnxruntime's. bench/label_throughput.py on an AVX-512 machine: 17.0x the original design
    against 15.5x for the float graph at bf16; on an AVX2-only one 15.4x against 11.5x (the
    nncf2 recipe, which ran one more convolution in f32). Labels as good (bench/label_accuracy.py
    on the AVX-512 one: coco128 122 of 126 either way, box recall 0.497 against 0.502; rotated
    copies keep every box ≥ 0.4 in 589 of 600 against 585)."""
    if not openvino_available():
        return "fp32"
    return "int8" if nncf_available() else "openvino"


_BUILT: dict[str, tuple[str | bytes, str]] = {}  # this process's builds by key (static_graph)


def static_graph(
    runtime: str,
    path: Path,
    calibration: str,
    cache: str | None,
    wid: str,
    prepare: Callable[..., Any],
) -> tuple[str, str]:
    """Build (or find in the cache) the static-int8 graph of `runtime` (qdq or int8) once,
    here in the main process, so every worker loads the same file; returns its path (or ""
    without a cache) and digest. The cache key names the model, the recipe and the
    calibration set; a graph this process built is copied into another models folder.
    prepare: the detector's letterbox (image, (w, h)) → (input, ...)."""
    import onnx

    from pipelines.labelers import yolo_graphs

    photos = calibration_photos(calibration)
    recipe = INT8_RECIPE if runtime == "int8" else QDQ_RECIPE
    build = build_int8 if runtime == "int8" else build_qdq
    key = f"{path.stem}-{wid}-{recipe}-{calibration_key(photos)}"
    if cache is not None and (Path(cache) / f"yolo-{key}.onnx").is_file():
        found, digest = build(None, [], cache, key)
        return str(found), digest
    if key in _BUILT:
        model, digest = store(_BUILT[key][0], cache, key)
        return (model if isinstance(model, str) else ""), digest
    graph = onnx.load(str(path))
    if yolo_graphs.has_conv_integer(graph):
        graph = yolo_graphs.dequantize(graph)
    h, w = yolo_graphs.input_hw(graph)
    inputs = calibration_inputs(photos, (w, h), prepare)
    model, digest = build(graph, inputs, None, key)
    _BUILT[key] = (model, digest)
    model, digest = store(model, cache, key)
    return (model if isinstance(model, str) else ""), digest


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


def nncf_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("nncf") is not None


def calibration_key(photos: Sequence[Path]) -> str:
    """8 hex digits naming a calibration set (its photos' names and sizes): part of the cache
    key of a built graph, so that another set builds anew."""
    h = hashlib.sha256()
    for p in photos:
        h.update(f"{p.name}:{p.stat().st_size};".encode())
    return h.hexdigest()[:8]


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


def _cached(cache_dir: str | None, key: str) -> tuple[Path | None, tuple[str, str] | None]:
    """The cache file for `key` and, when it exists, (its path, its digest)."""
    path = Path(cache_dir) / f"yolo-{key}.onnx" if cache_dir else None
    if path is not None and path.is_file():
        return path, (str(path), hashlib.sha256(path.read_bytes()).hexdigest()[:8])
    return path, None


def store(data: str | bytes, cache_dir: str | None, key: str) -> tuple[str | bytes, str]:
    """A built graph (bytes, or a file) written to cache_dir as yolo-<key>.onnx when given."""
    if isinstance(data, str):
        data = Path(data).read_bytes()
    return _store(data, Path(cache_dir) / f"yolo-{key}.onnx" if cache_dir else None)


def _store(data: bytes, path: Path | None) -> tuple[str | bytes, str]:
    """A built graph written to its cache file (atomically) when there is one: (path or the
    bytes themselves, first 8 hex digits of its sha256)."""
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


def _enough(inputs: list[np.ndarray]) -> None:
    if len(inputs) < CALIBRATION_MIN:
        raise ValueError(
            f"static int8 needs at least {CALIBRATION_MIN} calibration photos that decode "
            f"(got {len(inputs)}); set YOLO_CALIBRATION to a folder of everyday photos"
        )


def build_int8(
    fp32: Any, inputs: list[np.ndarray], cache_dir: str | None, key: str
) -> tuple[str | bytes, str]:
    """A static int8 copy of a float YOLO graph by NNCF's post-training quantisation, for
    OpenVINO, which runs its quantise/dequantise pairs as int8 convolutions. Weights int8 per
    channel; activations asymmetric, their ranges from `inputs` (yolo_graphs.mixed_ranges:
    outliers clipped in the backbone up to the SPPF, full ranges after it); fast bias
    correction. The box decoding and the convolutions that read the image or feed the decoding
    stay float, as in build_qdq. NNCF puts its pairs on convolution inputs only, which
    onnxruntime cannot fuse (the same graph there: 130 ms) but OpenVINO can. Calibrated on
    CALIBRATION_DIR, coco128: 122 of 126 images, box recall 0.497 (the float graph at bf16
    122 / 0.502). Cached as build_qdq's graphs are."""
    path, found = _cached(cache_dir, key)
    if found is not None:
        return found
    _enough(inputs)
    import nncf
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    nncf.set_log_level(logging.ERROR)
    name = fp32.graph.input[0].name
    excluded = head_nodes(fp32) + edge_convs(fp32)

    def quantize(ranges: Any) -> Any:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return nncf.quantize(  # its progress bars print
                fp32,
                nncf.Dataset(inputs, lambda x: {name: x}),
                subset_size=len(inputs),
                preset=nncf.QuantizationPreset.MIXED,  # asymmetric (SiLU's are ≥ -0.28)
                ignored_scope=nncf.IgnoredScope(names=excluded),
                advanced_parameters=AdvancedQuantizationParameters(
                    activations_range_estimator_params=ranges
                ),
            )

    full = quantize(RangeEstimatorParametersSet.MEAN_MINMAX)  # NNCF's default
    clipped = quantize(RangeEstimatorParametersSet.MEAN_QUANTILE)
    model = mixed_ranges(full, clipped)
    return _store(unsigned_activations(model).SerializeToString(), path)


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
    path, found = _cached(cache_dir, key)
    if found is not None:
        return found
    _enough(inputs)
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
    return _store(data, path)
