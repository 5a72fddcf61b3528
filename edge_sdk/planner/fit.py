"""Does a model fit a target as it is? Ops and dtypes the runtime cannot run, and the cost model's
flash / RAM / latency for float32 and int8 against the budgets, each marked ok or over and by how much.

The check uses the first format in the profile's preference order that the model's framework can
produce, and that format's op vocabulary (TFLite builtins, Core ML MIL ops or aten ops).
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_sdk.errors import UnsupportedOpError
from edge_sdk.formats import FORMATS, producible_formats
from edge_sdk.frameworks import FRONTENDS
from edge_sdk.model.types import ModelInfo
from edge_sdk.contracts.budgets import BudgetCheck, Budgets
from edge_sdk.planner.estimate import Estimate, compute_dtype, estimate
from edge_sdk.profiles import OP_NAMESPACE, Profile

CHECKED_PRECISIONS = ("float32", "int8")


@dataclass(frozen=True)
class OpIssue:
    layer: str
    op: str  # the framework's op (layer class)
    runtime_op: str  # the runtime op the target lacks


@dataclass(frozen=True)
class DtypeIssue:
    dtype: str
    fix: str


@dataclass(frozen=True)
class PrecisionFit:
    precision: str
    runnable: bool
    reason: str  # why not runnable ("" when runnable)
    estimate: Estimate
    checks: tuple[BudgetCheck, ...]

    @property
    def ok(self) -> bool:
        """Runnable, within flash and RAM, and the fastest unit within the latency budget."""
        if not self.runnable:
            return False
        best = self.estimate.best_unit
        return all(c.ok for c in self.checks if c.name != "latency_ms" or c.unit == best)

    def to_dict(self) -> dict:
        return {
            "precision": self.precision,
            "runnable": self.runnable,
            "reason": self.reason,
            "ok": self.ok,
            "estimate": self.estimate.to_dict(),
            "checks": [c.to_dict() for c in self.checks],
        }


@dataclass(frozen=True)
class FitReport:
    target: str
    family: str
    framework: str
    fmt: str | None  # None when the framework can produce none of the profile's formats
    ops_checked: bool  # False when the profile lists no ops in this format's vocabulary
    unsupported_ops: tuple[OpIssue, ...]
    unsupported_dtypes: tuple[DtypeIssue, ...]
    rows: tuple[PrecisionFit, ...]
    budgets: Budgets
    fallback_ops: tuple[OpIssue, ...] = ()  # run, but outside the accelerated op set (ExecuTorch portable kernels)

    @property
    def ok(self) -> bool:
        """The model runs on the target as exported at some checked precision, within every budget."""
        return self.fmt is not None and not self.unsupported_ops and any(r.ok for r in self.rows)

    def raise_for_unsupported(self) -> None:
        """UnsupportedOpError naming the layers whose ops the target lacks (no compression fixes those)."""
        if self.fmt is None:
            producible = ", ".join(producible_formats().get(self.framework, ()))
            raise UnsupportedOpError(
                f"target {self.target} runs no format a {self.framework} model can be exported to "
                f"(this model: {producible}); pick another target"
            )
        if self.unsupported_ops:
            listed = ", ".join(f"{o.layer} ({o.op} -> {o.runtime_op})" for o in self.unsupported_ops[:6])
            more = f" and {len(self.unsupported_ops) - 6} more" if len(self.unsupported_ops) > 6 else ""
            raise UnsupportedOpError(
                f"target {self.target} ({self.fmt}) cannot run layer {listed}{more}; replace those layers "
                "with supported ones or pick another target (see `edge-sdk inspect MODEL --target ...`)"
            )

    def to_dict(self) -> dict:
        return {
            "target": self.target,
            "family": self.family,
            "framework": self.framework,
            "format": self.fmt,
            "ok": self.ok,
            "ops_checked": self.ops_checked,
            "unsupported_ops": [o.__dict__ for o in self.unsupported_ops],
            "unsupported_dtypes": [d.__dict__ for d in self.unsupported_dtypes],
            "fallback_ops": [o.__dict__ for o in self.fallback_ops],
            "budgets": self.budgets.to_dict(),
            "estimates": [r.to_dict() for r in self.rows],
        }


def choose_format(framework: str, profile: Profile) -> str | None:
    """The first of the profile's formats (in its preference order) the framework can produce."""
    producible = producible_formats().get(framework, ())
    return next((f for f in profile.runtime.formats if f in producible), None)


def check_fit(info: ModelInfo, profile: Profile, budgets: Budgets | None = None) -> FitReport:
    budgets = budgets or Budgets.from_profile(profile)
    fmt = choose_format(info.framework, profile)
    ops_checked, op_issues, fallback, rows = False, (), (), ()
    if fmt is not None:
        supported = profile.ops_for(fmt)
        ops_checked = bool(supported)
        if ops_checked:
            op_issues = _unsupported_ops(info, OP_NAMESPACE[fmt], supported)
        if FORMATS.get(fmt).portable_fallback:  # ops outside the profile's list run, slower, not unsupported
            fallback, op_issues = op_issues, ()
        rows = tuple(_precision_fit(info, profile, fmt, p, budgets) for p in _precisions(info))
    return FitReport(
        target=profile.name,
        family=profile.family,
        framework=info.framework,
        fmt=fmt,
        ops_checked=ops_checked,
        unsupported_ops=op_issues,
        unsupported_dtypes=_unsupported_dtypes(info, profile),
        rows=rows,
        budgets=budgets,
        fallback_ops=fallback,
    )


def _precisions(info: ModelInfo) -> tuple[str, ...]:
    """An already converted model (a .tflite file): only its own precision is meaningful."""
    if FRONTENDS.get(info.framework).converted:
        return ("int8",) if "int8" in info.dtypes else ("float32",)
    return CHECKED_PRECISIONS


def _unsupported_ops(info: ModelInfo, namespace: str, supported: frozenset[str]) -> tuple[OpIssue, ...]:
    op_of = {l.name: l.op for l in info.layers}
    return tuple(
        OpIssue(layer, op_of[layer], op)
        for layer, ops in info.runtime_ops(namespace).items()
        for op in ops
        if op not in supported
    )


def _unsupported_dtypes(info: ModelInfo, profile: Profile) -> tuple[DtypeIssue, ...]:
    runs = set(profile.runtime.dtypes)
    model_dtypes = info.dtypes or tuple(sorted({s.dtype for s in info.inputs if s.dtype.startswith("float")}))
    issues = []
    for dtype in model_dtypes:
        if dtype in runs or dtype not in ("float32", "float16", "int8", "int16"):
            continue
        if "int8" in runs:
            fix = "quantize to int8 (edge-sdk build does this with your calibration data)"
        else:
            fix = f"convert to one of {', '.join(profile.runtime.dtypes)}"
        issues.append(DtypeIssue(dtype, fix))
    return tuple(issues)


def _runnable(profile: Profile, precision: str, est: Estimate) -> str:
    """Why the target cannot run this precision ("" if it can)."""
    dtype = compute_dtype(precision)
    runs = set(profile.runtime.dtypes)
    needs = {"float16": {"float16", "float32"}, "int16": {"int16"}}.get(dtype, {dtype})
    if not runs & needs:
        return f"{profile.name} runs {', '.join(profile.runtime.dtypes)} only; {precision} needs {dtype} kernels"
    if not est.latency_ms:
        return f"no compute unit of {profile.name} runs {dtype}"
    return ""


def _precision_fit(info: ModelInfo, profile: Profile, fmt: str, precision: str, budgets: Budgets) -> PrecisionFit:
    est = estimate(info, profile, fmt=fmt, precision=precision)
    reason = _runnable(profile, precision, est)
    checks = [
        BudgetCheck("flash_bytes", budgets.flash_bytes, est.flash_bytes),
        BudgetCheck("ram_bytes", budgets.ram_bytes, est.ram_bytes),
    ]
    checks += [BudgetCheck("latency_ms", budgets.latency_ms, ms, unit=unit) for unit, ms in est.latency_ms.items()]
    return PrecisionFit(precision, not reason, reason, est, tuple(checks))
