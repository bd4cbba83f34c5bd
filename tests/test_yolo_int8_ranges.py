"""yolo_engines.mixed_ranges: clipped activation ranges before the neck's upsampling, full after."""

from __future__ import annotations

import numpy as np

from pipelines.labelers import yolo_engines


def quantised_graph(scale: float) -> object:
    """x → Q/DQ → Conv → Resize (×2) → Q/DQ → y, every activation scale `scale`."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def const(name: str, value: np.ndarray) -> onnx.TensorProto:
        return numpy_helper.from_array(value, name)

    inits = [
        const("s0", np.array(scale, np.float32)),
        const("z0", np.array(128, np.uint8)),
        const("s1", np.array(scale, np.float32)),
        const("z1", np.array(128, np.uint8)),
        const("w", np.ones((1, 1, 1, 1), np.float32)),
        const("roi", np.array([], np.float32)),
        const("scales", np.array([1, 1, 2, 2], np.float32)),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s0", "z0"], ["q0"]),
        helper.make_node("DequantizeLinear", ["q0", "s0", "z0"], ["d0"]),
        helper.make_node("Conv", ["d0", "w"], ["c0"]),
        helper.make_node("Resize", ["c0", "roi", "scales"], ["r"], mode="nearest"),
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
    return {
        i.name: round(float(numpy_helper.to_array(i)), 6) for i in inits if i.name in ("s0", "s1")
    }


def test_backbone_takes_the_clipped_ranges_and_the_neck_keeps_the_full_ones() -> None:
    import onnxruntime as ort

    full, clipped = quantised_graph(0.1), quantised_graph(0.02)
    mixed = yolo_engines.mixed_ranges(full, clipped)
    assert scales(mixed) == {"s0": 0.02, "s1": 0.1}  # before the Resize: clipped; after: full
    assert scales(clipped) == {"s0": 0.02, "s1": 0.02}  # the source is left as it was
    x = np.linspace(-1, 1, 16, dtype=np.float32).reshape(1, 1, 4, 4)
    y = ort.InferenceSession(mixed.SerializeToString()).run(None, {"x": x})[0]  # type: ignore[attr-defined]
    # the mixed graph runs: steps of 0.02 on the way in, of 0.1 after the upsampling
    want = np.clip(np.round(x / 0.02), -128, 127) * 0.02
    want = np.round(np.repeat(np.repeat(want, 2, 2), 2, 3) / 0.1) * 0.1
    assert np.allclose(y, want, atol=1e-6)
