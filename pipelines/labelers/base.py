"""Label and Box result types, the LabelerSpec that names a model, and the Labeler protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from PIL import Image

# Scores under these floors are not stored; thresholds are chosen at query time above them.
LABEL_FLOOR = 0.02
DETECTION_FLOOR = 0.20
TOP_K = 5


@dataclass(frozen=True, slots=True)
class Label:
    """One whole-image class with its softmax score (ImageNet)."""

    label: str
    score: float


@dataclass(frozen=True, slots=True)
class Box:
    """One detected object; box = (x0, y0, x1, y1) normalised to 0..1 of the upright image."""

    label: str
    score: float
    box: tuple[float, float, float, float]


class WeightsMissing(RuntimeError):
    """Raised before any work when a model's weights can be neither found nor downloaded, or
    the labelling packages (the `index` extra) are not installed.

    The message says exactly which file to put where (or which setting or package to use)."""


@dataclass(frozen=True)
class LabelerSpec:
    """Everything needed to load a labeler in a worker process; cheap, picklable.

    stage: "imagenet" (→ Label rows) or "coco" (→ Detection rows)
    backend: module name in pipelines/labelers ("imagenet", "yolo", "tvdetect")
    model: the model's name as stored with every row ("mobilenet_v2", "yolov8n_int8", …)
    weights_id: identifies the weights (e.g. sha256 prefix of the file); stored with every row
    weights_path: resolved local file, or None when the backend loads from torchvision's cache
    options: backend specifics (e.g. input size)
    """

    stage: str
    backend: str
    model: str
    weights_id: str
    weights_path: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


class Labeler(Protocol):
    """A loaded model. Called with an upright RGB image (EXIF orientation already applied),
    decoded at least at min_short_side/min_long_side pixels; returns its results."""

    spec: LabelerSpec
    min_short_side: int
    min_long_side: int

    def __call__(self, image: Image.Image) -> list[Label] | list[Box]: ...


def ort_session(model: str | bytes) -> Any:
    """An onnxruntime CPU session limited to one thread, sequential (one worker process per core).

    onnxruntime is imported here, never at module import time."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3  # errors only
    return ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])
