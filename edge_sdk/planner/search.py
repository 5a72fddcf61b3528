"""The search policy: which rungs to build, in what order, and which result to keep.

It builds nothing itself. Each rung that its estimate does not rule out becomes a `Task`, submitted to
an executor (`edge_sdk.pipeline.executors`: in-process, a local process pool, ...), which returns a
`TaskResult`; the policy judges it against the budgets. `first-fit` accepts the first rung that meets
every budget; `pareto` evaluates every rung and keeps the (size, quality) Pareto set.

Decisions are made strictly in ladder order, each from the results of the rungs before it, so the
outcome does not depend on how many workers there are: with `jobs > 1` the rungs after the current one
that the current estimates would build run speculatively, a worker that finishes one taking the next
while the current rung still runs, and a speculative result is used only if the in-order decision
builds that rung too (otherwise it is cancelled or dropped).
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping

from edge_sdk.contracts.budgets import BudgetCheck, Budgets
from edge_sdk.contracts.search import Attempt, SearchResult
from edge_sdk.contracts.records import Verification
from edge_sdk.contracts.task import Executor, Task, TaskResult
from edge_sdk.fidelity import LOWER_IS_BETTER
from edge_sdk.contracts.model import ModelInfo
from edge_sdk.pareto import pareto_front
from edge_sdk.planner.estimate import Estimate, estimate
from edge_sdk.contracts.plan import Candidate
from edge_sdk.profiles import Profile

Progress = Callable[[str], None]
HARD = ("flash_bytes", "ram_bytes", "latency_ms")
UNTRAINED_TRY_RATIO = 1.5  # an untrained rung estimated within 1.5x of a hard budget is built and measured


def candidate_estimate(info: ModelInfo, profile: Profile, cand: Candidate, result: TaskResult | None = None) -> Estimate:
    """The rung's estimate; with its built `result`, what only the build knows is charged too (int8-mixed:
    the MACs of the ops its search kept float run at the float rate)."""
    artifact = result.artifact if result is not None else None
    floating = artifact.details.get("float_macs_fraction", 0.0) if artifact is not None else 0.0
    return estimate(
        info, profile, fmt=cand.fmt, precision=_estimate_precision(cand),
        params_scale=cand.params_scale, macs_scale=cand.macs_scale,
        sparsity=cand.sparsity, activation_scale=cand.activation_scale, dense_per_tensor=cand.dense_per_tensor,
        float_macs_fraction=floating,
    )


def _estimate_precision(cand: Candidate) -> str:
    if cand.coreml_compression in ("palettize4", "sparse-palettize4"):
        return "palettize4"
    if cand.coreml_compression == "palettize6":
        return "palettize6"
    if cand.coreml_compression == "linear8":
        return "dynamic-int8"
    return "int8" if cand.precision == "int8-mixed" else cand.precision


def evaluate_budgets(budgets: Budgets, est: Estimate, result: TaskResult | None,
                     measured_latency_ms: Mapping[str, float] | None = None) -> tuple[BudgetCheck, ...]:
    """Every budget checked with the measurement where the result has one (latency: where the device
    measured this very artifact), else the estimate (latency: the end of its error band that
    `budgets.latency_check` names, where the unit is calibrated)."""
    artifact = result.artifact if result is not None else None
    verification = result.verification if result is not None else None
    arena = artifact.arena if artifact is not None else None
    ram_estimate = arena.bytes if arena is not None and not arena.measured else est.ram_bytes
    checks = [
        BudgetCheck("flash_bytes", budgets.flash_bytes, est.flash_bytes, artifact.flash_bytes if artifact else None),
        BudgetCheck("ram_bytes", budgets.ram_bytes, ram_estimate, arena.bytes if arena is not None and arena.measured else None),
        BudgetCheck("latency_ms", budgets.latency_ms, est.best_latency_ms,
                    (measured_latency_ms or {}).get(artifact.sha256) if artifact is not None else None,
                    band=est.best_latency_band_ms, check_on=budgets.latency_check or "lower"),
    ]
    if verification is not None and verification.accuracy is not None and budgets.max_accuracy_drop is not None:
        checks.append(BudgetCheck("accuracy", budgets.max_accuracy_drop, measured=verification.accuracy.drop,
                                  needs_measurement=True))
    elif budgets.min_fidelity:
        checks.append(fidelity_check(budgets.min_fidelity, verification))
    return tuple(checks)


def fidelity_check(limits: dict[str, float], verification: Verification | None) -> BudgetCheck:
    """The binding fidelity budget: of every output's metrics that have a limit, the one that misses
    by the most (or, all met, the one closest to its limit); `not_measured` without a measurement."""
    fid = verification.fidelity if verification is not None else None
    candidates = [
        BudgetCheck("fidelity", limits[metric], measured=value, higher_is_better=metric not in LOWER_IS_BETTER,
                    needs_measurement=True, detail=f"{out.output} ({out.kind}) {metric}")
        for out in (fid.outputs if fid is not None else ())
        for metric, value in out.metrics.items()
        if metric in limits
    ]
    if not candidates:
        primary = min(limits, key=lambda m: m != "top1_agreement")  # what an unmeasured check names
        return BudgetCheck("fidelity", limits[primary], needs_measurement=True, detail=primary,
                           measured=None if fid is None else fid.top1_agreement)
    return max(candidates, key=lambda c: (c.over_by_ratio, -_margin(c)))


def _margin(check: BudgetCheck) -> float:
    value, limit = check.measured or 0.0, check.limit or 1.0
    return (limit - value) / limit if not check.higher_is_better else (value - limit) / abs(limit)


def discard_reason(cand: Candidate, checks: tuple[BudgetCheck, ...]) -> str | None:
    """Why a rung is not worth building, from its estimates; None when it should be built.

    A rung that trains is discarded as soon as an estimate breaks a hard budget (training is the
    expensive part). An untrained rung is cheap, so it is built and measured unless its estimate is
    more than UNTRAINED_TRY_RATIO over: estimates on an unseen architecture can be off by tens of %.
    """
    broken = [c for c in checks if c.name in HARD and not c.ok]
    hopeless = [c for c in broken if c.over_by_ratio > UNTRAINED_TRY_RATIO - 1]
    if (broken and cand.trains) or hopeless:
        return "estimate over budget: " + "; ".join(c.describe() for c in broken)
    return None


@dataclass
class EstimateCorrections:
    """measured / estimated flash and arena of the latest built rung per format, applied to the
    estimates of later rungs: a measurement on this very model beats a formula calibrated on others."""

    ratios: dict[str, dict[str, float]] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)

    def learn(self, attempt: Attempt) -> None:
        if not attempt.built:
            return
        measured, est = attempt.measured(), attempt.estimate
        ratios = {"flash_bytes": measured["flash_bytes"] / est.flash_bytes}
        if est.arena_bytes and measured.get("arena_bytes"):
            ratios["arena_bytes"] = measured["arena_bytes"] / est.arena_bytes
        self.ratios[attempt.candidate.fmt] = ratios
        self.source[attempt.candidate.fmt] = attempt.candidate.name

    def apply(self, est: Estimate, fmt: str) -> Estimate:
        ratios = self.ratios.get(fmt)
        if not ratios:
            return est
        flash = int(est.flash_bytes * ratios["flash_bytes"])
        if "arena_bytes" in ratios and est.arena_bytes:
            arena = int(est.arena_bytes * ratios["arena_bytes"])
            return replace(est, flash_bytes=flash, arena_bytes=arena, ram_bytes=arena)
        return replace(est, flash_bytes=flash)

    def note(self, fmt: str) -> str:
        ratios = self.ratios.get(fmt)
        if not ratios:
            return ""
        scaled = ", ".join(f"{k} x{v:.2f}" for k, v in ratios.items())
        return f" (estimate corrected by what {self.source[fmt]} measured: {scaled})"


@dataclass(frozen=True)
class SearchSpec:
    """One target's search: the ladder, its estimates' inputs, the budgets and how to make a task."""

    info: ModelInfo
    profile: Profile
    ladder: tuple[Candidate, ...]
    budgets: Budgets
    make_task: Callable[[Candidate], Task]
    mode: str = "first-fit"
    # artifact sha256 -> latency measured on the profile's device (planner/measured.py)
    measured_latency_ms: Mapping[str, float] = field(default_factory=dict)


def judge(cand: Candidate, est: Estimate, result: TaskResult, budgets: Budgets,
          measured_latency_ms: Mapping[str, float] | None = None) -> Attempt:
    """The verdict on a finished task: failed, rejected (and why) or accepted."""
    if result.error is not None:
        return Attempt(cand, est, "failed", result.error.summary(), evaluate_budgets(budgets, est, None), result)
    checks = evaluate_budgets(budgets, est, result, measured_latency_ms)
    missed = [c for c in checks if not c.ok]
    if not result.verification.passed:  # type: ignore[union-attr]
        return Attempt(cand, est, "rejected", f"verification: {result.verification.reason}", checks, result)  # type: ignore[union-attr]
    if missed:
        return Attempt(cand, est, "rejected", "; ".join(c.describe() for c in missed), checks, result)
    return Attempt(cand, est, "accepted", "meets every budget", checks, result)


def run_search(spec: SearchSpec, executor: Executor, say: Progress = lambda _: None) -> SearchResult:
    ladder, n = spec.ladder, len(spec.ladder)
    estimates = [candidate_estimate(spec.info, spec.profile, c) for c in ladder]
    corrections = EstimateCorrections()
    running: dict[int, Future[TaskResult]] = {}

    def submit(i: int) -> None:
        say(f"[{spec.profile.name}] trying {ladder[i].name} ({ladder[i].fmt}, {ladder[i].precision})")
        running[i] = executor.submit(spec.make_task(ladder[i]))

    def to_build(i: int) -> tuple[tuple[BudgetCheck, ...], str | None]:
        checks = evaluate_budgets(spec.budgets, corrections.apply(estimates[i], ladder[i].fmt), None)
        return checks, discard_reason(ladder[i], checks)

    attempts: list[Attempt] = []
    accepted: Attempt | None = None
    for i, cand in enumerate(ladder):
        if accepted is not None and spec.mode == "first-fit":
            attempts.append(Attempt(cand, estimates[i], "not_tried", f"{accepted.candidate.name} was accepted first"))
            continue
        checks, reason = to_build(i)
        if reason:
            if i in running:
                executor.cancel(running.pop(i))
            attempts.append(Attempt(cand, estimates[i], "discarded", reason + corrections.note(cand.fmt), checks))
            continue
        if i not in running:
            submit(i)
        while True:  # keep every worker busy with the rungs most likely next until rung i is done
            for j in range(i + 1, n):
                if sum(not f.done() for f in running.values()) >= executor.jobs:
                    break
                if j not in running and to_build(j)[1] is None:
                    submit(j)
            if running[i].done():
                break
            wait([f for f in running.values() if not f.done()], return_when=FIRST_COMPLETED)
        result = running.pop(i).result()
        attempt = judge(cand, candidate_estimate(spec.info, spec.profile, cand, result), result, spec.budgets,
                        spec.measured_latency_ms)
        say(f"  {cand.name}: {attempt.status}: {attempt.reason}")
        attempts.append(attempt)
        corrections.learn(attempt)
        if attempt.status == "accepted" and accepted is None:
            accepted = attempt
    for future in running.values():
        executor.cancel(future)
    if accepted is None and not any(a.built for a in attempts):
        attempts = _build_closest(attempts, spec, executor, say)
    return _conclude(tuple(attempts), accepted, spec.mode)


def _build_closest(attempts: list[Attempt], spec: SearchSpec, executor: Executor, say: Progress) -> list[Attempt]:
    """Nothing fit even on paper: still build the discarded rung that misses by the least, so the user
    gets a real artifact and measured numbers. A rung that already ran (and failed) is never re-run."""
    untried = [a for a in attempts if a.status == "discarded"]
    if not untried:
        return attempts
    closest = min(untried, key=lambda a: (a.worst_violation(), a.candidate.trains))
    say(f"[{spec.profile.name}] nothing fits on paper; building the closest, {closest.candidate.name}")
    result = executor.submit(spec.make_task(closest.candidate)).result()
    built = judge(closest.candidate, candidate_estimate(spec.info, spec.profile, closest.candidate, result), result,
                  spec.budgets, spec.measured_latency_ms)
    say(f"  {built.candidate.name}: {built.status}: {built.reason}")
    return [built if a is closest else a for a in attempts]


def _conclude(attempts: tuple[Attempt, ...], accepted: Attempt | None, mode: str) -> SearchResult:
    built = [a for a in attempts if a.built]
    pareto: tuple[Attempt, ...] = ()
    if mode == "pareto":
        front = pareto_front(built, size=lambda a: a.measured()["flash_bytes"], quality=quality_score)
        feasible = [a for a in front if a.status == "accepted"]
        chosen = min(feasible, key=lambda a: a.measured()["flash_bytes"]) if feasible else None
        relabel = {id(a): (a if a is chosen else replace(a, status="pareto")) for a in feasible}
        attempts = tuple(relabel.get(id(a), a) for a in attempts)
        pareto = tuple(relabel.get(id(a), a) for a in front)
        accepted = chosen
    if accepted is not None:
        return SearchResult(attempts, accepted, True, None, pareto)
    best = min((a for a in attempts if a.built), key=lambda a: a.total_miss(), default=None)
    return SearchResult(attempts, best, False, _binding_constraint(attempts, best), pareto)


def _binding_constraint(attempts: tuple[Attempt, ...], best: Attempt | None) -> dict | None:
    """The budget that the most candidates missed (by measurement, or by estimate for discarded ones),
    with by how much the written candidate missed it; ties go to the larger miss of that candidate."""
    if best is None:
        return None
    misses: dict[str, int] = {}
    for a in attempts:
        for c in a.checks:
            misses[c.name] = misses.get(c.name, 0) + (not c.ok)
    failing = {c.name: c for c in best.checks if not c.ok}
    if failing:
        key = max(failing, key=lambda k: (misses[k], failing[k].over_by_ratio))
        return {"budget": key, **failing[key].to_dict(), "candidates_missing_it": misses[key], "attempt": best.candidate.name}
    if best.verification is not None and not best.verification.passed:
        return {"budget": "verification", "reason": best.verification.reason, "attempt": best.candidate.name}
    return None


def quality_score(a: Attempt) -> float:
    """The one number the Pareto front and the report's chart rank quality by."""
    q = a.quality()
    if "accuracy" in q:
        return q["accuracy"]
    return (q.get("primary") or {}).get("value") or q.get("top1_agreement") or q.get("cosine") or 0.0
