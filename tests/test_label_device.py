"""LABEL_DEVICE (where the labellers run: the CPU, or a CUDA GPU, e.g. a Ray actor's): the
runtimes it implies and their weights ids (a GPU node and a CPU node store the same ids for
the same float runtimes), the settings it refuses, and a process without a GPU stopping
with what to install or set — through the real models, the command line and a Ray actor
(tests/test_ray_engine.py). On a machine with a CUDA GPU the load tests check the GPU's labels
against the CPU's instead."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from pipelines.labelers import registry
from pipelines.labelers.base import DeviceMissing
from tests.conftest import COCO_DIR, MODEL_CONFIG, need_shared

ROOT = Path(__file__).resolve().parents[1]


def has_gpu() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def specs(**config: str) -> dict[str, registry.LabelerSpec]:
    need_shared(*(Path(v) for v in MODEL_CONFIG.values() if "/" in v))
    found = registry.resolve(["imagenet", "coco"], {**MODEL_CONFIG, **config})
    return {s.stage: s for s in found}


def test_cuda_picks_the_float_runtimes_with_the_cpu_ids() -> None:
    gpu = specs(LABEL_DEVICE="cuda")
    assert gpu["imagenet"].options["runtime"] == "eager"
    assert gpu["coco"].options["runtime"] == "fp32"
    assert {s.options["device"] for s in gpu.values()} == {"cuda"}
    # The same float runtimes on the CPU store the same weights ids: a mixed cluster agrees.
    cpu = specs(LABEL_DEVICE="cpu", IMAGENET_RUNTIME="eager", YOLO_RUNTIME="fp32")
    assert {k: s.weights_id for k, s in gpu.items()} == {k: s.weights_id for k, s in cpu.items()}
    assert {s.options["device"] for s in cpu.values()} == {"cpu"}
    assert specs()["coco"].options["device"] == "cpu"  # the default


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"IMAGENET_RUNTIME": "openvino"}, "IMAGENET_RUNTIME=openvino runs on the CPU"),
        ({"IMAGENET_RUNTIME": "onnx"}, "IMAGENET_RUNTIME=onnx runs on the CPU"),
        ({"YOLO_RUNTIME": "openvino"}, "YOLO_RUNTIME=openvino runs on the CPU"),
        ({"YOLO_RUNTIME": "qdq"}, "YOLO_RUNTIME=qdq runs on the CPU"),
    ],
)
def test_cuda_refuses_the_cpu_only_runtimes(config: dict[str, str], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        specs(LABEL_DEVICE="cuda", **config)


def test_an_unknown_device_is_refused() -> None:
    with pytest.raises(ValueError, match="LABEL_DEVICE must be one of cpu, cuda, not 'tpu'"):
        specs(LABEL_DEVICE="tpu")


def photo() -> Image.Image:
    need_shared(COCO_DIR)
    with Image.open(sorted(COCO_DIR.rglob("*.jpg"))[0]) as im:
        return im.convert("RGB")


@pytest.mark.slow
def test_loading_on_cuda(tmp_path: Path) -> None:
    """Without a GPU: each labeller refuses to load, saying why and what to do. With one: the
    GPU's classes and boxes are the CPU's (same float runtimes)."""
    gpu = specs(LABEL_DEVICE="cuda", MODELS_DIR=str(tmp_path))
    if not has_gpu():
        with pytest.raises(DeviceMissing, match="PyTorch sees no CUDA device") as err:
            registry.load(gpu["imagenet"])
        assert "LABEL_DEVICE=cpu" in str(err.value)
        # onnxruntime (the CPU package here) has no CUDA provider: it says which package.
        with pytest.raises(DeviceMissing, match="install onnxruntime-gpu"):
            registry.load(gpu["coco"])
        return
    cpu = specs(IMAGENET_RUNTIME="eager", YOLO_RUNTIME="fp32", MODELS_DIR=str(tmp_path))
    image = photo()
    for stage in ("imagenet", "coco"):
        got, want = registry.load(gpu[stage])(image), registry.load(cpu[stage])(image)
        assert [r.label for r in got] == [r.label for r in want], stage
        assert all(abs(a.score - b.score) < 1e-3 for a, b in zip(got, want, strict=True))


@pytest.mark.slow
def test_index_on_cuda_without_a_gpu_stops_with_the_reason(tmp_path: Path) -> None:
    """`atw index` with LABEL_DEVICE=cuda on a machine without a GPU: exit 1, the reason in one
    line (no traceback). (With a GPU: the run labels the photo.)"""
    photos = tmp_path / "photos"
    photos.mkdir()
    image = sorted(COCO_DIR.rglob("*.jpg"))[0]
    (photos / image.name).write_bytes(image.read_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATW_")}
    env.update({f"ATW_{k}": v for k, v in MODEL_CONFIG.items()})
    env.update(ATW_INSTANCE_PATH=str(tmp_path / "inst"), ATW_LABEL_DEVICE="cuda")
    env.update(PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "atw", "index", "--quiet", str(photos)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if has_gpu():
        assert done.returncode == 0 and "1 indexed" in done.stdout, done.stderr[-2000:]
        return
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert "a worker could not start" in done.stderr
    assert "LABEL_DEVICE=cuda: PyTorch sees no CUDA device" in done.stderr
