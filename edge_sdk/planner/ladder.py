"""The candidate ladder: every plan worth trying for one model on one profile, cheapest first.

Order (cost to apply, then expected quality loss), per the target's capabilities:

    float32 -> float16 -> dynamic-int8            (only where the target runs float ops)
    int8 PTQ -> int8 with sensitive layers float  (the latter only where float ops are allowed)
    QAT int8 (label-free) -> prune 50/80% + sparsity-preserving QAT -> cluster 16 + CQAT
    -> low-rank + QAT -> distill to width 0.75 / 0.5 / 0.35 + QAT

Core ML targets replace the TFLite precisions with Core ML's: float16 compute, then weight compression
(8-bit linear, 6- and 4-bit palettization, sparse + 4-bit palettization). PyTorch models get the
ExecuTorch precisions; technique names are the same for both frameworks (a step runs the
implementation of the model's framework). Each candidate carries its cost-model estimate; the
search discards those whose estimate breaks a hard budget before any training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edge_sdk.model.types import ModelInfo
from edge_sdk.planner.fit import check_fit
from edge_sdk.profiles import Profile

DISTILL_WIDTHS = (0.75, 0.5, 0.35)


@dataclass(frozen=True)
class Step:
    technique: str
    params: dict[str, Any] = field(default_factory=dict)

    def key(self) -> tuple:
        return (self.technique, tuple(sorted((k, repr(v)) for k, v in self.params.items())))

    def to_dict(self) -> dict:
        return {"technique": self.technique, "params": dict(self.params)}


@dataclass(frozen=True)
class Candidate:
    """One rung: training steps, then export at `precision` (and Core ML weight compression)."""

    name: str
    fmt: str
    precision: str
    steps: tuple[Step, ...] = ()
    coreml_compression: str | None = None
    # cost-model inputs: how the steps change params, MACs, activations and zero fraction
    params_scale: float = 1.0
    macs_scale: float = 1.0
    activation_scale: float = 1.0
    sparsity: float = 0.0
    trains: bool = False

    @property
    def io_dtype(self) -> str:
        return "int8" if self.fmt == "tflm" else "float32"

    def plan_steps(self) -> list[dict]:
        """Every step including the export-time quantization, as report.json `plan.steps` lists them."""
        steps = [s.to_dict() for s in self.steps]
        export = {"technique": "export", "params": {"format": self.fmt, "precision": self.precision}}
        if self.coreml_compression:
            export["params"]["coreml_compression"] = self.coreml_compression
        return steps + [export]


def _dense_lowrank_scale(info: ModelInfo, rank_fraction: float) -> float:
    """Params after factorising every Dense kernel (in x out) into rank r = rank_fraction * min(in, out)."""
    saved = 0
    for layer in info.layers:
        if layer.kind != "dense" or not layer.weight_shapes:
            continue
        fan_in, fan_out = layer.weight_shapes[0][-2], layer.weight_shapes[0][-1]
        rank = max(1, int(rank_fraction * min(fan_in, fan_out)))
        if rank * (fan_in + fan_out) < fan_in * fan_out:
            saved += fan_in * fan_out - rank * (fan_in + fan_out)
    return 1.0 - saved / max(1, info.params)


def _keras_int_rungs(info: ModelInfo, fmt: str, allows_float: bool) -> list[Candidate]:
    qat = Step("qat", {})
    rungs = [Candidate("int8", fmt, "int8", (Step("ptq", {"mode": "int8"}),))]
    if allows_float:
        rungs.append(Candidate("int8-mixed", fmt, "int8-mixed", (Step("ptq", {"mode": "int8-mixed"}),)))
    rungs += [
        Candidate("qat-int8", fmt, "int8", (qat,), trains=True),
        Candidate("prune50-qat-int8", fmt, "int8", (Step("prune", {"sparsity": 0.5, "qat": True}),), sparsity=0.5, trains=True),
        Candidate("prune80-qat-int8", fmt, "int8", (Step("prune", {"sparsity": 0.8, "qat": True}),), sparsity=0.8, trains=True),
        Candidate("cluster16-qat-int8", fmt, "int8", (Step("cluster", {"clusters": 16, "qat": True}),), trains=True),
        Candidate(
            "lowrank-qat-int8", fmt, "int8", (Step("lowrank", {"rank_fraction": 0.25}), qat),
            params_scale=_dense_lowrank_scale(info, 0.25), trains=True,
        ),
    ]
    for w in DISTILL_WIDTHS:
        rungs.append(
            Candidate(
                f"distill{w}-qat-int8", fmt, "int8", (Step("distill", {"width": w}), qat),
                params_scale=w * w, macs_scale=w * w, activation_scale=w, trains=True,
            )
        )
    return rungs


def _coreml_rungs(profile: Profile) -> list[Candidate]:
    from edge_sdk.export.coreml import SPEC_VERSION, deployment

    # joint sparse + palettized weights need the iOS18 opset; older targets get plain sparse storage
    joint = SPEC_VERSION.get(deployment(profile)[0], 0) >= SPEC_VERSION["iOS18"]
    sparse = "sparse-palettize4" if joint else "sparse"
    rungs = [
        Candidate("fp16", "coreml", "float16"),
        Candidate("fp16-linear8", "coreml", "float16", coreml_compression="linear8"),
        Candidate("fp16-palettize6", "coreml", "float16", coreml_compression="palettize6"),
        Candidate("fp16-palettize4", "coreml", "float16", coreml_compression="palettize4"),
        Candidate(
            f"prune50-fp16-{sparse}", "coreml", "float16", (Step("prune", {"sparsity": 0.5}),),
            coreml_compression=sparse, sparsity=0.5, trains=True,
        ),
    ]
    for w in DISTILL_WIDTHS:
        rungs.append(
            Candidate(
                f"distill{w}-fp16-palettize4", "coreml", "float16", (Step("distill", {"width": w}),),
                coreml_compression="palettize4", params_scale=w * w, macs_scale=w * w, activation_scale=w, trains=True,
            )
        )
    return rungs


def _torch_rungs(fmt: str, allows_float: bool) -> list[Candidate]:
    rungs = []
    if allows_float:
        rungs.append(Candidate("fp32", fmt, "float32"))
        rungs.append(Candidate("dynamic-int8", fmt, "dynamic-int8", (Step("ptq", {"mode": "dynamic-int8"}),)))
    rungs += [
        Candidate("int8", fmt, "int8", (Step("ptq", {}),)),
        Candidate("qat-int8", fmt, "int8", (Step("qat", {}),), trains=True),
        Candidate(
            "prune50-int8", fmt, "int8", (Step("prune", {"sparsity": 0.5}), Step("ptq", {})),
            sparsity=0.5, trains=True,
        ),
    ]
    for w in DISTILL_WIDTHS:
        rungs.append(
            Candidate(
                f"distill{w}-int8", fmt, "int8", (Step("distill", {"width": w}), Step("ptq", {})),
                params_scale=w * w, macs_scale=w * w, activation_scale=w, trains=True,
            )
        )
    return rungs


def build_ladder(info: ModelInfo, profile: Profile) -> list[Candidate]:
    fit = check_fit(info, profile)
    fit.raise_for_unsupported()  # no format, or ops the target lacks: compression cannot fix either
    fmt = fit.fmt
    dtypes = set(profile.runtime.dtypes)
    allows_float = not profile.int8_only and fmt != "tflm"
    if info.framework == "torch" and fmt == "coreml":
        # coremltools converts float programs only: Core ML's own weight compression, not pt2e int8
        return _coreml_rungs(profile)
    if info.framework == "torch" and fmt == "pte-coreml":
        return [Candidate("fp32", fmt, "float32")] + [
            Candidate(f"distill{w}-fp32", fmt, "float32", (Step("distill", {"width": w}),),
                      params_scale=w * w, macs_scale=w * w, activation_scale=w, trains=True)
            for w in DISTILL_WIDTHS
        ]
    if info.framework == "torch":
        return _torch_rungs(fmt, allows_float)
    if fmt == "coreml":
        return _coreml_rungs(profile)
    rungs: list[Candidate] = []
    if allows_float:
        if "float32" in dtypes:
            rungs.append(Candidate("fp32", fmt, "float32"))
        if "float16" in dtypes:
            rungs.append(Candidate("fp16", fmt, "float16"))
        rungs.append(Candidate("dynamic-int8", fmt, "dynamic-int8"))
    if "int8" in dtypes:
        rungs += _keras_int_rungs(info, fmt, allows_float)
    return rungs
