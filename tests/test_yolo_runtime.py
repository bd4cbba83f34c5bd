"""YOLO runtimes: recovered float graph, rectangular inputs, OpenVINO, static int8, provenance."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipelines.labelers import registry, yolo, yolo_engines, yolo_graphs
from pipelines.labelers.base import Box
from tests.conftest import (
    COCO_DIR,
    EXIF_DIR,
    IMAGENET_DIR,
    MODEL_CONFIG,
    MODELS,
    index,
    need_shared,
)

YOLO_FILE = MODELS / "yolov8n_int8.onnx"
COCO_IMAGES = COCO_DIR / "images" / "train2017"
# Everyday photos of the EXIF set (not an accuracy set) with objects in them.
PHOTOS = [
    COCO_IMAGES / "000000000009.jpg",  # bowls, broccoli
    COCO_IMAGES / "000000000025.jpg",  # giraffes
    COCO_IMAGES / "000000000036.jpg",  # person, umbrella
    COCO_IMAGES / "000000000061.jpg",  # people, elephants
    EXIF_DIR / "boy1.jpg",
    EXIF_DIR / "newyear_london.jpg",
    EXIF_DIR / "bird.jpg",
    EXIF_DIR / "ship.jpg",
]


@pytest.fixture
def shared() -> None:
    need_shared(YOLO_FILE, *PHOTOS)


def upright(path: Path) -> Image.Image:
    with Image.open(path) as im:
        im.draft("RGB", (1280, 1280))
        return ImageOps.exif_transpose(im).convert("RGB")


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def twins(a: list[Box], b: list[Box], strong: float = 0.4, weak: float = 0.2) -> list[str]:
    """Boxes of a scoring ≥ strong with no same-class box in b (score ≥ weak) at IoU ≥ 0.8."""
    return [
        f"{d.label} {d.score:.2f}"
        for d in a
        if d.score >= strong
        and not any(e.label == d.label and e.score >= weak and iou(d.box, e.box) >= 0.8 for e in b)
    ]


def agreement(one, other) -> tuple[int, list[str]]:  # type: ignore[no-untyped-def]
    """Over PHOTOS: how many boxes of either labeler score ≥ 0.4, and those without a twin in
    the other (≥ 0.7 must all have one; a few weaker ones may cross the score floor)."""
    count, missing = 0, []
    for path in PHOTOS:
        image = upright(path)
        a, b = one(image), other(image)
        count += sum(d.score >= 0.4 for d in a + b)
        missing += [f"{path.name}: {m}" for m in twins(a, b) + twins(b, a)]
        assert not twins(a, b, strong=0.7) and not twins(b, a, strong=0.7), path.name
    return count, missing


def labeler(**config: object):  # type: ignore[no-untyped-def]
    return registry.load(registry.resolve(["coco"], {"YOLO_MODEL": str(YOLO_FILE), **config})[0])


@pytest.mark.usefixtures("shared")
def test_recovered_float_weights_are_the_int8_values_and_detect_the_same() -> None:
    import onnx
    from onnx import numpy_helper

    int8 = onnx.load(str(YOLO_FILE))
    fp32 = yolo_graphs.dequantize(int8)
    ops = {n.op_type for n in fp32.graph.node}
    assert "ConvInteger" not in ops and "DynamicQuantizeLinear" not in ops
    assert sum(n.op_type == "Conv" for n in fp32.graph.node) == 64
    # The first convolution's float weights are exactly (Wq - zero point) × scale.
    q = {i.name: numpy_helper.to_array(i) for i in int8.graph.initializer}
    f = {i.name: numpy_helper.to_array(i) for i in fp32.graph.initializer}
    first = next(n for n in fp32.graph.node if n.op_type == "Conv")
    want = (
        q["model.0.conv.weight_quantized"].astype(np.float32)
        - q["model.0.conv.weight_zero_point"].astype(np.float32)
    ) * q["model.0.conv.weight_scale"]
    np.testing.assert_array_equal(f[first.input[1]], want)
    np.testing.assert_array_equal(f[first.input[2]], q["model.0.conv.bias"])

    file, flt = labeler(YOLO_RUNTIME="file"), labeler(YOLO_RUNTIME="fp32", YOLO_RECT=False)
    assert (file.runtime, flt.runtime) == ("file", "fp32")
    count, missing = agreement(file, flt)
    assert count >= 20 and not missing, missing  # float = int8 weights: the very same objects


@pytest.mark.usefixtures("shared")
def test_square_specialisation_is_the_same_graph_and_rect_finds_the_same_objects() -> None:
    import onnx
    import onnxruntime as ort

    fp32 = yolo_graphs.dequantize(onnx.load(str(YOLO_FILE)))
    same = yolo_graphs.specialise(fp32, 640, 640)
    x, _ = yolo.letterbox(upright(PHOTOS[1]), (640, 640))

    def run(model: object) -> np.ndarray:
        session = ort.InferenceSession(model.SerializeToString())  # type: ignore[attr-defined]
        return session.run(None, {"images": x})[0]

    np.testing.assert_array_equal(run(same), run(fp32))
    wide = yolo_graphs.specialise(fp32, 640, 480)
    assert [d.dim_value for d in wide.graph.output[0].type.tensor_type.shape.dim] == [
        1,
        84,
        80 * 60 + 40 * 30 + 20 * 15,
    ]
    with pytest.raises(ValueError, match="multiple of 32"):
        yolo_graphs.specialise(fp32, 640, 470)

    square = labeler(YOLO_RUNTIME="fp32", YOLO_RECT=False)
    rect = labeler(YOLO_RUNTIME="fp32", YOLO_RECT=True)
    count, missing = agreement(square, rect)  # less grey padding: a little other context
    assert count >= 20 and len(missing) <= count // 10, missing
    sizes = {rect.input_size(upright(path).size) for path in PHOTOS}
    assert (640, 512) in sizes and rect.rect  # 4:3 photos ran on the rectangular graph
    # at least half a stride (16 px) of border on the short side, rounded up to the stride
    assert yolo.rect_size((4000, 3000), (640, 640), 32) == (640, 512)
    assert yolo.rect_size((3024, 4032), (640, 640), 32) == (512, 640)
    assert yolo.rect_size((4032, 2268), (640, 640), 32) == (640, 384)  # 360 + 24
    assert yolo.rect_size((640, 500), (640, 640), 32) == (640, 544)  # 500 + 44
    assert yolo.rect_size((1000, 1000), (640, 640), 32) == (640, 640)  # never past the square
    x, lb = yolo.letterbox(Image.new("RGB", (4000, 3000)), (640, 512))
    assert (lb.new_width, lb.new_height, lb.left, lb.top) == (640, 480, 0, 16)


@pytest.mark.usefixtures("shared")
def test_openvino_runtime_finds_what_the_int8_file_finds() -> None:
    file, ov = labeler(YOLO_RUNTIME="file"), labeler(YOLO_RUNTIME="openvino", YOLO_RECT=False)
    assert ov.runtime == "openvino" and not ov.rect
    compiled = ov._runners[ov.size].compiled  # one thread, not pinned (one process per core)
    assert compiled.get_property("INFERENCE_NUM_THREADS") == 1
    assert compiled.get_property("ENABLE_CPU_PINNING") is False
    precision = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
    assert precision == ov.spec.options["precision"]
    assert ov.spec.weights_id.endswith(f"+ov-{precision}+lin")
    for stem, want in [("000000000009", {"bowl", "broccoli"}), ("000000000025", {"giraffe"})]:
        assert want <= {
            b.label for b in ov(upright(COCO_IMAGES / f"{stem}.jpg")) if b.score >= 0.25
        }
    count, missing = agreement(file, ov)
    assert count >= 20 and len(missing) <= count // 10, missing


@pytest.mark.usefixtures("shared")
def test_linear_resize_and_pixel_input_find_what_pillow_and_float_input_find() -> None:
    """YOLO_RESIZE=linear (OpenCV, as Ultralytics) against Pillow's antialiased bilinear on
    photos shrunk into the input, and OpenVINO fed 8-bit pixels (converted inside the compiled
    model) against the float input computed in numpy."""
    from pipelines.labelers import yolo_engines

    big = [upright(p) for p in PHOTOS]
    big = [im.resize((im.width * 3 // 2, im.height * 3 // 2)) for im in big]  # shrunk 1.5×
    for image in big[:2]:
        size = yolo.rect_size(image.size, (640, 640), 32)
        lin, lb = yolo.letterbox_pixels(image, size, "linear")
        pil, lb2 = yolo.letterbox_pixels(image, size, "antialias")
        assert lin.dtype == np.uint8 and lin.shape == (1, size[1], size[0], 3) and lb == lb2
        diff = np.abs(lin.astype(np.int16) - pil.astype(np.int16))
        assert 0 < diff.mean() < 3  # other filters, the same picture
        assert (lin[0, : lb.top] == yolo.PAD_VALUE).all()  # the border
        np.testing.assert_array_equal(
            yolo.letterbox(image, size, "linear")[0], yolo_engines.to_input(lin)
        )
    # shrunk 2× or more (no JPEG draft): OpenCV's area average, close to Pillow's
    huge = big[0].resize((big[0].width * 3, big[0].height * 3))
    size = yolo.rect_size(huge.size, (640, 640), 32)
    lin, _ = yolo.letterbox_pixels(huge, size, "linear")
    pil, _ = yolo.letterbox_pixels(huge, size, "antialias")
    assert np.abs(lin.astype(np.int16) - pil.astype(np.int16)).mean() < 3
    with pytest.raises(ValueError, match="unknown letterbox resize"):
        yolo.letterbox_pixels(huge, size, "cubic")

    linear = labeler(YOLO_RUNTIME="openvino")
    pillow = labeler(YOLO_RUNTIME="openvino", YOLO_RESIZE="antialias")
    assert (linear.resize, pillow.resize) == ("linear", "antialias")
    count, missing = 0, []
    for image in big:
        a, b = linear(image), pillow(image)
        count += sum(d.score >= 0.4 for d in a + b)
        missing += twins(a, b, strong=0.5) + twins(b, a, strong=0.5)
    assert count >= 20 and len(missing) <= 2, missing
    # 8-bit pixels into OpenVINO: the same output as the float input, to bf16 rounding
    x, _ = yolo.letterbox_pixels(big[1], (640, 512), "linear")
    import onnx

    graph = yolo_graphs.specialise(yolo_graphs.dequantize(onnx.load(str(YOLO_FILE))), 640, 512)
    precision = linear.spec.options["precision"]
    as_pixels = yolo_engines.pixel_runner(graph.SerializeToString(), precision)(x)
    as_float = yolo_engines.openvino_runner(graph.SerializeToString(), precision)(
        yolo_engines.to_input(x)
    )
    scores = as_float[0, 4:]
    assert np.abs(as_pixels[0, 4:] - scores).max() < 0.02 and scores.max() > 0.5


def test_runtime_is_part_of_the_weights_id(tmp_path: Path) -> None:
    need_shared(YOLO_FILE)
    sha = registry.sha256(YOLO_FILE)[:12]
    ids = {}
    for runtime in ("file", "fp32", "openvino"):
        for rect in (False, True):
            (spec,) = registry.resolve(
                ["coco"],
                {"YOLO_MODEL": str(YOLO_FILE), "YOLO_RUNTIME": runtime, "YOLO_RECT": rect},
            )
            assert spec.options["runtime"] == runtime
            ids[runtime, rect] = spec.weights_id
    assert ids["file", False] == ids["file", True] == sha  # the file as it is: square only
    # then "+lin": YOLO_RESIZE=linear, the default (not for the file as it is)
    assert ids["fp32", False] == f"{sha}+fp32+lin"
    assert ids["fp32", True] == f"{sha}+fp32+rectpad+lin"
    assert ids["openvino", True] in (f"{sha}+ov-bf16+rectpad+lin", f"{sha}+ov-f32+rectpad+lin")
    assert len(set(ids.values())) == 5
    (auto,) = registry.resolve(["coco"], {"YOLO_MODEL": str(YOLO_FILE)})  # the default: int8
    assert auto.options["runtime"] == "int8" and auto.options["rect"]
    ov = ids["openvino", True].removesuffix("+rectpad+lin")
    assert re.fullmatch(re.escape(ov) + r"-int8-[0-9a-f]{8}\+rectpad\+lin", auto.weights_id)
    assert auto.options["resize"] == "linear"
    (pil,) = registry.resolve(["coco"], {"YOLO_MODEL": str(YOLO_FILE), "YOLO_RESIZE": "antialias"})
    assert pil.weights_id == auto.weights_id.removesuffix("+lin")
    with pytest.raises(ValueError, match="YOLO_RESIZE must be one of"):
        registry.resolve(["coco"], {"YOLO_MODEL": str(YOLO_FILE), "YOLO_RESIZE": "cubic"})
    with pytest.raises(ValueError, match="YOLO_RUNTIME must be one of"):
        registry.resolve(["coco"], {"YOLO_MODEL": str(YOLO_FILE), "YOLO_RUNTIME": "gpu"})
    with pytest.raises(ValueError, match="not a folder"):
        registry.resolve(
            ["coco"],
            {"YOLO_MODEL": str(YOLO_FILE), "YOLO_RUNTIME": "qdq", "YOLO_CALIBRATION": "/nowhere"},
        )


@pytest.mark.slow
def test_static_int8_is_calibrated_once_on_other_photos_and_cached(tmp_path: Path) -> None:
    need_shared(YOLO_FILE, EXIF_DIR)
    config = {
        "YOLO_MODEL": str(YOLO_FILE),
        "YOLO_RUNTIME": "qdq",
        "YOLO_CALIBRATION": str(EXIF_DIR),
        "MODELS_DIR": str(tmp_path / "models"),
    }
    (spec,) = registry.resolve(["coco"], config)
    (cached,) = (tmp_path / "models" / "cache").glob("yolo-yolov8n_int8-*.onnx")
    assert spec.options["qdq_path"] == str(cached)
    assert spec.weights_id.startswith(registry.sha256(YOLO_FILE)[:12] + "+qdq-")
    stamp = cached.stat().st_mtime_ns
    (again,) = registry.resolve(["coco"], config)  # found in the cache, not built again
    assert again.weights_id == spec.weights_id and cached.stat().st_mtime_ns == stamp
    qdq = registry.load(spec)
    ops = {n.op_type for n in qdq._graph.graph.node}
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    found = {b.label for b in qdq(upright(COCO_IMAGES / "000000000025.jpg")) if b.score >= 0.25}
    assert "giraffe" in found


def test_shipped_calibration_photos_decode_and_each_has_its_licence() -> None:
    from pipelines.labelers import yolo_engines

    folder = yolo_engines.CALIBRATION_DIR
    photos = yolo_engines.calibration_photos(folder)
    inputs = yolo_engines.calibration_inputs(photos, (640, 640), yolo.letterbox)
    assert len(inputs) == len(photos) >= yolo_engines.CALIBRATION_MIN
    sources = (folder / "SOURCES.md").read_text()
    rows = {line.split(" | ")[0].lstrip("| "): line for line in sources.splitlines()}
    for photo in photos:  # every photo with where it came from, its author and licence
        author, licence = rows[photo.name].split(" | ")[2:4]
        assert author.strip() and licence.strip(" |")
        assert rows[photo.name].split(" | ")[1].startswith(("Debian ", "PyPI "))
    assert (folder / "lomiri-wallpapers.copyright").is_file()
    # none of them is an accuracy set's photo, by content (16×16 grey copies, upright)
    need_shared(COCO_IMAGES, IMAGENET_DIR)

    def tiny(path: Path) -> np.ndarray:
        with Image.open(path) as im:
            im.draft("L", (64, 64))
            small = ImageOps.exif_transpose(im).convert("L").resize((16, 16))
        return np.asarray(small, np.float32)

    tested = [tiny(p) for p in [*COCO_IMAGES.glob("*.jpg"), *IMAGENET_DIR.glob("*.JPEG")]]
    assert len(tested) > 200
    for photo in photos:
        mine = tiny(photo)
        assert min(float(np.abs(mine - t).mean()) for t in tested) > 4, photo.name


@pytest.mark.slow
@pytest.mark.usefixtures("shared")
def test_nncf_int8_on_openvino_is_built_once_and_finds_what_onnxruntime_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.labelers import yolo_engines

    config = {"YOLO_RUNTIME": "int8", "MODELS_DIR": str(tmp_path / "models")}
    (spec,) = registry.resolve(["coco"], {"YOLO_MODEL": str(YOLO_FILE), **config})
    (cached,) = (tmp_path / "models" / "cache").glob(
        f"yolo-yolov8n_int8-*-{yolo_engines.INT8_RECIPE}-*.onnx"
    )
    assert spec.options["qdq_path"] == str(cached)
    assert spec.options["calibration"] == str(yolo_engines.CALIBRATION_DIR)
    precision = spec.options["precision"]
    assert spec.weights_id.startswith(f"{registry.sha256(YOLO_FILE)[:12]}+ov-{precision}-int8-")
    stamp = cached.stat().st_mtime_ns
    (again,) = registry.resolve(["coco"], {"YOLO_MODEL": str(YOLO_FILE), **config})
    assert again.weights_id == spec.weights_id and cached.stat().st_mtime_ns == stamp
    # another models folder in this process: the graph built here is copied, not built again
    other = {**config, "MODELS_DIR": str(tmp_path / "other")}

    def no_build(fp32, inputs, cache_dir, key):  # type: ignore[no-untyped-def]
        assert fp32 is None, "built again"
        return build(fp32, inputs, cache_dir, key)

    build = yolo_engines.build_int8
    monkeypatch.setattr(yolo_engines, "build_int8", no_build)
    (copy,) = registry.resolve(["coco"], {"YOLO_MODEL": str(YOLO_FILE), **other})
    assert copy.weights_id == spec.weights_id
    assert Path(copy.options["qdq_path"]).read_bytes() == cached.read_bytes()
    int8 = registry.load(spec)
    ops = {n.op_type for n in int8._graph.graph.node}
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    # its activations are uint8: OpenVINO on AVX2 without VNNI got int8 ones wrong (scores ~0)
    pixels = np.asarray(upright(COCO_IMAGES / "000000000025.jpg").resize((640, 640)))[None]
    on_ort = yolo_engines.ort_runner(int8._graph.SerializeToString())(pixels)
    on_ov = int8._runners[int8.size](pixels)
    assert on_ov[0, 4:].max() > 0.5 and abs(on_ov[0, 4:].max() - on_ort[0, 4:].max()) < 0.05
    found = {b.label for b in int8(upright(COCO_IMAGES / "000000000025.jpg")) if b.score >= 0.25}
    assert "giraffe" in found
    count, missing = agreement(labeler(YOLO_RUNTIME="fp32"), int8)
    assert count >= 20 and len(missing) <= count // 5, missing


@pytest.mark.slow
def test_a_runtime_change_relabels_the_detections_only(make_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    need_shared(*PHOTOS[:3], IMAGENET_DIR)
    from atw.core.engine import make_engine
    from atw.core.schema import Detection, Label, StageDone

    root = tmp_path / "photos"
    root.mkdir()
    for src in PHOTOS[:3]:
        shutil.copy(src, root / src.name)
    old = make_app(**{**MODEL_CONFIG, "YOLO_RUNTIME": "file"})
    assert index(old, root).indexed == 3

    def rows(app) -> tuple[set[str], set[str], list[tuple[int, str]], set[str]]:  # type: ignore[no-untyped-def]
        with Session(make_engine(app.config["DATABASE_URL"])) as s:
            det = set(s.scalars(select(Detection.weights_id)))
            lab = set(s.scalars(select(Label.weights_id)))
            labels = sorted(tuple(r) for r in s.execute(select(Label.photo_id, Label.label)))
            done = set(s.scalars(select(StageDone.weights_id).where(StageDone.stage == "coco")))
        return det, lab, labels, done

    det, lab, labels, done = rows(old)
    sha = registry.sha256(YOLO_FILE)[:12]
    assert det == done == {sha}
    new = make_app(**{**MODEL_CONFIG, "YOLO_RUNTIME": "fp32"})  # the same instance folder
    second = index(new, root)
    assert (second.relabelled, second.indexed) == (3, 0)
    det2, lab2, labels2, done2 = rows(new)
    assert det2 == done2 == {f"{sha}+fp32+rectpad+lin"}  # YOLO_RECT, YOLO_RESIZE defaults
    assert (lab2, labels2) == (lab, labels)  # the classifier's labels are untouched
    assert index(new, root).processed == 0  # up to date now


def tiny_conv_model(path: Path) -> Path:
    """Two float convolutions (with and without bias), random weights, 3×16×16 input."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w1 = rng.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32)
    b1 = rng.normal(0, 0.1, 8).astype(np.float32)
    w2 = rng.normal(0, 0.3, (4, 8, 1, 1)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["h"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("Conv", ["r", "w2"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 16, 16])],
        [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_dequantize_undoes_quantize_dynamic_on_a_small_graph(tmp_path: Path) -> None:
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src = tiny_conv_model(tmp_path / "float.onnx")
    quantize_dynamic(str(src), str(tmp_path / "int8.onnx"), weight_type=QuantType.QUInt8)
    int8 = onnx.load(str(tmp_path / "int8.onnx"))
    assert yolo_graphs.has_conv_integer(int8)
    back = yolo_graphs.dequantize(int8)
    assert [n.op_type for n in back.graph.node] == ["Conv", "Relu", "Conv"]
    x = np.random.default_rng(1).normal(0, 1, (1, 3, 16, 16)).astype(np.float32)

    def run(model: object) -> np.ndarray:
        data = model.SerializeToString()  # type: ignore[attr-defined]
        return ort.InferenceSession(data).run(None, {"x": x})[0]

    want, got = run(onnx.load(str(src))), run(back)
    # Only the weights' 8-bit rounding separates the recovered graph from the original.
    assert np.abs(got - want).max() < 0.05 * np.abs(want).max()
    # A ConvInteger chain of another shape is refused, not guessed at.
    broken = onnx.load(str(tmp_path / "int8.onnx"))
    cast = next(n for n in broken.graph.node if n.op_type == "Cast")
    broken.graph.node.remove(cast)
    with pytest.raises(yolo_graphs.NotDerivable):
        yolo_graphs.dequantize(broken)


def test_auto_falls_back_to_the_float_graph_without_nncf_or_openvino(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    need_shared(YOLO_FILE)
    config = {"YOLO_MODEL": str(YOLO_FILE)}
    monkeypatch.setattr(yolo_engines, "nncf_available", lambda: False)  # as if not installed
    (spec,) = registry.resolve(["coco"], config)
    assert spec.options["runtime"] == "openvino" and "-int8-" not in spec.weights_id
    monkeypatch.setattr(yolo_engines, "openvino_available", lambda: False)
    (spec,) = registry.resolve(["coco"], config)
    assert spec.options["runtime"] == "fp32" and spec.weights_id.endswith("+fp32+rectpad+lin")
