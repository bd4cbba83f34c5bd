"""Label and Box result types, the LabelerSpec that names a model, the Labeler protocol, and the
onnxruntime session and torch device a labeller runs on (LABEL_DEVICE)."""

from __future__ import annotations

import os
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


class DeviceMissing(RuntimeError):
    """LABEL_DEVICE names a device this process cannot use (no GPU visible, or no CUDA build of
    the runtime): the message says what to install or set."""


DEVICES = ("cpu", "cuda")


def ort_session(model: str | bytes, device: str = "cpu") -> Any:
    """An onnxruntime session limited to one thread, sequential (one worker process per core);
    on "cuda", onnxruntime-gpu's CUDA provider (the CPU one for what it cannot run).

    onnxruntime is imported here, never at module import time."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3  # errors only
    providers = ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise DeviceMissing(
                "LABEL_DEVICE=cuda: this onnxruntime has no CUDA provider (it has "
                f"{', '.join(ort.get_available_providers())}): install onnxruntime-gpu in "
                "place of onnxruntime (pip uninstall onnxruntime; pip install onnxruntime-gpu), "
                "or set LABEL_DEVICE=cpu"
            )
        providers.insert(0, "CUDAExecutionProvider")
    return ort.InferenceSession(model, sess_options=opts, providers=providers)


def torch_device(device: str) -> Any:
    """The torch.device of LABEL_DEVICE: "cuda" only where PyTorch sees a CUDA device (in a Ray
    actor of RAY_GPUS > 0, the GPU Ray gave it)."""
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise DeviceMissing(
            "LABEL_DEVICE=cuda: PyTorch sees no CUDA device in this process "
            f"(torch {torch.__version__}, CUDA build {torch.version.cuda or 'none'}; "
            f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}): run on a "
            "machine with an NVIDIA GPU and its driver (with the Ray engine, set RAY_GPUS so "
            "that the actors get one), or set LABEL_DEVICE=cpu"
        )
    return torch.device(device)
