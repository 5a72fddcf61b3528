"""The Keras model's ladder on TFLite / TFLM targets (Core ML rungs are format-level: planner/ladder.py).

    float32 -> float16 -> dynamic-int8            (only where the target runs float ops)
    int8 PTQ -> int8 after cross-layer equalization (models with rescalable conv/dense chains)
    -> int8 tuned per model (activation ranges: min-max, percentile or MSE; bias correction)
    -> int8 with sensitive layers float            (only where float ops are allowed)
    -> int8 with per-tensor dense weights          (TFLM, models with FULLY_CONNECTED ops: less arena)
    -> int16x8: int16 activations, int8 weights    (TFLM targets with 16x8 kernels, models whose ops
                                                    the converter's 16x8 quantizer takes: more arena
                                                    and latency, no training)
    QAT int8 (label-free) -> pruning + QAT -> cluster 16 + CQAT -> low-rank + QAT
    -> Tucker-2 / CP conv decomposition at half the MACs + QAT (models whose k x k convs hold >= 25%
       of the MACs)
    -> distill to width 0.75 / 0.5 / 0.35 + QAT

Pruning depends on the runtime: LiteRT (phones) gets unstructured 50/80% sparsity with
sparsity-preserving QAT (zeros compress for OTA size, and sparse-aware kernels can use them). TFLite
Micro stores and runs weights dense, and a sparse conversion emits DENSIFY, an op it lacks; so TFLM
targets get channel pruning instead (25% / 50% of the channels removed, then QAT): a smaller dense
model whose MACs, flash and arena all shrink, estimated by planner.candidates.width_scales.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from edge_sdk.contracts.model import LayerInfo, ModelInfo
from edge_sdk.contracts.plan import Candidate, Step
from edge_sdk.planner.candidates import DECOMPOSE_MACS_RATIO, decomposition_scales, distill_rungs, width_scales

if TYPE_CHECKING:
    from edge_sdk.profiles import Profile
    from edge_sdk.techniques.conv_decomposition import ConvGeometry

LOWRANK_FRACTION = 0.25
CHANNEL_SPARSITIES = (0.25, 0.5)  # fraction of channels the TFLM ladder's structured pruning removes
_rung = partial(Candidate, framework="keras")


def rungs(info: ModelInfo, profile: Profile, fmt: str, allows_float: bool) -> list[Candidate]:
    dtypes = set(profile.runtime.dtypes)
    ladder: list[Candidate] = []
    if allows_float:
        if "float32" in dtypes:
            ladder.append(_rung("fp32", fmt, "float32"))
        if "float16" in dtypes:
            ladder.append(_rung("fp16", fmt, "float16"))
        ladder.append(_rung("dynamic-int8", fmt, "dynamic-int8"))
    if "int8" in dtypes:
        ladder += _int_rungs(info, fmt, allows_float, int16="int16" in dtypes)
    return ladder


def _int_rungs(info: ModelInfo, fmt: str, allows_float: bool, int16: bool) -> list[Candidate]:
    qat = Step("qat", {})
    # PTQ is the export itself (TFLiteConverter with the calibration data): no step before it
    ladder = [_rung("int8", fmt, "int8")]
    if info.equalizable_chains:
        ladder.append(_rung("int8-cle", fmt, "int8", (Step("equalize", {}),)))
    ladder.append(_rung("int8-tuned", fmt, "int8", tuned=True))
    if allows_float:
        ladder.append(_rung("int8-mixed", fmt, "int8-mixed"))
    if fmt == "tflm" and _has_dense(info):
        ladder.append(_rung("int8-dense-per-tensor", fmt, "int8", dense_per_tensor=True))
    if fmt == "tflm" and int16 and not int16x8_refused_ops(info):
        # where the float rungs are not allowed, the last untrained way to keep accuracy
        ladder.append(_rung("int16x8", fmt, "int16x8"))
    ladder += [
        _rung("qat-int8", fmt, "int8", (qat,), trains=True),
        *(_channel_prune_rungs(info, fmt) if fmt == "tflm" else _sparse_prune_rungs(fmt)),
        _rung("cluster16-qat-int8", fmt, "int8", (Step("cluster", {"clusters": 16, "qat": True}),), trains=True),
    ]
    lowrank_scale = _lowrank_params_scale(info, LOWRANK_FRACTION)
    if lowrank_scale is not None:
        ladder.append(_rung("lowrank-qat-int8", fmt, "int8", (Step("lowrank", {"rank_fraction": LOWRANK_FRACTION}), qat),
                            params_scale=lowrank_scale, trains=True))
    for method in ("tucker2", "cp"):
        scales = decomposition_scales(info, method, conv2d_geometry)
        if scales is not None:
            step = Step("decompose", {"method": method, "macs_ratio": DECOMPOSE_MACS_RATIO})
            ladder.append(_rung(f"{method}-qat-int8", fmt, "int8", (step, qat), trains=True, **scales))
    return ladder + distill_rungs("keras", "qat-int8", fmt, "int8", then=(qat,))


def conv2d_geometry(layer: LayerInfo) -> ConvGeometry | None:
    """A decomposable Conv2D's geometry from its analysed shapes (kernel (k_h, k_w, C_in, C_out), NHWC);
    strides and padding are read back from the feature-map sizes. None for any other layer."""
    from edge_sdk.techniques.conv_decomposition import ConvGeometry, decomposable

    kernel = layer.weight_shapes[0] if layer.weight_shapes else ()
    if layer.op != "Conv2D" or len(kernel) != 4 or len(layer.input_shapes[0]) != 4:
        return None
    (_, h, w, channels), (_, oh, ow, _) = layer.input_shapes[0], layer.output_shapes[0]
    if channels != kernel[2] or not decomposable(kernel[:2], 1):  # grouped convs read more channels than the kernel
        return None
    strides = (max(1, round(h / oh)), max(1, round(w / ow)))
    same = all(-(-size // s) == out for size, s, out in ((h, strides[0], oh), (w, strides[1], ow)))
    return ConvGeometry(*kernel, (h, w), (oh, ow), strides, "same" if same else "valid")


def int16x8_refused_ops(info: ModelInfo) -> list[str]:
    """The model's TFLite ops that the converter's 16x8 quantizer refuses (PRELU, HARD_SWISH, ...)."""
    from edge_sdk.frameworks.keras.techniques.ptq import INT16X8_UNSUPPORTED

    return sorted({op for layer in info.layers for op in layer.runtime_ops.get("tflite", ()) if op in INT16X8_UNSUPPORTED})


def _has_dense(info: ModelInfo) -> bool:
    """Does the model convert to FULLY_CONNECTED ops (whose per-channel multipliers TFLM keeps in its arena)?"""
    return any("FULLY_CONNECTED" in layer.runtime_ops.get("tflite", ()) for layer in info.layers)


def _sparse_prune_rungs(fmt: str) -> list[Candidate]:
    """Unstructured sparsity + sparsity-preserving QAT (LiteRT; exported dense, see formats/tflite/exporter.convert)."""
    return [
        _rung(f"prune{round(s * 100)}-qat-int8", fmt, "int8", (Step("prune", {"sparsity": s, "qat": True}),), sparsity=s, trains=True)
        for s in (0.5, 0.8)
    ]


def _channel_prune_rungs(info: ModelInfo, fmt: str) -> list[Candidate]:
    """Channels removed + QAT, exported dense (TFLM: no DENSIFY, smaller MACs, flash and arena)."""
    return [
        _rung(
            f"prune-channels{round(s * 100)}-qat-int8", fmt, "int8",
            (Step("prune", {"sparsity": s, "structure": "channel", "qat": True}),),
            **width_scales(info, 1.0 - s), trains=True,
        )
        for s in CHANNEL_SPARSITIES
    ]


def _lowrank_params_scale(info: ModelInfo, rank_fraction: float) -> float | None:
    """Params after the lowrank step factorises every Dense and 1x1 Conv2D kernel (in x out) into rank
    r = rank_fraction * min(in, out) where that saves parameters; None when no layer would, so the rung
    is left out instead of failing with "no layer to factorise" after the ladder promised it.

    Mirrors frameworks/keras/techniques/lowrank.py: output layers (no other layer reads them) stay
    whole, and a 1x1 conv counts only ungrouped (its kernel's input depth is the input's channels)."""
    read = {name for layer in info.layers for name in layer.inputs}
    saved = 0
    for layer in info.layers:
        if layer.name not in read or not layer.weight_shapes:
            continue
        kernel = layer.weight_shapes[0]
        if layer.kind == "dense" and len(kernel) == 2:
            fan_in, fan_out = kernel
        elif (layer.kind == "conv" and len(kernel) == 4 and kernel[:2] == (1, 1) and layer.input_shapes
              and layer.input_shapes[0][-1] == kernel[2]):
            fan_in, fan_out = kernel[2], kernel[3]
        else:
            continue
        rank = max(1, int(rank_fraction * min(fan_in, fan_out)))
        if rank * (fan_in + fan_out) < fan_in * fan_out:
            saved += fan_in * fan_out - rank * (fan_in + fan_out)
    return 1.0 - saved / max(1, info.params) if saved else None
