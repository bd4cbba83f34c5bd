"""torchvision COCO detector (Faster R-CNN, RetinaNet, SSD, …): the fallback when no YOLO file."""

from __future__ import annotations

import torch
import torchvision
from PIL import Image
from torchvision.transforms.functional import pil_to_tensor

from pipelines.labelers.base import DETECTION_FLOOR, Box, LabelerSpec, torch_device

SKIPPED = frozenset({"__background__", "N/A"})


def load(spec: LabelerSpec) -> TorchvisionDetector:
    return TorchvisionDetector(spec)


def input_sides(transform: torch.nn.Module) -> tuple[int, int]:
    """(min_short_side, min_long_side) the model's own resize needs so no photo is upsampled.

    R-CNN/RetinaNet/FCOS scale the short side to min_size (long side capped at max_size);
    SSD stretches to a fixed square, so both sides need its size."""
    fixed = getattr(transform, "fixed_size", None)
    if fixed:
        return int(max(fixed)), 0
    return int(transform.min_size[-1]), 0


class TorchvisionDetector:
    """Boxes from a torchvision detection model, for an upright RGB image."""

    def __init__(self, spec: LabelerSpec) -> None:
        self.spec = spec
        weights = torchvision.models.get_model_weights(spec.model)[spec.options["weights"]]
        self.categories: list[str] = list(weights.meta["categories"])
        model = torchvision.models.get_model(
            spec.model, weights=None, weights_backbone=None, num_classes=len(self.categories)
        )
        state = torch.load(spec.weights_path, map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
        self.device = torch_device(str(spec.options.get("device", "cpu")))
        self.model = model.eval().to(self.device)
        self.min_short_side, self.min_long_side = input_sides(model.transform)

    def __call__(self, image: Image.Image) -> list[Box]:
        w, h = image.size
        x = pil_to_tensor(image.convert("RGB")).float() / 255.0
        with torch.inference_mode():
            out = self.model([x.to(self.device)])[0]
        boxes = out["boxes"].cpu().numpy()
        scores = out["scores"].cpu().numpy()
        labels = out["labels"].cpu().numpy()
        result = []
        for b, s, c in zip(boxes, scores, labels, strict=True):
            name = self.categories[c] if 0 <= c < len(self.categories) else "N/A"
            if s < DETECTION_FLOOR or name in SKIPPED:
                continue
            x0, x1 = (min(max(float(v) / w, 0.0), 1.0) for v in (b[0], b[2]))
            y0, y1 = (min(max(float(v) / h, 0.0), 1.0) for v in (b[1], b[3]))
            if x1 > x0 and y1 > y0:
                result.append(Box(name, float(s), (x0, y0, x1, y1)))
        return result
