"""Derived YOLO ONNX graphs: float weights from dynamic int8, rectangular inputs, int8 edits."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

# onnx is imported inside the functions: the registry imports this module's callers lazily, and
# the web process never needs it.


class NotDerivable(ValueError):
    """The graph does not have the structure a derivation needs (it is left as it is)."""


def has_conv_integer(model: Any) -> bool:
    """True for a dynamically quantised graph (onnxruntime's quantize_dynamic: ConvInteger)."""
    return any(n.op_type == "ConvInteger" for n in model.graph.node)


def dequantize(model: Any) -> Any:
    """A float copy of a dynamically quantised graph: every ConvInteger fed by a
    DynamicQuantizeLinear, with constant uint8/int8 weights, and the Cast → Mul(scales) → Add(bias)
    that follows it becomes one float Conv with weights (Wq − zero point) × scale and the same
    bias. The weights are exactly the values the int8 graph multiplies by; only the activations
    are no longer rounded to 8 bits. Raises NotDerivable when a ConvInteger does not fit."""
    import onnx
    from onnx import helper, numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    inits = {i.name: i for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    consumers: dict[str, list[Any]] = defaultdict(list)
    for n in g.node:
        for i in n.input:
            consumers[i].append(n)

    def const(name: str) -> np.ndarray:
        if name not in inits:
            raise NotDerivable(f"{name} is not a constant")
        return numpy_helper.to_array(inits[name])

    def only_consumer(name: str, op: str) -> Any:
        found = consumers.get(name, [])
        if len(found) != 1 or found[0].op_type != op:
            raise NotDerivable(f"{name}: expected one {op} consumer")
        return found[0]

    replaced: dict[str, Any] = {}  # id of the last node of a pattern → the new Conv
    removed: set[int] = set()
    for node in g.node:
        if node.op_type != "ConvInteger":
            continue
        xq, wq_name = node.input[0], node.input[1]
        dql = producer.get(xq)
        if dql is None or dql.op_type != "DynamicQuantizeLinear":
            raise NotDerivable(f"{node.name}: input is not dynamically quantised")
        wq = const(wq_name).astype(np.float32)
        wzp = const(node.input[3]).astype(np.float32) if len(node.input) > 3 else np.float32(0)
        cast = only_consumer(node.output[0], "Cast")
        mul = only_consumer(cast.output[0], "Mul")
        scales_name = next(i for i in mul.input if i != cast.output[0])
        scales = producer.get(scales_name)
        if scales is None or scales.op_type != "Mul" or dql.output[1] not in scales.input:
            raise NotDerivable(f"{node.name}: no input scale × weight scale product")
        w_scale = const(next(i for i in scales.input if i != dql.output[1])).astype(np.float32)
        out_ch = wq.shape[0]
        if w_scale.size == out_ch and out_ch > 1:
            w_scale = w_scale.reshape(-1, 1, 1, 1)
        if np.ndim(wzp) and np.size(wzp) == out_ch:
            wzp = wzp.reshape(-1, 1, 1, 1)
        weight = ((wq - wzp) * w_scale).astype(np.float32)
        last, bias = mul, None
        after = consumers.get(mul.output[0], [])
        if len(after) == 1 and after[0].op_type == "Add":
            add = after[0]
            other = next(i for i in add.input if i != mul.output[0])
            src = producer.get(other)
            if src is not None and src.op_type == "Reshape" and src.input[0] in inits:
                bias = const(src.input[0]).astype(np.float32).reshape(-1)
            elif other in inits:
                bias = const(other).astype(np.float32).reshape(-1)
            if bias is not None and bias.size == out_ch:
                last = add
            else:
                bias = None
        base = (node.name or last.output[0]).replace("_quant", "")
        w_name, b_name = f"{base}_w_float{len(replaced)}", f"{base}_b_float{len(replaced)}"
        g.initializer.append(numpy_helper.from_array(weight, w_name))
        inputs = [dql.input[0], w_name]
        if bias is not None:
            g.initializer.append(numpy_helper.from_array(bias, b_name))
            inputs.append(b_name)
        conv = helper.make_node("Conv", inputs, [last.output[0]], name=f"{base}_float")
        conv.attribute.extend(node.attribute)
        replaced[id(last)] = conv
        removed.update({id(node), id(cast), id(mul)} - {id(last)})
    if not replaced:
        raise NotDerivable("no ConvInteger to dequantise")
    nodes = [replaced.get(id(n), n) for n in g.node if id(n) not in removed]
    del g.node[:]
    g.node.extend(nodes)
    prune(out)
    return out


def prune(model: Any) -> None:
    """Drop nodes that no graph output depends on, then unused initializers and value infos."""
    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    needed: set[str] = set()
    keep: set[int] = set()
    stack = [o.name for o in g.output]
    while stack:
        name = stack.pop()
        if name in needed:
            continue
        needed.add(name)
        node = producer.get(name)
        if node is not None and id(node) not in keep:
            keep.add(id(node))
            stack.extend(i for i in node.input if i)
    nodes = [n for n in g.node if id(n) in keep]
    del g.node[:]
    g.node.extend(nodes)
    used = {i for n in nodes for i in n.input}
    inits = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(inits)
    infos = [v for v in g.value_info if v.name in needed]
    del g.value_info[:]
    g.value_info.extend(infos)


def anchor_grid(width: int, height: int, strides: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Ultralytics' anchor points (cell centres, in cells; shape [2, N]) and per-anchor strides
    ([N]) for an input of width × height, levels in the order given."""
    points, per = [], []
    for s in strides:
        ny, nx = height // s, width // s
        ys, xs = np.meshgrid(np.arange(ny) + 0.5, np.arange(nx) + 0.5, indexing="ij")
        points.append(np.stack([xs.ravel(), ys.ravel()]))
        per.append(np.full(nx * ny, s, np.float32))
    return np.concatenate(points, axis=1).astype(np.float32), np.concatenate(per)


def input_hw(model: Any) -> tuple[int, int]:
    """(height, width) of a fixed-size NCHW image input."""
    dims = model.graph.input[0].type.tensor_type.shape.dim
    h, w = dims[2].dim_value, dims[3].dim_value
    if len(dims) != 4 or not h or not w:
        raise NotDerivable("the input has no fixed N×C×H×W shape")
    return h, w


def level_strides(height: int, width: int, anchors: int, max_stride: int) -> list[int]:
    """The detection levels' strides (8, 16, 32 for P3–P5) that give `anchors` anchor points."""
    for levels in (3, 4, 2):
        strides = [max_stride >> (levels - 1 - i) for i in range(levels)]
        if all(s > 0 for s in strides) and anchors == sum(
            (height // s) * (width // s) for s in strides
        ):
            return strides
    raise NotDerivable(f"{anchors} outputs fit no anchor grid of stride {max_stride}")


def specialise(model: Any, width: int, height: int, max_stride: int = 32) -> Any:
    """The same detector for a fixed input of width × height (multiples of max_stride).

    An Ultralytics YOLOv8/v11 export of a fixed size bakes its anchor points, per-anchor strides
    and the anchor count into constants; each one is recognised by its value and rebuilt for the
    new size. Anything else that holds the anchor count raises NotDerivable."""
    import onnx
    from onnx import numpy_helper

    if width % max_stride or height % max_stride:
        raise ValueError(f"{width}×{height} is not a multiple of {max_stride}")
    h0, w0 = input_hw(model)
    out_dims = model.graph.output[0].type.tensor_type.shape.dim
    n0 = max(d.dim_value for d in out_dims)
    strides = level_strides(h0, w0, n0, max_stride)
    old_points, old_per = anchor_grid(w0, h0, strides)
    new_points, new_per = anchor_grid(width, height, strides)
    n1 = new_per.size
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    for k, init in enumerate(g.initializer):
        if n0 not in init.dims and init.data_type != onnx.TensorProto.INT64:
            continue
        a = numpy_helper.to_array(init)
        if a.dtype == np.int64 and a.ndim == 1 and n0 in a.tolist() and a.size <= 8:
            new = np.where(a == n0, n1, a).astype(np.int64)  # a Reshape target
        elif n0 not in init.dims:
            continue
        elif a.size == 2 * n0 and np.allclose(a.reshape(2, n0), old_points):
            new = new_points.reshape(*[d if d != n0 else n1 for d in a.shape]).astype(a.dtype)
        elif a.size == n0 and np.allclose(a.reshape(-1), old_per):
            new = new_per.reshape(*[d if d != n0 else n1 for d in a.shape]).astype(a.dtype)
        else:
            raise NotDerivable(f"constant {init.name} {list(a.shape)} holds the anchor count")
        g.initializer[k].CopyFrom(numpy_helper.from_array(new, init.name))
    if any(n.op_type == "Constant" for n in g.node):
        raise NotDerivable("Constant nodes are not rewritten")
    dims = g.input[0].type.tensor_type.shape.dim
    dims[2].dim_value, dims[3].dim_value = height, width
    for d in g.output[0].type.tensor_type.shape.dim:
        if d.dim_value == n0:
            d.dim_value = n1
    del g.value_info[:]  # shapes inside changed; onnxruntime infers them again
    return out


def mixed_ranges(full: Any, clipped: Any) -> Any:
    """`full` with the activation ranges of `clipped` (the 0.01 % outliers left out) in the
    backbone up to its max-pooling block (YOLO's SPPF) or the neck's first upsampling (Resize),
    whichever comes first (backbone_tensors). Narrower ranges there mean finer steps, so rotated
    or re-encoded copies of a photo keep closer scores; the SPPF's max-pools, the neck and the
    head carry the largest activations, where detections live, and clipping them costs boxes
    and classes (a toucan's 'bird' fell from 0.64 to 0.35 with a clipped SPPF and a 'dog'
    ≥ 0.4 came and went between its rotated copies). 600 rotated copies
    (bench/label_accuracy.py --orient-count 100 --quality 95 --subsampling 2), every box ≥ 0.4
    kept / ≥ 0.5 kept / coco128 recall, on one AVX-512 machine: full ranges everywhere
    579 / 591 / 0.503; clipped up to the Resize 585 / 594 / 0.498; clipped up to the SPPF
    589 / 595 / 0.497; the float graph at bf16 585 / 595 / 0.502."""
    backbone = backbone_tensors(full)
    source = {i.name: i for i in clipped.graph.initializer}
    inits = {i.name: i for i in full.graph.initializer}
    for node in full.graph.node:
        if node.op_type == "QuantizeLinear" and node.input[0] in backbone:
            for param in node.input[1:]:  # scale, zero point (shared with its DequantizeLinear)
                if param in source and param in inits:
                    inits[param].CopyFrom(source[param])
    return full


def backbone_tensors(model: Any) -> set[str]:
    """The graph input and the tensors made before the first max-pooling block (from the node
    that makes the first MaxPool's float input, found through its quantise/dequantise pair) or
    the first Resize, whichever is earlier."""
    nodes = list(model.graph.node)
    index = {o: i for i, n in enumerate(nodes) for o in n.output}
    first = next((i for i, n in enumerate(nodes) if n.op_type == "Resize"), len(nodes))
    pool = next((n for n in nodes if n.op_type == "MaxPool"), None)
    if pool is not None:
        tensor = pool.input[0]
        while tensor in index and nodes[index[tensor]].op_type in (
            "DequantizeLinear",
            "QuantizeLinear",
        ):
            tensor = nodes[index[tensor]].input[0]
        first = min(first, index.get(tensor, first))
    return {model.graph.input[0].name} | {o for n in nodes[:first] for o in n.output}


def unsigned_activations(model: Any) -> Any:
    """The graph with its activations quantised to uint8 (zero point + 128) rather than NNCF's
    int8, the same values: OpenVINO's CPU plugin on AVX2 without VNNI computes int8-activation
    convolutions wrongly (scores near 0 where onnxruntime gives 0.92), uint8 ones right."""
    import onnx
    from onnx import numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    for node in model.graph.node:
        zp = inits.get(node.input[2]) if node.op_type == "QuantizeLinear" else None
        if zp is not None and zp.data_type == onnx.TensorProto.INT8:
            value = numpy_helper.to_array(zp).astype(np.int16) + 128
            zp.CopyFrom(numpy_helper.from_array(value.astype(np.uint8), zp.name))
    del model.graph.value_info[:]  # their int8 types; shapes are inferred again on loading
    return model


def head_nodes(model: Any) -> list[str]:
    """The box and score decoding after the detector's convolutions, to be left float: the
    one-channel convolutions (YOLOv8's DFL expectation) and every node whose outputs feed only
    such nodes or the graph outputs (reshapes, concatenations, sigmoid, softmax, anchors)."""
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    consumers: dict[str, list[Any]] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    excluded: set[int] = set()
    changed = True
    while changed:
        changed = False
        for n in g.node:
            if id(n) in excluded:
                continue
            if n.op_type == "Conv":
                w = inits.get(n.input[1])
                head = w is not None and w.dims[0] == 1
            else:
                after = [c for o in n.output for c in consumers.get(o, [])]
                head = all(id(c) in excluded for c in after)
            if head:
                excluded.add(id(n))
                changed = True
    return [n.name for n in g.node if id(n) in excluded]


def edge_convs(model: Any) -> list[str]:
    """The convolutions that read the image and those that feed only the box decoding."""
    g = model.graph
    head = set(head_nodes(model))
    consumers: dict[str, list[Any]] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    image = g.input[0].name
    out = []
    for n in g.node:
        if n.op_type != "Conv" or n.name in head:
            continue
        after = [c for o in n.output for c in consumers.get(o, [])]
        if image in n.input or (after and all(c.name in head for c in after)):
            out.append(n.name)
    return out
