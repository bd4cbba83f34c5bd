"""The int8 detector's recipe (mixed activation ranges) and auto's fall-back to the float graph."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from pipelines.labelers import registry, yolo_engines, yolo_graphs


def quantised_graph(scale: float, pool: bool = False) -> object:
    """x → Q/DQ → Conv → Resize (×2) → Q/DQ → y, every activation scale `scale`; with `pool`
    the Conv's output goes through its own Q/DQ (s2) and a MaxPool (as YOLO's SPPF) first."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def const(name: str, value: np.ndarray) -> onnx.TensorProto:
        return numpy_helper.from_array(value, name)

    inits = [
        const("s0", np.array(scale, np.float32)),
        const("z0", np.array(128, np.uint8)),
        const("s1", np.array(scale, np.float32)),
        const("z1", np.array(128, np.uint8)),
        const("s2", np.array(scale, np.float32)),
        const("z2", np.array(128, np.uint8)),
        const("w", np.ones((1, 1, 1, 1), np.float32)),
        const("roi", np.array([], np.float32)),
        const("scales", np.array([1, 1, 2, 2], np.float32)),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s0", "z0"], ["q0"]),
        helper.make_node("DequantizeLinear", ["q0", "s0", "z0"], ["d0"]),
        helper.make_node("Conv", ["d0", "w"], ["c0"]),
        *(
            [
                helper.make_node("QuantizeLinear", ["c0", "s2", "z2"], ["q2"]),
                helper.make_node("DequantizeLinear", ["q2", "s2", "z2"], ["d2"]),
                helper.make_node("MaxPool", ["d2"], ["p"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
            ]
            if pool
            else []
        ),
        helper.make_node("Resize", ["p" if pool else "c0", "roi", "scales"], ["r"], mode="nearest"),
        helper.make_node("QuantizeLinear", ["r", "s1", "z1"], ["q1"]),
        helper.make_node("DequantizeLinear", ["q1", "s1", "z1"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 8, 8])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def scales(model: object) -> dict[str, float]:
    from onnx import numpy_helper

    inits = model.graph.initializer  # type: ignore[attr-defined]
    used = {i for n in model.graph.node for i in n.input}  # type: ignore[attr-defined]
    return {
        i.name: round(float(numpy_helper.to_array(i)), 6)
        for i in inits
        if i.name in ("s0", "s1", "s2") and i.name in used
    }


def test_backbone_takes_the_clipped_ranges_and_the_neck_keeps_the_full_ones() -> None:
    import onnxruntime as ort

    full, clipped = quantised_graph(0.1), quantised_graph(0.02)
    mixed = yolo_graphs.mixed_ranges(full, clipped)
    assert scales(mixed) == {"s0": 0.02, "s1": 0.1}  # before the Resize: clipped; after: full
    assert scales(clipped) == {"s0": 0.02, "s1": 0.02}  # the source is left as it was
    x = np.linspace(-1, 1, 16, dtype=np.float32).reshape(1, 1, 4, 4)
    y = ort.InferenceSession(mixed.SerializeToString()).run(None, {"x": x})[0]  # type: ignore[attr-defined]
    # the mixed graph runs: steps of 0.02 on the way in, of 0.1 after the upsampling
    want = np.clip(np.round(x / 0.02), -128, 127) * 0.02
    want = np.round(np.repeat(np.repeat(want, 2, 2), 2, 3) / 0.1) * 0.1
    assert np.allclose(y, want, atol=1e-6)


def test_the_max_pooling_block_and_what_follows_keep_the_full_ranges() -> None:
    import onnxruntime as ort

    full, clipped = quantised_graph(0.1, pool=True), quantised_graph(0.02, pool=True)
    mixed = yolo_graphs.mixed_ranges(full, clipped)
    # before the max-pool's quantiser: clipped; the max-pool's input and after: full
    assert scales(mixed) == {"s0": 0.02, "s2": 0.1, "s1": 0.1}
    x = np.linspace(-1, 1, 16, dtype=np.float32).reshape(1, 1, 4, 4)
    y = ort.InferenceSession(mixed.SerializeToString()).run(None, {"x": x})[0]  # type: ignore[attr-defined]
    # the mixed graph runs and computes what it should (rounding and max commute, so the
    # output alone cannot tell the pool's scale: the assertion on the scales above does)
    a = np.round(np.round(x / 0.02) * 0.02 / 0.1) * 0.1  # in at 0.02 steps, to the pool at 0.1
    padded = np.pad(a[0, 0], 1, constant_values=-np.inf)
    pooled = np.array([[padded[i : i + 3, j : j + 3].max() for j in range(4)] for i in range(4)])
    want = np.round(np.repeat(np.repeat(pooled, 2, 0), 2, 1) / 0.1) * 0.1
    assert np.allclose(y[0, 0], want, atol=1e-6)


def test_auto_falls_back_to_the_float_graph_when_int8_cannot_be_built(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A detector file NNCF cannot quantise (here: not an ONNX graph at all) still resolves
    under auto, as the float graph on OpenVINO, with a warning; asked for by name, int8 fails."""
    assert yolo_engines.auto_runtime() == "int8"  # openvino and nncf are in requirements.txt
    bogus = tmp_path / "detector.onnx"
    bogus.write_bytes(b"not an onnx graph")
    config = {"YOLO_MODEL": str(bogus), "MODELS_DIR": str(tmp_path / "models")}
    with caplog.at_level(logging.WARNING):
        (spec,) = registry.resolve(["coco"], config)
    assert spec.options["runtime"] == "openvino" and "calibration" not in spec.options
    assert "+ov-" in spec.weights_id and "int8" not in spec.weights_id
    assert "float graph (no int8" in caplog.text
    with pytest.raises(Exception, match="parsing message"):  # onnx's DecodeError
        registry.resolve(["coco"], config | {"YOLO_RUNTIME": "int8"})
    # auto with calibration photos of the user's: a mistake there is an error, not float
    with pytest.raises(ValueError, match="not a folder"):
        registry.resolve(["coco"], config | {"YOLO_CALIBRATION": str(tmp_path / "nowhere")})
