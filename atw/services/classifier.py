"""On-demand labelling for POST /api/classify: the configured labelers, loaded lazily once per
process behind a lock, applied to request bytes exactly as the indexer applies them to files."""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any

from PIL import Image

from atw.core import media
from atw.services import upload_store
from pipelines.labelers.base import Box, Label

MODELS = ("coco", "imagenet")  # the `model` parameter: a labelling stage
# Config keys that decide which models load (and how images are decoded for them).
_MODEL_KEYS = (
    "LABELERS",
    "IMAGENET_MODEL",
    "IMAGENET_WEIGHTS",
    "IMAGENET_RUNTIME",
    "IMAGENET_TRANSFORMS",
    "YOLO_MODEL",
    "DETECTOR_FALLBACK",
    "MODELS_DIR",
    "THUMB_SIZE",
    "MAX_IMAGE_PIXELS",
)

_loaded: dict[tuple[str, ...], Any] = {}
_lock = threading.Lock()


class ModelUnavailable(Exception):
    """The requested model cannot be used (weights missing, stage not enabled): HTTP 503."""


def labelers(config: Mapping[str, Any]) -> Any:
    """The loaded labelers for this configuration: a pipelines.worker.Worker (the object an
    index worker process holds), built once per process; concurrent first calls wait for it.

    Reusing the Worker keeps the decode sizes (min_short/min_long over every enabled stage) and
    the labelers identical to the indexer's, so a photo gets the same labels either way."""
    key = tuple(str(config.get(k, "")) for k in _MODEL_KEYS)
    worker = _loaded.get(key)
    if worker is not None:
        return worker
    with _lock:
        worker = _loaded.get(key)
        if worker is None:
            worker = _load(config)
            _loaded[key] = worker
    return worker


def _load(config: Mapping[str, Any]) -> Any:
    from pipelines.labelers.base import WeightsMissing
    from pipelines.run import resolve_stages
    from pipelines.worker import Worker, WorkerConfig

    try:
        specs = resolve_stages(config)
    except (WeightsMissing, ValueError) as exc:
        raise ModelUnavailable(str(exc)) from None
    cfg = WorkerConfig(
        database_url=str(config["DATABASE_URL"]),
        thumbs_dir=str(config["THUMBS_DIR"]),
        thumb_size=int(config["THUMB_SIZE"]),
        thumb_quality=int(config["THUMB_QUALITY"]),
        max_pixels=int(config["MAX_IMAGE_PIXELS"]),
        max_file_bytes=int(config["MAX_FILE_BYTES"]),
        specs=tuple(specs),
        file_time_zone=str(config.get("FILE_TIME_ZONE") or "local"),
    )
    try:
        worker = Worker(cfg)
    except Exception as exc:  # a corrupt weights file, an unloadable model
        raise ModelUnavailable(f"the models could not be loaded: {exc}") from None
    if "torch" in sys.modules:  # one intra-op thread per request; requests run side by side
        import torch

        torch.set_num_threads(1)
    return worker


def decodable(data: bytes, max_pixels: int) -> Image.Image:
    """The request's image, opened and checked to decode, before any model is loaded: a
    truncated or corrupt body is a 400 (atw.services.upload_store.Rejected) even when the models are
    missing or still loading. A JPEG is test-decoded at 1/8 scale and reopened, so that `run`
    decodes it at the labelers' draft size; other formats have no draft sizes, so their pixels,
    decoded here, are the ones `run` labels."""
    img = upload_store.open_checked(data, max_pixels)
    if img.format == "JPEG":  # as media.decode_upright, the only format drafted
        upload_store.check_decodes(upload_store.open_checked(data, max_pixels))
    else:
        upload_store.check_decodes(img)
    return img


def run(img: Image.Image, config: Mapping[str, Any], model: str) -> list[Label] | list[Box]:
    """Label an opened image (atw.core.media.open_image) with one stage, decoding it upright
    as the indexer does: EXIF orientation from read_exif, JPEG draft sizes from the labelers.
    Raises ModelUnavailable, or atw.core.media.BadImage when the pixels cannot be decoded."""
    from pipelines.exif import read_exif

    worker = labelers(config)
    labeler = worker.labelers.get(model)
    if labeler is None:
        enabled = ", ".join(worker.labelers) or "none"
        raise ModelUnavailable(
            f"the {model!r} model is not enabled on this server (LABELERS: {enabled})"
        )
    orientation = read_exif(img).orientation
    upright = media.decode_upright(img, orientation, worker.min_short, worker.min_long)
    return list(labeler(upright))


def stored(score: float) -> float:
    """A score as the index stores it (pipelines/writer.py): thresholds compare the same value."""
    return round(score, 4)


def counts(boxes: list[Box], threshold: float) -> dict[str, int]:
    """{"dog": 2, "person": 1}: objects per class with score ≥ threshold."""
    c = Counter(b.label for b in boxes if stored(b.score) >= threshold)
    return dict(c.most_common())


def boxes(items: list[Box], threshold: float) -> list[dict[str, Any]]:
    """[{"class", "score", "x1", "y1", "x2", "y2"}], best first, normalised to the upright image."""
    return [
        {
            "class": b.label,
            "score": stored(b.score),
            "x1": round(b.box[0], 4),
            "y1": round(b.box[1], 4),
            "x2": round(b.box[2], 4),
            "y2": round(b.box[3], 4),
        }
        for b in sorted(items, key=lambda b: -b.score)
        if stored(b.score) >= threshold
    ]


def classes(labels: list[Label], threshold: float | None) -> list[dict[str, Any]]:
    """[{"class", "score"}]: the top 5 ImageNet classes (above threshold when one is given)."""
    return [
        {"class": lb.label, "score": stored(lb.score)}
        for lb in labels
        if threshold is None or stored(lb.score) >= threshold
    ]
