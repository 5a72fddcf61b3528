"""Does a model fit a target as it is? Ops and dtypes the runtime cannot run, and the cost model's
flash / RAM / latency for float32 and int8 against the budgets, each marked ok or over and by how much.

The check uses the first format in the profile's preference order that the model's framework can
produce and whose op vocabulary (TFLite builtins, Core ML MIL ops, aten ops, ONNX operators) holds every
op of the model, so a Jetson builds for its GPU (onnx, TensorRT) when TensorRT parses every layer and
for its CPU (pte, tflite) otherwise. When no format holds every op, the first producible one is
checked and its missing ops reported.
"""

from __future__ import annotations


from edge_sdk.formats import FORMATS, producible_formats
from edge_sdk.frameworks import FRONTENDS
from edge_sdk.contracts.model import ModelInfo
from edge_sdk.contracts.budgets import BudgetCheck, Budgets
from edge_sdk.contracts.fit import DtypeIssue, FitReport, OpIssue, PrecisionFit
from edge_sdk.planner.estimate import Estimate, compute_dtype, estimate
from edge_sdk.profiles import OP_NAMESPACE, Profile

CHECKED_PRECISIONS = ("float32", "int8")


def choose_format(framework: str, profile: Profile) -> str | None:
    """The first of the profile's formats (in its preference order) the framework can produce."""
    producible = producible_formats().get(framework, ())
    return next((f for f in profile.runtime.formats if f in producible), None)


def format_for(info: ModelInfo, profile: Profile) -> str | None:
    """The first producible format (preference order) that runs every op of the model, else the first
    producible one (None: the framework produces none of the profile's formats)."""
    producible = producible_formats().get(info.framework, ())
    candidates = [f for f in profile.runtime.formats if f in producible]
    for fmt in candidates:
        supported = profile.ops_for(fmt)
        if not supported or FORMATS.get(fmt).portable_fallback or not _unsupported_ops(info, OP_NAMESPACE[fmt], supported):
            return fmt
    return candidates[0] if candidates else None


def check_fit(info: ModelInfo, profile: Profile, budgets: Budgets | None = None) -> FitReport:
    budgets = budgets or Budgets.from_profile(profile)
    fmt = format_for(info, profile)
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
    checks += [BudgetCheck("latency_ms", budgets.latency_ms, ms, unit=unit, band=est.latency_band_ms.get(unit),
                           check_on=budgets.latency_check or "lower") for unit, ms in est.latency_ms.items()]
    return PrecisionFit(precision, not reason, reason, est, tuple(checks))
