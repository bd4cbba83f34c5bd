"""OpenVINO on the CPU for the labelers: one thread, unpinned, bf16 where the processor has it."""

from __future__ import annotations

import threading
from typing import Any


def openvino_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("openvino") is not None


def openvino_precision() -> str:
    """The precision OpenVINO's CPU plugin will run at here: bf16 where the processor has it
    (AVX-512 BF16 or AMX), else f32. Stored with the runtime in the model's provenance."""
    import openvino as ov

    caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    return "bf16" if "BF16" in caps else "f32"


def openvino_runner(model: bytes, precision: str, pixels: bool = False) -> Any:
    """An OpenVINO CPU model compiled for one thread, one stream, unpinned (the workers are one
    process per core; pinning would put every worker's thread on the same core).

    pixels: the model takes 8-bit NHWC pixels and turns them into its float NCHW input ÷ 255
    itself (OpenVINO's preprocessing, fused into the compiled model: ~2 ms a photo less than
    numpy's transpose and scaling)."""
    import numpy as np
    import openvino as ov

    core = ov.Core()
    graph = core.read_model(model=model)
    if pixels and graph.inputs:  # (test graphs may ignore their input and have none)
        from openvino.preprocess import PrePostProcessor

        ppp = PrePostProcessor(graph)
        ppp.input().tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC"))
        ppp.input().model().set_layout(ov.Layout("NCHW"))
        ppp.input().preprocess().convert_element_type(ov.Type.f32).scale(255.0)
        graph = ppp.build()
    compiled = core.compile_model(
        graph,
        "CPU",
        {
            "INFERENCE_NUM_THREADS": 1,
            "NUM_STREAMS": 1,
            "PERFORMANCE_HINT": "LATENCY",
            "ENABLE_CPU_PINNING": False,
            "INFERENCE_PRECISION_HINT": precision,
        },
    )
    feeds = len(compiled.inputs)  # 0 for a graph that ignores its input (test models)
    # One infer request per thread: a request is not safe to share (the web's classify requests
    # run side by side on one loaded model), and its output buffer is rewritten by its next
    # inference, so the result is copied out.
    local = threading.local()

    def run(x: Any) -> Any:
        """NCHW float32 input (NHWC uint8 with pixels) → the graph's first output."""
        request = getattr(local, "request", None)
        if request is None:
            request = local.request = compiled.create_infer_request()
        return np.array(request.infer({0: x} if feeds else {})[0], copy=True)

    run.compiled = compiled  # type: ignore[attr-defined]  # for checks of its settings
    return run
