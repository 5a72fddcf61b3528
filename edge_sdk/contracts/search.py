"""What one target's search decided: an `Attempt` per rung and the `SearchResult` that picks one.

An attempt is made once, with its verdict, and never changed: a later decision (a Pareto front, the
final choice) makes a new attempt with `dataclasses.replace`.

Statuses: `accepted` (meets every budget; the chosen one), `pareto` (on the Pareto front, not chosen),
`rejected` (built and measured, misses a budget or verification), `discarded` (not built: its estimate
breaks a hard budget), `failed` (the task ended in an error, a signal or the time limit: see `error`),
`not_tried` (first-fit accepted an earlier rung).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edge_sdk.contracts.budgets import BudgetCheck
from edge_sdk.contracts.task import TaskError, TaskResult
from edge_sdk.contracts.records import Artifact, StepRecord, Verification

if TYPE_CHECKING:
    from edge_sdk.planner.estimate import Estimate
    from edge_sdk.contracts.plan import Candidate


@dataclass(frozen=True)
class Attempt:
    candidate: "Candidate"
    estimate: "Estimate"
    status: str
    reason: str
    checks: tuple[BudgetCheck, ...] = ()
    result: TaskResult | None = None

    @property
    def artifact(self) -> Artifact | None:
        return self.result.artifact if self.result is not None else None

    @property
    def verification(self) -> Verification | None:
        return self.result.verification if self.result is not None else None

    @property
    def records(self) -> tuple[StepRecord, ...]:
        return self.result.records if self.result is not None else ()

    @property
    def error(self) -> TaskError | None:
        return self.result.error if self.result is not None else None

    @property
    def built(self) -> bool:
        return self.result is not None and self.result.built

    def check(self, name: str) -> BudgetCheck | None:
        return next((c for c in self.checks if c.name == name), None)

    def quality(self) -> dict[str, Any]:
        v = self.verification
        if v is None:
            return {}
        if v.fidelity is None:
            return {"fidelity": "not_measured"}
        out: dict[str, Any] = {"top1_agreement": v.fidelity.top1_agreement, "cosine": v.fidelity.cosine,
                               "sqnr_db": v.fidelity.sqnr_db}
        if v.fidelity.outputs:  # the first output's task metric: what the Pareto front and charts rank by
            from edge_sdk.fidelity import PRIMARY

            first = v.fidelity.outputs[0]
            metric = PRIMARY[first.kind]
            out["primary"] = {"output": first.output, "metric": metric, "value": first.metrics.get(metric)}
        if v.accuracy is not None:
            out.update(accuracy=v.accuracy.compressed, reference_accuracy=v.accuracy.reference, drop=v.accuracy.drop)
        return out

    def measured(self) -> dict[str, Any]:
        a = self.artifact
        if a is None:
            return {}
        out: dict[str, Any] = {"flash_bytes": a.flash_bytes, "gzip_bytes": a.gzip_bytes}
        if a.arena is not None and a.arena.measured:  # an estimated arena is not a measurement
            out.update(arena_bytes=a.arena.bytes, arena_bytes_measured=a.arena.basis_bytes, ram_bytes=a.arena.bytes)
        measured = self.verification.measured if self.verification is not None else {}
        for key in ("host_latency_ms", "latency_ms"):
            if key in measured:
                out["host_latency_ms"] = measured[key]
        on_device = next((c.measured for c in self.checks if c.name == "latency_ms" and c.measured is not None), None)
        if on_device is not None:  # `edge-sdk bench` on the profile's device, same artifact (planner/measured.py)
            out["latency_ms"] = on_device
        return out

    def worst_violation(self) -> float:
        """Largest relative budget miss (0 when every budget is met)."""
        return max([c.over_by_ratio for c in self.checks] + [0.0])

    def total_miss(self) -> float:
        """Sum of the relative misses over every budget: how "best infeasible" ranks built candidates."""
        return sum(c.over_by_ratio for c in self.checks)

    def to_dict(self) -> dict:
        c = self.candidate
        return {
            "name": c.name,
            "format": c.fmt,
            "precision": c.precision,
            "steps": c.plan_steps(),
            "estimates": self.estimate.to_dict(),
            "measured": self.measured(),
            "quality": self.quality(),
            "budgets": {check.name: check.to_dict() for check in self.checks},
            "status": self.status,
            "reason": self.reason,
            "error": None if self.error is None else self.error.to_dict(),
            "artifact": None if self.artifact is None else self.artifact.to_dict(),
            "records": [r.to_dict() for r in self.records],
            "wall_s": round(self.result.wall_s, 3) if self.result is not None else 0.0,
            "cache_hits": self.result.cache_hits if self.result is not None else 0,
            "cache_discarded": self.result.cache_discarded if self.result is not None else 0,
            "runs": [r.to_dict() for r in self.result.runs] if self.result is not None else [],
        }


@dataclass(frozen=True)
class SearchResult:
    attempts: tuple[Attempt, ...]
    chosen: Attempt | None  # accepted (feasible) or, failing that, the best infeasible one built
    feasible: bool
    binding_constraint: dict | None = None
    pareto: tuple[Attempt, ...] = ()

    @property
    def internal_errors(self) -> tuple[Attempt, ...]:
        """Attempts that ended in a bug (ours or a library's), which the CLI must not hide."""
        return tuple(a for a in self.attempts if a.error is not None and a.error.internal)

    def timings_s(self) -> dict[str, float]:
        stages = ("compress", "export", "verify")
        return {k: sum(a.result.timings_s.get(k, 0.0) for a in self.attempts if a.result is not None) for k in stages}
