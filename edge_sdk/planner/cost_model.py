"""Per-op-kind latency: what each runtime op of a model costs on a unit whose profile gives kernel costs.

One MAC rate per unit cannot fit real kernels: a CMSIS-NN depthwise convolution, a 1x1 convolution and a
fully connected layer run at very different MACs per cycle, so the error of a single rate changes sign
from model to model (docs/estimates.md). Here every runtime op is one kind, and its time is

    cycles = sum over ops of cycles[kind] * work(op) + op_overhead_cycles * n_ops
             + weight_byte_cycles * weight bytes
    ms = 1000 * cycles / compute.clock_hz

work is MACs for the MAC kinds (conv, depthwise, pointwise = a 1x1 conv, dense = fully connected and
matmul) and elements produced for the others (elementwise, pooling, activation, data_movement).
weight_byte_cycles is the memory term: weights streamed from flash through its wait states on an MCU.
A kind without a coefficient falls back to the unit's MAC rate and efficiency (`dtypes`), the op
count to the default dispatch cost (estimate.OP_OVERHEAD_CYCLES).

The features (`op_work`) are also what `edge-sdk calibrate` fits coefficients to (planner/calibrate.py);
`traced_kinds` says which kinds an operator a runtime traced (bench.json's `op_profile`) ran.
"""

from __future__ import annotations

import math

from edge_sdk.contracts.model import DTYPE_BYTES, LayerInfo, ModelInfo

MAC_KINDS = ("conv", "depthwise", "pointwise", "dense")
ELEMENT_KINDS = ("elementwise", "pooling", "activation", "data_movement")
OP_KINDS = MAC_KINDS + ELEMENT_KINDS
# the fitted features beside the op kinds: ops dispatched, weight bytes read
OPS, WEIGHT_BYTES = "ops", "weight_bytes"
FEATURES = OP_KINDS + (OPS, WEIGHT_BYTES)

_ELEMENT_KIND_OF_LAYER = {"pool": "pooling", "elementwise": "elementwise", "norm": "elementwise",
                          "activation": "activation", "reshape": "data_movement"}


def op_work(info: ModelInfo, namespace: str, compute_dtype: str, *, macs_scale: float = 1.0,
            activation_scale: float = 1.0) -> dict[str, float]:
    """The model's work per feature as it runs in one runtime: only layers that become runtime ops count
    (a BatchNormalization or ReLU folded into its conv costs nothing)."""
    work = dict.fromkeys(FEATURES, 0.0)
    weight_bytes = DTYPE_BYTES["int8" if compute_dtype == "int16" else compute_dtype]  # 16x8: int8 weights
    for layer in info.layers:
        ops = layer.runtime_ops.get(namespace, ())
        if layer.kind == "input" or not ops:
            continue
        work[OPS] += len(ops)
        if layer.macs:
            split = _mac_split(layer)
            for kind, macs in split:
                work[kind] += macs * macs_scale
            work[WEIGHT_BYTES] += layer.params * weight_bytes * macs_scale
            # an activation written as its own op after the MAC ops (FULLY_CONNECTED + SOFTMAX)
            work["activation"] += layer.output_elems * activation_scale * len(ops[len(split):])
        else:
            kind = _ELEMENT_KIND_OF_LAYER.get(layer.kind, "data_movement")
            work[kind] += (layer.other_ops or layer.output_elems) * activation_scale * len(ops)
    return work


def _mac_split(layer: LayerInfo) -> list[tuple[str, float]]:
    """A layer's MACs by kind: a separable conv is a depthwise then a pointwise conv."""
    if layer.kind == "depthwise":
        return [("depthwise", layer.macs)]
    if layer.kind in ("dense", "matmul", "embedding"):
        return [("dense", layer.macs)]
    if layer.kind == "separable" and len(layer.weight_shapes) >= 2:
        pointwise = _spatial(layer) * math.prod(layer.weight_shapes[1])
        return [("depthwise", layer.macs - pointwise), ("pointwise", pointwise)]
    return [("pointwise" if _kernel_positions(layer) == 1 else "conv", layer.macs)]


def _kernel_positions(layer: LayerInfo) -> int | None:
    """kh * kw of a 2-D conv kernel, read in its framework's layout: TFLite OHWI, aten / ONNX OIHW,
    Keras HWIO."""
    kernel = layer.weight_shapes[0] if layer.weight_shapes else ()
    if len(kernel) != 4:
        return None
    if layer.op == "CONV_2D":
        return kernel[1] * kernel[2]
    if layer.op.startswith("aten.") or layer.op == "Conv":
        return kernel[2] * kernel[3]
    return kernel[0] * kernel[1]


def _spatial(layer: LayerInfo) -> int:
    """Output positions of a conv-like layer (batch 1, channels last)."""
    shape = layer.output_shapes[0] if layer.output_shapes else ()
    return math.prod(shape[1:-1]) if len(shape) > 2 else 1


def kernel_ms(work: dict[str, float], cycles: dict[str, float], clock_hz: float, default_cycles_per_mac: float,
              default_op_cycles: float) -> float:
    """Milliseconds for `work` under per-feature `cycles`; a kind without a coefficient costs the unit's
    MAC rate (one MAC per element for the element kinds), ops without one the default dispatch cost."""
    defaults = {**dict.fromkeys(OP_KINDS, default_cycles_per_mac), OPS: default_op_cycles, WEIGHT_BYTES: 0.0}
    total = sum(cycles.get(feature, defaults[feature]) * amount for feature, amount in work.items())
    return 1000 * total / clock_hz


# A traced operator's name (TFLite builtin node types such as DEPTHWISE_CONV_2D, XNNPACK's own op names
# inside a delegate, ExecuTorch's portable `native_call_<aten op>.out`) -> the op kinds it may be; first
# match wins. Where the name cannot tell
# kinds apart it maps to all of them (XNNPACK runs 1x1 and kxk convolutions as GEMM or IGEMM, a portable
# convolution may be any of three), and the fit attributes its time over them.
_TRACED_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("depthwise_conv_2d", ("depthwise",)), ("transpose_conv", ("conv",)), ("conv_2d", ("conv", "pointwise")),
    ("fully_connected", ("dense",)), ("batch_matmul", ("dense",)), ("logistic", ("activation",)),
    ("hard_swish", ("activation",)),
    ("dwconv", ("depthwise",)),
    ("deconvolution", ("conv",)),
    ("convolution (n", ("conv", "pointwise")),  # XNNPACK: "Convolution (NHWC, F32) GEMM|IGEMM"
    ("convolution", ("conv", "pointwise", "depthwise")),
    ("fully connected", ("dense",)), ("batch matrix multiply", ("dense",)), ("addmm", ("dense",)),
    ("linear", ("dense",)), ("native_call_mm", ("dense",)), ("bmm", ("dense",)),
    ("pool", ("pooling",)), ("mean", ("pooling",)),
    ("softmax", ("activation",)), ("clamp", ("activation",)), ("relu", ("activation",)), ("sigmoid", ("activation",)),
    ("tanh", ("activation",)), ("hardswish", ("activation",)), ("gelu", ("activation",)), ("elu", ("activation",)),
    ("add", ("elementwise",)), ("multiply", ("elementwise",)), ("mul", ("elementwise",)), ("subtract", ("elementwise",)),
    ("sub", ("elementwise",)), ("divide", ("elementwise",)), ("div", ("elementwise",)),
    ("transpose", ("data_movement",)), ("permute", ("data_movement",)), ("reshape", ("data_movement",)),
    ("view", ("data_movement",)), ("copy", ("data_movement",)), ("concatenat", ("data_movement",)),
    ("cat.out", ("data_movement",)), ("slice", ("data_movement",)), ("split", ("data_movement",)),
)


def traced_kinds(name: str) -> tuple[str, ...] | None:
    """The op kinds a traced operator ran (TFLite, XNNPACK or ExecuTorch portable names), None when unknown."""
    lowered = name.lower()
    return next((kinds for pattern, kinds in _TRACED_KINDS if pattern in lowered), None)
