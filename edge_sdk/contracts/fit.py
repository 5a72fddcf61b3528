"""What the fit check found: ops and dtypes the target lacks, and float32 / int8 estimates against the
budgets (edge_sdk/planner/fit.py computes it once per target; the ladder and `inspect` read it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from edge_sdk.contracts.budgets import BudgetCheck, Budgets
from edge_sdk.errors import UnsupportedOpError

if TYPE_CHECKING:
    from edge_sdk.planner.estimate import Estimate


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
            from edge_sdk.formats import producible_formats

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
