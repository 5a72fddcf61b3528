"""Rungs every framework's ladder shares (the distillation widths); `Candidate` and `Step` themselves
are contracts (edge_sdk/contracts/plan.py). The generic order lives in ladder.py; the framework-specific
rung lists in `edge_sdk/frameworks/<name>/rungs.py`."""

from __future__ import annotations

from typing import Any, Callable

from edge_sdk.contracts.model import LayerInfo, ModelInfo
from edge_sdk.contracts.plan import Candidate, Step

DISTILL_WIDTHS = (0.75, 0.5, 0.35)  # the student widths every ladder tries, widest first


def distill_rungs(framework: str, suffix: str, fmt: str, precision: str, then: tuple[Step, ...] = (), **export: Any) -> list[Candidate]:
    """One rung per width in DISTILL_WIDTHS: distill to width w (params and MACs scale by w^2,
    activations by w), then the steps `then`; `export` sets e.g. coreml_compression."""
    return [
        Candidate(
            f"distill{w}-{suffix}", fmt, precision, (Step("distill", {"width": w}), *then),
            params_scale=w * w, macs_scale=w * w, activation_scale=w, trains=True, framework=framework, **export,
        )
        for w in DISTILL_WIDTHS
    ]


WIDTH_KINDS = ("conv", "separable", "dense")  # LayerInfo kinds whose weights set their output width


def width_scales(info: ModelInfo, keep: float) -> dict[str, float]:
    """The cost-model inputs (params_scale, macs_scale, activation_scale) of keeping `keep` of the
    channels of every conv/dense layer whose width does not reach an output (channel pruning).

    Per layer: a conv/dense scales by keep for its narrowed input and again for its narrowed output
    (the first layer reads the model's input whole, the layer feeding an output keeps its width);
    other layers (BN, depthwise, pooling, activations) scale with the channels they carry."""
    by_name = {layer.name: layer for layer in info.layers}
    fixed, seen, frontier = set(), set(), list(info.output_names)
    while frontier:  # walk back from each output to the layers that set its width
        name = frontier.pop()
        if name in seen or name not in by_name:
            continue
        seen.add(name)
        layer = by_name[name]
        if layer.kind in WIDTH_KINDS:
            fixed.add(name)
        else:
            frontier += layer.inputs
    narrowed: dict[str, bool] = {}
    params = macs = elems = 0.0
    for layer in info.layers:  # analysis order is topological
        reads = keep if any(narrowed.get(i) for i in layer.inputs) else 1.0
        if layer.kind in WIDTH_KINDS:
            narrowed[layer.name] = layer.name not in fixed
        else:
            narrowed[layer.name] = layer.kind != "input" and reads < 1.0
        writes = keep if narrowed[layer.name] else 1.0
        scale = reads * writes if layer.kind in WIDTH_KINDS else writes
        params += layer.params * scale
        macs += layer.macs * scale
        elems += layer.output_elems * writes
    total_elems = sum(layer.output_elems for layer in info.layers)
    return {
        "params_scale": params / max(1, info.params),
        "macs_scale": macs / max(1, info.macs),
        "activation_scale": elems / max(1, total_elems),
    }


DECOMPOSE_MACS_RATIO = 0.5  # the ladder's decomposition rungs keep half of each decomposed conv's MACs
DECOMPOSE_MIN_SHARE = 0.25  # ... and are tried only where decomposable convs hold this share of the MACs


def decomposition_scales(info: ModelInfo, method: str, geometry: Callable[[LayerInfo], Any]) -> dict[str, float] | None:
    """(params_scale, macs_scale) of the `decompose` step at DECOMPOSE_MACS_RATIO, from shapes alone
    (techniques/conv_decomposition.py chooses the same ranks); None where decomposable convs (those
    `geometry` gives a ConvGeometry for, output layers left whole) hold too few of the model's MACs for
    the rung to be worth its training. Extra activations of the chains are not charged."""
    from edge_sdk.techniques import conv_decomposition as cd

    keys = cd.DecompositionKeys(method=method, macs_ratio=DECOMPOSE_MACS_RATIO)
    covered = saved_macs = saved_params = 0
    for layer in info.layers:
        shape = None if layer.name in info.output_names else geometry(layer)
        if shape is None:
            continue
        macs, params = cd.decomposed_cost(shape, method, cd.ranks_for(shape, keys))
        if macs < shape.macs:
            covered += shape.macs
            saved_macs += shape.macs - macs
            saved_params += shape.kh * shape.kw * shape.cin * shape.cout - params
    if not covered or covered < DECOMPOSE_MIN_SHARE * info.macs:
        return None
    return {"params_scale": 1.0 - saved_params / max(1, info.params), "macs_scale": 1.0 - saved_macs / max(1, info.macs)}
