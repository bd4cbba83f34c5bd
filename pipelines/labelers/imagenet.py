"""ImageNet classifier: any torchvision classification model, eager PyTorch or exported to ONNX."""

from __future__ import annotations

import io
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision
from PIL import Image

from pipelines.labelers.base import (
    LABEL_FLOOR,
    TOP_K,
    Label,
    LabelerSpec,
    ort_session,
    torch_device,
)

log = logging.getLogger(__name__)

ONNX_TOLERANCE = 1e-3  # largest softmax difference to eager PyTorch accepted for the ONNX copy
ONNX_OPSET = 17


def load(spec: LabelerSpec) -> ImagenetLabeler:
    """Build the model from the spec's state dict (strict) and pick the runtime."""
    return ImagenetLabeler(spec)


def crop_preprocessing(model: str, transforms: str) -> bool:
    """Whether the fast region-only preprocessing (FastPreprocess) fits this model's
    transforms (torchvision's ImageClassification with a bilinear or bicubic resize)."""
    weights = torchvision.models.get_model_weights(model)[transforms]
    return FastPreprocess.of(weights.transforms()) is not None


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64) - logits.max()
    e = np.exp(z)
    return e / e.sum()


def top_labels(probs: np.ndarray, categories: list[str], k: int = TOP_K) -> list[Label]:
    """The k best classes, best first, without those under LABEL_FLOOR."""
    order = np.argsort(-probs, kind="stable")[:k]
    return [Label(categories[i], float(probs[i])) for i in order if probs[i] >= LABEL_FLOOR]


class ImagenetLabeler:
    """Whole-image ImageNet classes (top TOP_K softmax scores) for an upright RGB image."""

    def __init__(self, spec: LabelerSpec) -> None:
        self.spec = spec
        weights = torchvision.models.get_model_weights(spec.model)[spec.options["transforms"]]
        self.preprocess = weights.transforms()
        self.categories: list[str] = list(weights.meta["categories"])
        self.min_short_side = int(self.preprocess.resize_size[0])
        self.min_long_side = 0
        crop = self.preprocess.crop_size[0]
        self._input_shape = (1, 3, crop, crop)
        # "crop" (the registry's choice, part of the weights id): the region-only resize
        self._fast = FastPreprocess.of(self.preprocess) if spec.options.get("crop") else None
        # LABEL_DEVICE=cuda: eager PyTorch on the GPU (the registry sets runtime "eager")
        self.device = torch_device(str(spec.options.get("device", "cpu")))
        self.model: torch.nn.Module | None = _eager_model(spec).to(self.device)
        self.runtime = "eager" if self.device.type == "cpu" else f"eager-{self.device.type}"
        self._session: Any = None
        self._onnx: str | bytes | None = None
        runtime = spec.options.get("runtime", "auto")
        if runtime != "eager" and self.device.type == "cpu":
            self._try_onnx(required=runtime in ("onnx", "openvino"))
        if runtime == "openvino":  # the verified ONNX copy, compiled by OpenVINO
            from pipelines.labelers.openvino_cpu import openvino_runner

            assert self._onnx is not None
            data = Path(self._onnx).read_bytes() if isinstance(self._onnx, str) else self._onnx
            ov_run = openvino_runner(data, str(spec.options["precision"]))
            self._session, self.runtime = _OpenvinoSession(ov_run), "openvino"

    def __call__(self, image: Image.Image) -> list[Label]:
        return top_labels(softmax(self.logits(image)), self.categories)

    def logits(self, image: Image.Image) -> np.ndarray:
        """The model's 1000 raw outputs for one image."""
        x = self.input(image)
        if self._session is not None:
            return self._session.run(None, {"input": x})[0][0]
        assert self.model is not None
        with torch.inference_mode():
            return self.model(torch.from_numpy(x).to(self.device))[0].cpu().numpy()

    def input(self, image: Image.Image) -> np.ndarray:
        """The model input (1, 3, crop, crop) float32 for one image: the weights' transforms()."""
        rgb = image.convert("RGB")
        if self._fast is not None:
            return self._fast(rgb)
        return self.preprocess(rgb).unsqueeze(0).numpy()

    def _try_onnx(self, required: bool) -> None:
        """Use an onnxruntime copy of the model if it matches eager PyTorch; else stay eager.
        A cached copy that fails to load or to match is exported afresh once."""
        assert self.model is not None
        for fresh in (False, True):
            model: str | bytes | None = None
            try:
                model = _onnx_model(self.model, self.spec, self._input_shape, fresh=fresh)
                session = ort_session(model)
                diff = _max_diff(self.model, session, self._input_shape)
                if diff > ONNX_TOLERANCE:
                    raise RuntimeError(f"ONNX copy differs from PyTorch by {diff:.2g}")
            except Exception as exc:
                if not fresh and isinstance(model, str):
                    continue  # a bad cached file: export again
                if required:
                    raise
                log.warning("%s: eager PyTorch (no ONNX copy: %s)", self.spec.model, exc)
                return
            self._session, self.runtime, self._onnx = session, "onnx", model
            self.model = None  # the ONNX copy replaces it; free the memory
            return


class FastPreprocess:
    """torchvision's ImageClassification transforms (resize the short side, centre crop, scale,
    normalise) for a PIL image, in one Pillow resize of just the cropped region and one numpy
    pass: ~2.5 ms a photo less here. Pillow computes the resampling weights of a region
    slightly differently (a pixel may differ by one 8-bit level; softmax scores by up to ~0.02,
    the top class the same), so the registry marks its weights id "+crop" and a change relabels."""

    def __init__(self, resize: int, crop: int, resample: Image.Resampling, mean: Any, std: Any):
        self.resize, self.crop, self.resample = resize, crop, resample
        std32 = np.asarray(std, np.float32)
        self.scale = (1 / (255 * std32)).reshape(1, 1, 3)
        self.shift = (np.asarray(mean, np.float32) / std32).reshape(1, 1, 3)

    @classmethod
    def of(cls, transforms: Any) -> FastPreprocess | None:
        """The fast path for these transforms, or None when they are anything else."""
        from torchvision.transforms import InterpolationMode
        from torchvision.transforms._presets import ImageClassification

        resample = {
            InterpolationMode.BILINEAR: Image.Resampling.BILINEAR,
            InterpolationMode.BICUBIC: Image.Resampling.BICUBIC,
        }.get(getattr(transforms, "interpolation", None))
        if not isinstance(transforms, ImageClassification) or resample is None:
            return None
        (resize,), (crop,) = transforms.resize_size, transforms.crop_size
        if resize < crop:
            return None
        return cls(resize, crop, resample, transforms.mean, transforms.std)

    def __call__(self, image: Image.Image) -> np.ndarray:
        w, h = image.size
        # torchvision's Resize(int): the short side to `resize`, the long one truncated
        short, long = (w, h) if w <= h else (h, w)
        new_long = int(self.resize * long / short)
        nw, nh = (self.resize, new_long) if w <= h else (new_long, self.resize)
        # CenterCrop's corner, mapped back into the source: resize only that region
        left, top = round((nw - self.crop) / 2.0), round((nh - self.crop) / 2.0)
        sx, sy = w / nw, h / nh
        box = (left * sx, top * sy, (left + self.crop) * sx, (top + self.crop) * sy)
        region = image.resize((self.crop, self.crop), self.resample, box=box)
        x = np.asarray(region, np.float32) * self.scale - self.shift
        return np.ascontiguousarray(x.transpose(2, 0, 1))[None]


class _OpenvinoSession:
    """An OpenVINO runner behind onnxruntime's session.run(None, {name: x}) call."""

    def __init__(self, run: Any) -> None:
        self.run_model = run

    def run(self, _outputs: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        (x,) = feeds.values()
        return [self.run_model(x)]


def _eager_model(spec: LabelerSpec) -> torch.nn.Module:
    model = torchvision.models.get_model(spec.model, weights=None)
    state = torch.load(spec.weights_path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


def _onnx_model(
    model: torch.nn.Module, spec: LabelerSpec, shape: tuple[int, ...], fresh: bool = False
) -> str | bytes:
    """The ONNX export of the model: a file cached under options["cache_dir"] (keyed by model,
    weights file, input size and torch version) when that folder is writable, else bytes."""
    version = torch.__version__.split("+")[0]
    weights = spec.weights_id.split("+")[0]  # the file's id: runtime and preprocessing aside
    name = f"{spec.model}-{weights}-{shape[-1]}px-torch{version}.onnx"
    cache_dir = spec.options.get("cache_dir")
    path = Path(cache_dir) / name if cache_dir else None
    if path is not None and path.is_file() and not fresh:
        return str(path)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.zeros(shape),),
            buf,
            dynamo=False,
            input_names=["input"],
            output_names=["logits"],
            opset_version=ONNX_OPSET,
        )
    data = buf.getvalue()
    if path is None:
        return data
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # atomic: two workers may export at once
    except OSError as exc:
        log.warning("cannot cache %s: %s", path, exc)
    return data


def _max_diff(model: torch.nn.Module, session: Any, shape: tuple[int, ...]) -> float:
    """Largest difference between eager PyTorch and the ONNX session on fixed inputs, in softmax
    and in logits relative to their scale."""
    gen = torch.Generator().manual_seed(0)
    inputs = [torch.randn(shape, generator=gen), torch.rand(shape, generator=gen) * 4 - 2]
    worst = 0.0
    with torch.inference_mode():
        for x in inputs:
            want = model(x)[0].numpy()
            got = session.run(None, {"input": x.numpy()})[0][0]
            scale = max(1.0, float(np.abs(want).max()))
            worst = max(
                worst,
                float(np.abs(softmax(want) - softmax(got)).max()),
                float(np.abs(want - got).max()) / scale,
            )
    return worst
