"""The PyTorch model's ladder on ExecuTorch targets (Core ML rungs are format-level: planner/ladder.py).

    pte:        float32 -> float16 (where the target computes it) -> dynamic-int8
                -> dynamic-int8 with 4-bit embedding tables (for models that look
                tables up by their inputs) -> dynamic-int8 with 4-bit linear weights (and those tables;
                for models with linear layers); the dynamic rungs where the target runs float ops
                -> int8 PTQ -> QAT int8 -> prune 50% + PTQ -> Tucker-2 / CP conv decomposition at half
                the MACs + PTQ (models whose k x k convs hold >= 25% of the MACs)
                -> distill to width 0.75 / 0.5 / 0.35 + PTQ
    pte-coreml: float32 -> distill (the Core ML partitioner takes float programs only)
"""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING

from edge_sdk.contracts.model import LayerInfo, ModelInfo
from edge_sdk.contracts.plan import Candidate, Step
from edge_sdk.frameworks.torch.techniques.embedding_4bit import BYTES_PER_VALUE, GROUP_SIZE
from edge_sdk.planner.candidates import DECOMPOSE_MACS_RATIO, decomposition_scales, distill_rungs

if TYPE_CHECKING:
    from edge_sdk.profiles import Profile
    from edge_sdk.techniques.conv_decomposition import ConvGeometry

_rung = partial(Candidate, framework="torch")


def rungs(info: ModelInfo, profile: Profile, fmt: str, allows_float: bool) -> list[Candidate]:
    if fmt == "pte-coreml":
        return [_rung("fp32", fmt, "float32")] + distill_rungs("torch", "fp32", fmt, "float32")
    ptq = Step("ptq", {})
    ladder = []
    if allows_float:
        ladder.append(_rung("fp32", fmt, "float32"))
        if "float16" in profile.runtime.dtypes:
            ladder.append(_rung("fp16", fmt, "float16", params_scale=1.0 + _conv_params(info) / info.params))
        ladder.append(_rung("dynamic-int8", fmt, "dynamic-int8", (Step("ptq", {"mode": "dynamic-int8"}),)))
        table_params, dense_params = _input_table_params(info), _four_bit_dense_params(info)
        tables4 = {"embedding_bits": 4} if table_params else {}
        table_saving = table_params * (1.0 - BYTES_PER_VALUE)
        if table_params:
            ladder.append(_rung("dynamic-int8-emb4", fmt, "dynamic-int8",
                                (Step("ptq", {"mode": "dynamic-int8", **tables4}),),
                                params_scale=1.0 - table_saving / info.params))
        if dense_params:
            ladder.append(_rung("dynamic-int8-w4", fmt, "dynamic-int8",
                                (Step("ptq", {"mode": "dynamic-int8", "weight_bits": 4, **tables4}),),
                                params_scale=1.0 - (table_saving + dense_params * 0.5) / info.params))
    ladder += [
        _rung("int8", fmt, "int8", (ptq,)),
        _rung("qat-int8", fmt, "int8", (Step("qat", {}),), trains=True),
        _rung("prune50-int8", fmt, "int8", (Step("prune", {"sparsity": 0.5}), ptq), sparsity=0.5, trains=True),
    ]
    for method in ("tucker2", "cp"):
        scales = decomposition_scales(info, method, conv2d_geometry)
        if scales is not None:
            step = Step("decompose", {"method": method, "macs_ratio": DECOMPOSE_MACS_RATIO})
            ladder.append(_rung(f"{method}-int8", fmt, "int8", (step, ptq), trains=True, **scales))
    return ladder + distill_rungs("torch", "int8", fmt, "int8", then=(ptq,))


def conv2d_geometry(layer: LayerInfo) -> ConvGeometry | None:
    """A decomposable aten.conv2d's geometry from its analysed shapes (weight (C_out, C_in, k_h, k_w),
    NCHW; strides read back from the feature-map sizes); None for any other layer."""
    from edge_sdk.techniques.conv_decomposition import ConvGeometry, decomposable

    weight = layer.weight_shapes[0] if layer.weight_shapes else ()
    if layer.op != "aten.conv2d.default" or len(weight) != 4 or len(layer.input_shapes[0]) != 4:
        return None
    (_, channels, h, w), (_, _, oh, ow) = layer.input_shapes[0], layer.output_shapes[0]
    if channels != weight[1] or not decomposable(weight[2:], 1):  # grouped convs read more channels than the weight
        return None
    strides = (max(1, round(h / oh)), max(1, round(w / ow)))
    return ConvGeometry(weight[2], weight[3], weight[1], weight[0], (h, w), (oh, ow), strides, "explicit", per_axis_strides=True)


def _conv_params(info: ModelInfo) -> int:
    """Parameters of conv layers: ExecuTorch 1.5.1's XNNPACK stores their weights float32 even in a float16
    program (measured: a Conv2d(32, 64, 3) .pte is 76,416 B at both precisions; a Linear halves), so
    the float16 size estimate counts them twice over."""
    return sum(layer.params for layer in info.layers if layer.kind in ("conv", "depthwise"))


def _four_bit_dense_params(info: ModelInfo) -> int:
    """Weights of the linear layers XNNPACK runs 4-bit (ptq.four_bit_linear: an even input width)."""
    return sum(
        math.prod(layer.weight_shapes[0]) for layer in info.layers
        if layer.kind == "dense" and layer.weight_shapes and len(layer.weight_shapes[0]) == 2
        and layer.weight_shapes[0][1] % 2 == 0
    )


def _input_table_params(info: ModelInfo) -> int:
    """Parameters of the embedding tables the 4-bit rewrite takes (embedding_4bit.py): looked up by a model
    input and a row length that divides into groups. The analysis sees only a layer's direct reader, so
    a table looked up through an op on the input is not counted: the estimate stays on the safe side."""
    inputs = set(info.input_names)
    return sum(
        math.prod(layer.weight_shapes[0]) for layer in info.layers
        if layer.kind == "embedding" and layer.weight_shapes and len(layer.weight_shapes[0]) == 2
        and layer.weight_shapes[0][1] % GROUP_SIZE == 0 and inputs & set(layer.inputs)
    )
