"""A ladder's rungs: a `Candidate` is training `Step`s, then an export at a precision.

A Step names a framework-neutral technique (`ptq`, `prune`, ...): its Candidate's `framework` says which
implementation (and which declared config) it means, so a plan file is checked before the model loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Step:
    technique: str
    params: dict[str, Any] = field(default_factory=dict)

    def key(self) -> tuple:
        return (self.technique, tuple(sorted((k, repr(v)) for k, v in self.params.items())))

    def to_dict(self) -> dict:
        return {"technique": self.technique, "params": dict(self.params)}

    def describe(self) -> str:
        """For people (progress lines, MODEL_CARD.md): `qat epochs=2, lr=0.0005`, not a Python dict."""
        return describe_step(self.technique, self.params)


def describe_step(technique: str, params: dict[str, Any] | None) -> str:
    """`technique k=v, k=v` (keys sorted), or the technique alone without parameters."""
    shown = ", ".join(f"{k}={v}" for k, v in sorted((params or {}).items()))
    return f"{technique} {shown}".rstrip()


@dataclass(frozen=True)
class Candidate:
    """One rung: training steps, then export at `precision` (and Core ML weight compression)."""

    name: str
    fmt: str
    precision: str
    steps: tuple[Step, ...] = ()
    coreml_compression: str | None = None
    # TFLite int8 export: FULLY_CONNECTED weights with one scale per tensor instead of per output channel
    # (TFLM keeps two int32 multipliers per channel of a per-channel layer in its arena)
    dense_per_tensor: bool = False
    # TFLite int8 export tuned per model: activation ranges chosen among min-max, percentile and MSE,
    # then weight-rounding bias correction, each kept where it measures better on the calibration data
    tuned: bool = False
    # cost-model inputs: how the steps change params, MACs, activations and zero fraction
    params_scale: float = 1.0
    macs_scale: float = 1.0
    activation_scale: float = 1.0
    sparsity: float = 0.0
    trains: bool = False
    framework: str = field(kw_only=True)  # the model's framework: whose techniques the steps run

    @property
    def io_dtype(self) -> str:
        """Integer I/O on TFLM (no float tensors on an integer-only target): int16 for 16x8 models."""
        if self.fmt != "tflm":
            return "float32"
        return "int16" if self.precision == "int16x8" else "int8"

    def plan_steps(self) -> list[dict]:
        """Every step including the export-time quantization, as report.json `plan.steps` lists them."""
        steps = [s.to_dict() for s in self.steps]
        export = {"technique": "export", "params": {"format": self.fmt, "precision": self.precision}}
        if self.coreml_compression:
            export["params"]["coreml_compression"] = self.coreml_compression
        if self.dense_per_tensor:
            export["params"]["dense_weights"] = "per-tensor"
        if self.tuned:
            export["params"]["tuned"] = True
        return steps + [export]
