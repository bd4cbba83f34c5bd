"""Labelers: weights resolution, YOLO decoding and letterbox, real models on shared photos."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipelines.labelers import registry, yolo
from pipelines.labelers.base import Box, Label, LabelerSpec, WeightsMissing
from tests.conftest import SHARED, need_shared

ROOT = Path(__file__).resolve().parents[1]
MOBILENET = SHARED / "models" / "mobilenet_v2_imagenet_from_tflite.pth"
YOLO_FILE = SHARED / "models" / "yolov8n_int8.onnx"
IMAGENET_DIR = SHARED / "photos" / "imagenet-samples"
COCO_DIR = SHARED / "photos" / "coco128" / "images" / "train2017"
needs_shared = pytest.mark.usefixtures("shared_models")


@pytest.fixture
def shared_models() -> None:
    """The real models and photos of ../shared: missing ones fail the test, naming them."""
    need_shared(MOBILENET, YOLO_FILE, IMAGENET_DIR, COCO_DIR)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty torch hub cache (TORCH_HOME in tmp) and a download that always fails."""
    home = tmp_path / "torch_home"
    monkeypatch.setenv("TORCH_HOME", str(home))

    def no_network(url: str, dst: Path, hash_prefix: str) -> None:
        raise OSError("no network in tests")

    monkeypatch.setattr(registry, "_download", no_network)
    return home / "hub" / "checkpoints"


def touch(path: Path, content: bytes = b"weights") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


# --- registry ------------------------------------------------------------------------------


def test_registry_import_does_not_import_torch_or_onnxruntime() -> None:
    code = (
        "import sys, pipelines.labelers.registry, pipelines.labelers.base\n"
        "import pipelines.labelers.yolo_graphs, pipelines.labelers.yolo_engines\n"
        "bad = {'torch', 'torchvision', 'onnxruntime', 'onnx', 'openvino'} & set(sys.modules)\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_imagenet_resolution_order(tmp_path: Path, offline: Path) -> None:
    models = tmp_path / "models"
    explicit = touch(tmp_path / "mine.pth", b"explicit")
    by_name = touch(models / "mobilenet_v2.pth", b"by name")
    cached = touch(offline / "mobilenet_v2-7ebf99e0.pth", b"cached")
    config = {"IMAGENET_MODEL": "mobilenet_v2", "IMAGENET_WEIGHTS": str(explicit)}
    config["MODELS_DIR"] = str(models)

    (spec,) = registry.resolve(["imagenet"], config)
    assert (spec.stage, spec.backend, spec.model) == ("imagenet", "imagenet", "mobilenet_v2")
    assert spec.weights_path == str(explicit)
    # the file's sha256 prefix, then the preprocessing (the region-only resize)
    assert spec.weights_id == registry.sha256(explicit)[:12] + "+crop"
    assert spec.options["transforms"] == "IMAGENET1K_V1"  # unknown file: the original recipe
    assert spec.options["cache_dir"] == str(models / "cache")

    config["IMAGENET_WEIGHTS"] = ""
    (spec,) = registry.resolve(["imagenet"], config)
    assert spec.weights_path == str(by_name)

    official = touch(models / "mobilenet_v2-b0353104.pth", b"torchvision's name")
    (spec,) = registry.resolve(["imagenet"], config)
    assert spec.weights_path == str(official)  # torchvision's file names come before <model>.pth

    official.unlink()
    by_name.unlink()
    (spec,) = registry.resolve(["imagenet"], config)
    assert spec.weights_path == str(cached)
    assert spec.weights_id == "mobilenet_v2-7ebf99e0+crop"
    assert spec.options["transforms"] == "IMAGENET1K_V2"  # the cached file's own preprocessing


def test_renamed_torchvision_file_is_recognised_by_hash(
    tmp_path: Path, offline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = touch(tmp_path / "renamed.pth")
    monkeypatch.setattr(registry, "sha256", lambda p: "7ebf99e0" + "0" * 56)
    (spec,) = registry.resolve(
        ["imagenet"], {"IMAGENET_MODEL": "mobilenet_v2", "IMAGENET_WEIGHTS": str(path)}
    )
    assert spec.options["transforms"] == "IMAGENET1K_V2"


def test_transforms_and_runtime_can_be_configured(tmp_path: Path, offline: Path) -> None:
    path = touch(tmp_path / "w.pth")
    config = {"IMAGENET_MODEL": "mobilenet_v2", "IMAGENET_WEIGHTS": str(path)}
    config |= {"IMAGENET_TRANSFORMS": "IMAGENET1K_V2", "IMAGENET_RUNTIME": "eager"}
    (spec,) = registry.resolve(["imagenet"], config)
    assert spec.options["transforms"] == "IMAGENET1K_V2" and spec.options["runtime"] == "eager"
    with pytest.raises(ValueError, match="IMAGENET_RUNTIME must be auto, onnx, eager or openvino"):
        registry.resolve(["imagenet"], config | {"IMAGENET_RUNTIME": "gpu"})
    with pytest.raises(ValueError, match="IMAGENET_TRANSFORMS"):
        registry.resolve(["imagenet"], config | {"IMAGENET_TRANSFORMS": "IMAGENET1K_V9"})


def test_download_lands_in_torchvision_cache(
    tmp_path: Path, offline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def fake_download(url: str, dst: Path, hash_prefix: str) -> None:
        calls.append((url, hash_prefix))
        touch(dst)

    monkeypatch.setattr(registry, "_download", fake_download)
    (spec,) = registry.resolve(["imagenet"], {"IMAGENET_MODEL": "mobilenet_v3_large"})
    assert calls == [
        ("https://download.pytorch.org/models/mobilenet_v3_large-5c1a4163.pth", "5c1a4163")
    ]
    assert spec.weights_path == str(offline / "mobilenet_v3_large-5c1a4163.pth")
    assert spec.weights_id == "mobilenet_v3_large-5c1a4163+crop"


def test_weights_missing_says_which_file_to_put_where(tmp_path: Path, offline: Path) -> None:
    models = tmp_path / "models"
    config = {"IMAGENET_MODEL": "mobilenet_v3_large", "MODELS_DIR": str(models)}
    with pytest.raises(WeightsMissing) as err:
        registry.resolve(["imagenet"], config)
    msg = str(err.value)
    assert "mobilenet_v3_large-5c1a4163.pth" in msg
    assert "https://download.pytorch.org/models/mobilenet_v3_large-5c1a4163.pth" in msg
    assert str(models) in msg
    assert "ATW_IMAGENET_WEIGHTS" in msg
    assert "no network in tests" in msg


def test_coco_weights_missing_names_yolo_and_fallback(tmp_path: Path, offline: Path) -> None:
    models = tmp_path / "models"
    with pytest.raises(WeightsMissing) as err:
        registry.resolve(["coco"], {"MODELS_DIR": str(models)})
    msg = str(err.value)
    assert "ATW_YOLO_MODEL" in msg and "yolo*.onnx" in msg and str(models) in msg
    assert "fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth" in msg
    assert "https://download.pytorch.org/models/fasterrcnn_mobilenet_v3_large_fpn" in msg


def test_explicit_missing_path_is_an_error_not_a_fallback(tmp_path: Path, offline: Path) -> None:
    models = tmp_path / "models"
    touch(models / "mobilenet_v2.pth")
    touch(models / "yolov8n.onnx")
    gone = tmp_path / "nope" / "gone.pth"
    config = {"IMAGENET_MODEL": "mobilenet_v2", "MODELS_DIR": str(models)}
    with pytest.raises(WeightsMissing, match=r"IMAGENET_WEIGHTS.*gone\.pth"):
        registry.resolve(["imagenet"], config | {"IMAGENET_WEIGHTS": str(gone)})
    with pytest.raises(WeightsMissing, match=r"YOLO_MODEL.*gone\.onnx"):
        registry.resolve(["coco"], config | {"YOLO_MODEL": str(tmp_path / "gone.onnx")})


def test_coco_resolution_yolo_then_fallback(tmp_path: Path, offline: Path) -> None:
    models = tmp_path / "models"
    touch(models / "cache" / "yolo_not_this.onnx")  # the export cache is not searched
    touch(models / "fasterrcnn_mobilenet_v3_large_320_fpn.pth")
    config = {
        "MODELS_DIR": str(models),
        "DETECTOR_FALLBACK": "fasterrcnn_mobilenet_v3_large_320_fpn",
    }
    (spec,) = registry.resolve(["coco"], config)
    assert (spec.backend, spec.model, spec.options["weights"]) == (
        "tvdetect",
        "fasterrcnn_mobilenet_v3_large_320_fpn",
        "COCO_V1",
    )
    touch(models / "yolov8n.onnx", b"v8")
    touch(models / "YOLO11n.onnx", b"11")
    touch(models / "classifier.onnx", b"other")
    (spec,) = registry.resolve(["coco"], config)
    assert (spec.backend, spec.model) == ("yolo", "YOLO11n")  # sorted: deterministic
    explicit = touch(tmp_path / "elsewhere" / "custom.onnx", b"custom")
    (spec,) = registry.resolve(["coco"], config | {"YOLO_MODEL": str(explicit)})
    assert (spec.model, spec.weights_path) == ("custom", str(explicit))
    # The runtime (auto: int8, which falls back to the float graph on OpenVINO for these bytes,
    # or float onnxruntime) follows the file's hash.
    assert spec.weights_id.split("+")[0] == registry.sha256(explicit)[:12]
    assert spec.options["runtime"] in ("openvino", "fp32")
    assert spec.weights_id.endswith("+rectpad+lin")  # YOLO_RECT and YOLO_RESIZE=linear
    (spec,) = registry.resolve(
        ["coco"], config | {"YOLO_MODEL": str(explicit), "YOLO_RUNTIME": "file"}
    )
    assert spec.weights_id == registry.sha256(explicit)[:12]


def test_unknown_names_are_errors(offline: Path) -> None:
    with pytest.raises(ValueError, match="unknown labelling stage"):
        registry.resolve(["places365"], {})
    with pytest.raises(ValueError, match="unknown torchvision classification model"):
        registry.resolve(["imagenet"], {"IMAGENET_MODEL": "fasterrcnn_resnet50_fpn"})
    with pytest.raises(ValueError, match="unknown torchvision COCO detection model"):
        registry.resolve(["coco"], {"DETECTOR_FALLBACK": "resnet50"})


def test_real_download_fails_fast_offline(tmp_path: Path) -> None:
    start = time.monotonic()
    with pytest.raises(OSError):  # URLError is an OSError
        registry._download("http://atw-weights.invalid/x-0123abcd.pth", tmp_path / "x.pth", "")
    assert time.monotonic() - start < registry.DOWNLOAD_TIMEOUT * 3


def test_specs_are_picklable(tmp_path: Path, offline: Path) -> None:
    import pickle

    path = touch(tmp_path / "w.pth")
    specs = registry.resolve(["imagenet"], {"IMAGENET_WEIGHTS": str(path)})
    assert pickle.loads(pickle.dumps(specs)) == specs


# --- YOLO: pure functions ------------------------------------------------------------------


def test_parse_names_dict_and_list() -> None:
    assert yolo.parse_names("{1: 'bicycle', 0: 'person'}") == ["person", "bicycle"]
    assert yolo.parse_names("['cat', 'dog']") == ["cat", "dog"]


def test_names_file_beats_metadata_beats_names_txt(tmp_path: Path) -> None:
    model = touch(tmp_path / "det.onnx")
    (tmp_path / "names.txt").write_text("generic\n")
    assert yolo.find_names(model, {"names": "{0: 'meta'}"}) == ["meta"]
    assert yolo.find_names(model, {}) == ["generic"]
    (tmp_path / "det.names").write_text("# mine\nperson\n\nbig car\n")
    assert yolo.find_names(model, {"names": "{0: 'meta'}"}) == ["person", "big car"]
    (tmp_path / "det.names").unlink()
    (tmp_path / "names.txt").unlink()
    with pytest.raises(ValueError, match="no class names"):
        yolo.find_names(model, {})


def test_decode_v8_layout() -> None:
    out = np.zeros((1, 4 + 3, 5), np.float32)  # [1, 4+nc, N]
    out[0, :4, 0] = [50, 40, 20, 10]
    out[0, 4 + 2, 0] = 0.9  # class 2
    out[0, :4, 1] = [10, 10, 4, 4]
    out[0, 4 + 0, 1] = 0.1  # under the floor
    boxes, scores, classes = yolo.decode(out, 3)
    np.testing.assert_allclose(boxes, [[40, 35, 60, 45]])
    np.testing.assert_allclose(scores, [0.9])
    assert classes.tolist() == [2]


def test_decode_v5_layout_multiplies_objectness() -> None:
    out = np.zeros((1, 6, 5 + 3), np.float32)  # [1, N, 5+nc]
    out[0, 0, :5] = [50, 40, 20, 10, 0.5]
    out[0, 0, 5 + 1] = 0.8  # 0.5 × 0.8 = 0.4
    out[0, 1, :5] = [10, 10, 4, 4, 0.3]
    out[0, 1, 5 + 0] = 0.6  # 0.18 < floor
    boxes, scores, classes = yolo.decode(out, 3)
    np.testing.assert_allclose(boxes, [[40, 35, 60, 45]])
    np.testing.assert_allclose(scores, [0.4], rtol=1e-6)
    assert classes.tolist() == [1]


def test_decode_end2end_layout() -> None:
    out = np.zeros((1, 300, 6), np.float32)
    out[0, 0] = [1, 2, 30, 40, 0.7, 5]
    boxes, scores, classes = yolo.decode(out, 80, end2end=True)
    np.testing.assert_allclose(boxes, [[1, 2, 30, 40]])
    assert classes.tolist() == [5] and scores.tolist() == pytest.approx([0.7])


def test_decode_v8_channels_first_is_the_transposed_layout() -> None:
    """The channels-first fast path (argmax of the kept candidates only) gives exactly what the
    general path gives for the same output transposed, ties and the candidate cap included."""
    rng = np.random.default_rng(3)
    out = rng.random((1, 4 + 80, 8400), np.float32) * np.float32(0.3)
    out[0, :4] *= 640
    out[0, 4 + 7, :50] = 0.31  # ties between classes 7 and 9: the first one wins
    out[0, 4 + 9, :50] = 0.31
    for floor in (0.2, 0.29, 0.5):
        fast = yolo.decode(out, 80, floor=floor)
        general = yolo.decode(out[0].T.copy(), 80, floor=floor)
        for a, b in zip(fast, general, strict=True):
            np.testing.assert_array_equal(a, b)
    assert yolo.decode(out, 80, floor=0.3)[2][:50].tolist() == [7] * 50


def test_decode_rejects_a_shape_that_does_not_fit_the_names() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        yolo.decode(np.zeros((1, 10, 50), np.float32), 80)


def test_letterbox_geometry_and_inverse() -> None:
    image = Image.new("RGB", (200, 100), (255, 0, 0))
    x, lb = yolo.letterbox(image, (64, 64))
    assert x.shape == (1, 3, 64, 64) and x.dtype == np.float32
    assert (lb.new_width, lb.new_height, lb.left, lb.top) == (64, 32, 0, 16)
    assert x[0, :, 0, 0] == pytest.approx([114 / 255] * 3)  # padding
    assert x[0, :, 32, 32] == pytest.approx([1.0, 0.0, 0.0])  # image
    norm = yolo.unletterbox(np.array([[16.0, 24.0, 48.0, 40.0], [-5, 0, 70, 64]]), lb)
    np.testing.assert_allclose(norm, [[0.25, 0.25, 0.75, 0.75], [0, 0, 1, 1]])


def test_letterbox_exact_fit_and_other_modes() -> None:
    """An image of the input's own shape fills it (no padding); grey and RGBA images are
    converted to RGB first; the float input is the pixels / 255 in every band."""
    rgb = Image.new("RGB", (64, 48), (10, 20, 30))
    x, lb = yolo.letterbox(rgb, (32, 24))
    assert (lb.new_width, lb.new_height, lb.left, lb.top) == (32, 24, 0, 0)
    assert np.allclose(x[0, :, :, :], np.array([10, 20, 30], np.float32)[:, None, None] / 255)
    grey, _ = yolo.letterbox(Image.new("L", (64, 32), 200), (64, 64))
    assert grey[0, :, 32, 10] == pytest.approx([200 / 255] * 3)
    assert grey[0, :, 0, 0] == pytest.approx([114 / 255] * 3)
    rgba, _ = yolo.letterbox(Image.new("RGBA", (64, 64), (1, 2, 3, 0)), (64, 64))
    assert rgba[0, :, 5, 5] == pytest.approx([1 / 255, 2 / 255, 3 / 255])


def test_nms_is_class_wise() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10]], np.float32)
    keep = yolo.nms(boxes, np.array([0.9, 0.8, 0.7], np.float32), np.array([0, 0, 1]))
    assert keep.tolist() == [0, 2]


# --- YOLO: tiny synthetic ONNX models through registry.load --------------------------------


def constant_yolo(path: Path, output: np.ndarray, metadata: dict[str, str]) -> Path:
    """An ONNX model with a 64×64 input whose output is a constant array."""
    import onnx  # requirements.txt pins it: tests must not skip without it
    from onnx import TensorProto, helper, numpy_helper

    node = helper.make_node("Constant", [], ["output0"], value=numpy_helper.from_array(output))
    graph = helper.make_graph(
        [node],
        "constant_yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 64, 64])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(output.shape))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, metadata)
    onnx.save(model, str(path))
    return path


def test_synthetic_v8_model_with_metadata_names(tmp_path: Path, offline: Path) -> None:
    out = np.zeros((1, 4 + 2, 8), np.float32)
    out[0, :, 0] = [32, 32, 32, 16, 0.0, 0.9]  # class 1, letterbox (16, 24)-(48, 40)
    out[0, :, 1] = [33, 32, 32, 16, 0.0, 0.5]  # suppressed by NMS
    path = constant_yolo(tmp_path / "yolov8tiny.onnx", out, {"names": "{0: 'cat', 1: 'dog'}"})
    (spec,) = registry.resolve(["coco"], {"MODELS_DIR": str(tmp_path)})
    assert spec.weights_path == str(path)
    labeler = registry.load(spec)
    assert (labeler.min_short_side, labeler.min_long_side) == (0, 64)
    (box,) = labeler(Image.new("RGB", (128, 64)))  # letterboxed: scale 0.5, 16 px on top
    assert isinstance(box, Box) and box.label == "dog" and box.score == pytest.approx(0.9)
    assert box.box == pytest.approx((0.25, 0.25, 0.75, 0.75))


def test_synthetic_v5_model_with_names_file(tmp_path: Path, offline: Path) -> None:
    out = np.zeros((1, 10, 5 + 2), np.float32)
    out[0, 0] = [32, 32, 16, 32, 0.8, 0.9, 0.1]  # class 0, score 0.72
    path = constant_yolo(tmp_path / "v5.onnx", out, {})
    (tmp_path / "v5.names").write_text("bird\nplane\n")
    labeler = registry.load(registry.resolve(["coco"], {"YOLO_MODEL": str(path)})[0])
    (box,) = labeler(Image.new("RGB", (64, 128)))  # portrait: 16 px on the left
    assert box.label == "bird" and box.score == pytest.approx(0.72)
    assert box.box == pytest.approx((0.25, 0.25, 0.75, 0.75))


# --- real models on shared photos ----------------------------------------------------------


def upright(path: Path) -> Image.Image:
    from PIL import ImageOps

    with Image.open(path) as im:
        return ImageOps.exif_transpose(im).convert("RGB")


@needs_shared
@pytest.mark.parametrize("runtime", ["eager", "auto"])
def test_imagenet_real_checkpoint_top1(tmp_path: Path, runtime: str) -> None:
    config = {"IMAGENET_MODEL": "mobilenet_v2", "IMAGENET_WEIGHTS": str(MOBILENET)}
    config |= {"MODELS_DIR": str(tmp_path), "IMAGENET_RUNTIME": runtime}
    (spec,) = registry.resolve(["imagenet"], config)
    assert spec.weights_id == "1e3f86e31056+crop"  # the region-only preprocessing
    labeler = registry.load(spec)
    assert (labeler.min_short_side, labeler.min_long_side) == (256, 0)
    assert labeler.runtime == ("eager" if runtime == "eager" else "onnx")
    for name, want in [
        ("n01440764_tench", "tench"),
        ("n01530575_brambling", "brambling"),
        ("n02279972_monarch", "monarch"),
    ]:
        labels = labeler(upright(IMAGENET_DIR / f"{name}.JPEG"))
        assert all(isinstance(lab, Label) for lab in labels) and 1 <= len(labels) <= 5
        assert labels[0].label == want
        assert [lab.score for lab in labels] == sorted((lab.score for lab in labels), reverse=True)
        assert labels[-1].score >= 0.02


@needs_shared
def test_crop_preprocessing_is_torchvisions_to_one_level_and_has_its_own_id(
    tmp_path: Path,
) -> None:
    """The region-only resize gives the transforms' input to one 8-bit level (on most pixels
    exactly), the same top class on every sample, scores within 0.05; its id says "+crop", and
    a model whose transforms it does not fit keeps torchvision's and a bare id."""
    from pipelines.labelers.imagenet import FastPreprocess, softmax

    config = {"IMAGENET_MODEL": "mobilenet_v2", "IMAGENET_WEIGHTS": str(MOBILENET)}
    config |= {"MODELS_DIR": str(tmp_path), "IMAGENET_RUNTIME": "onnx"}
    (spec,) = registry.resolve(["imagenet"], config)
    assert spec.options["crop"] and spec.weights_id.endswith("+crop")
    labeler = registry.load(spec)
    assert isinstance(labeler._fast, FastPreprocess)
    level = 1 / (255 * 0.224)  # one 8-bit level after normalising (the middle std)
    photos = sorted(IMAGENET_DIR.glob("*.JPEG"))[:40]
    images = [upright(p) for p in photos] + [
        upright(photos[0]).resize((300, 1000)),  # portrait: the long side is the height
        Image.new("RGB", (50, 40), (200, 10, 10)),  # enlarged
    ]
    for image in images:
        want = labeler.preprocess(image).unsqueeze(0).numpy()
        got = labeler.input(image)
        assert got.shape == want.shape == (1, 3, 224, 224) and got.dtype == np.float32
        diff = np.abs(got - want)
        assert diff.max() <= 1.2 * level and (diff > 1e-5).mean() < 0.5
        p, q = (softmax(labeler._session.run(None, {"input": a})[0][0]) for a in (want, got))
        assert p.argmax() == q.argmax() and np.abs(p - q).max() < 0.05
    # efficientnet_b0's IMAGENET1K_V1 is ImageClassification too; a crop larger than the
    # resize (none of torchvision's) or another interpolation keeps torchvision's transforms
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms._presets import ImageClassification

    assert FastPreprocess.of(ImageClassification(crop_size=240, resize_size=224)) is None
    nearest = ImageClassification(crop_size=224, interpolation=InterpolationMode.NEAREST)
    assert FastPreprocess.of(nearest) is None
    assert FastPreprocess.of(lambda image: image) is None


@needs_shared
def test_imagenet_onnx_matches_eager(tmp_path: Path) -> None:
    base = {"IMAGENET_MODEL": "mobilenet_v2", "IMAGENET_WEIGHTS": str(MOBILENET)}
    base["MODELS_DIR"] = str(tmp_path)
    eager = registry.load(registry.resolve(["imagenet"], base | {"IMAGENET_RUNTIME": "eager"})[0])
    fast = registry.load(registry.resolve(["imagenet"], base | {"IMAGENET_RUNTIME": "onnx"})[0])
    (cached,) = (tmp_path / "cache").glob("mobilenet_v2-1e3f86e31056-224px-*.onnx")
    assert fast.runtime == "onnx" and eager.runtime == "eager"
    for path in sorted(IMAGENET_DIR.glob("*.JPEG"))[:4]:
        image = upright(path)
        from pipelines.labelers.imagenet import softmax

        diff = np.abs(softmax(eager.logits(image)) - softmax(fast.logits(image))).max()
        assert diff < 1e-3
    cached.write_bytes(b"truncated")  # a broken cache file is exported afresh, not trusted
    again = registry.load(fast.spec)
    assert again.runtime == "onnx" and cached.stat().st_size > 1_000_000


@needs_shared
def test_imagenet_on_openvino_has_its_own_weights_id(tmp_path: Path) -> None:
    from pipelines.labelers.imagenet import softmax

    base = {"IMAGENET_MODEL": "mobilenet_v2", "IMAGENET_WEIGHTS": str(MOBILENET)}
    base["MODELS_DIR"] = str(tmp_path)
    (spec,) = registry.resolve(["imagenet"], base | {"IMAGENET_RUNTIME": "openvino"})
    assert spec.weights_id == f"1e3f86e31056+ov-{spec.options['precision']}+crop"
    ov = registry.load(spec)
    onnx = registry.load(registry.resolve(["imagenet"], base | {"IMAGENET_RUNTIME": "onnx"})[0])
    assert (ov.runtime, onnx.runtime) == ("openvino", "onnx")
    for name, want in [("n01440764_tench", "tench"), ("n02279972_monarch", "monarch")]:
        image = upright(IMAGENET_DIR / f"{name}.JPEG")
        assert ov(image)[0].label == want
        # bf16 arithmetic: close to the float scores, not equal (hence the id of its own)
        assert np.abs(softmax(ov.logits(image)) - softmax(onnx.logits(image))).max() < 0.05


@needs_shared
def test_imagenet_falls_back_to_eager_when_export_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    def broken_export(*args: object, **kwargs: object) -> None:
        raise ModuleNotFoundError("No module named 'onnx'")

    monkeypatch.setattr(torch.onnx, "export", broken_export)
    config = {"IMAGENET_MODEL": "mobilenet_v2", "IMAGENET_WEIGHTS": str(MOBILENET)}
    (spec,) = registry.resolve(["imagenet"], config)  # no MODELS_DIR: no cache to find
    labeler = registry.load(spec)
    assert labeler.runtime == "eager"
    assert labeler(upright(IMAGENET_DIR / "n01440764_tench.JPEG"))[0].label == "tench"
    (spec,) = registry.resolve(["imagenet"], config | {"IMAGENET_RUNTIME": "onnx"})
    with pytest.raises(ModuleNotFoundError):
        registry.load(spec)


@needs_shared
def test_yolo_real_model_finds_expected_classes() -> None:
    labeler = registry.load(registry.resolve(["coco"], {"YOLO_MODEL": str(YOLO_FILE)})[0])
    assert labeler.spec.model == "yolov8n_int8" and labeler.min_long_side == 640
    for stem, want in [("000000000009", {"bowl", "broccoli"}), ("000000000025", {"giraffe"})]:
        boxes = labeler(upright(COCO_DIR / f"{stem}.jpg"))
        found = {b.label for b in boxes if b.score >= 0.25}
        assert want <= found
        for b in boxes:
            x0, y0, x1, y1 = b.box
            assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 and b.score >= 0.2


def test_torchvision_detector_plumbing_with_random_weights(tmp_path: Path, offline: Path) -> None:
    """Random weights prove nothing about labelling: this checks loading, call and box format."""
    import torch
    import torchvision

    name = "fasterrcnn_mobilenet_v3_large_320_fpn"
    torch.manual_seed(0)
    model = torchvision.models.get_model(name, weights=None, weights_backbone=None)
    with torch.no_grad():  # make every proposal a confident "person" so boxes come out
        model.roi_heads.box_predictor.cls_score.bias[1] = 20.0
    models = tmp_path / "models"
    models.mkdir()
    torch.save(model.state_dict(), models / f"{name}.pth")
    (spec,) = registry.resolve(["coco"], {"MODELS_DIR": str(models), "DETECTOR_FALLBACK": name})
    assert spec.backend == "tvdetect"
    labeler = registry.load(spec)
    assert (labeler.min_short_side, labeler.min_long_side) == (320, 0)
    rng = np.random.default_rng(0)
    boxes = labeler(Image.fromarray(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)))
    assert boxes and all(isinstance(b, Box) and b.label == "person" for b in boxes)
    for b in boxes:
        x0, y0, x1, y1 = b.box
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 and b.score >= 0.2


def test_load_rejects_unknown_backend() -> None:
    with pytest.raises(ValueError, match="unknown labeler backend"):
        registry.load(LabelerSpec("coco", "os", "x", "y"))
