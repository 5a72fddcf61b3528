"""Search the ladder: discard by estimate, then apply -> export -> verify -> measure, in order.

`first-fit` accepts the first candidate that meets every budget; `pareto` evaluates every candidate
and keeps the (size, quality) Pareto set. Every attempt is recorded with its estimates, measurements,
status (`accepted`, `pareto`, `rejected`, `discarded`, `failed`, `not_tried`) and reason.

Trained steps are shared: `StepMemo` keys a model by its chain of steps, so a QAT model trained for
one target is reused for every other target built in the same command (and by the build cache on
disk across commands).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from edge_sdk.techniques.base import TechniqueData
from edge_sdk.planner import attempt_cache
from edge_sdk.data import Dataset
from edge_sdk.errors import EdgeSDKError
from edge_sdk.model.types import LoadedModel, ModelInfo
from edge_sdk.planner.budgets import Budgets
from edge_sdk.planner.estimate import Estimate, estimate
from edge_sdk.planner.candidates import Candidate, Step
from edge_sdk.profiles import Profile
from edge_sdk.records import Artifact, StepRecord, Verification

Progress = Callable[[str], None]


@dataclass
class StepMemo:
    """Models after each chain of steps, shared across targets in one build (and the on-disk cache)."""

    cache: Any = None  # edge_sdk.cache.StepCache, or None for no on-disk cache
    models: dict[tuple, tuple[LoadedModel, list[StepRecord]]] = field(default_factory=dict)
    hits: int = 0

    def attempt_key(self, model: LoadedModel, data: TechniqueData, eval_data: Dataset, cand: Candidate,
                    profile: Profile, seed: int) -> str | None:
        if self.cache is None or not self.cache.enabled:
            return None
        return attempt_cache.attempt_key(model, data, eval_data.fingerprint(), cand, profile, seed)

    def _cache_key(self, model: LoadedModel, data: TechniqueData, chain: tuple[Step, ...], config: dict) -> str | None:
        """Only file-backed models are cached: an in-memory model has no content hash to key on."""
        if self.cache is None or not self.cache.enabled or model.sha256 is None:
            return None
        from edge_sdk.cache import cache_key

        return cache_key(model.sha256, data.train.fingerprint(), [s.key() for s in chain], config)

    def apply(self, model: LoadedModel, steps: tuple[Step, ...], data: TechniqueData, seed: int, quiet: bool,
              say: Progress) -> tuple[LoadedModel, list[StepRecord]]:
        from edge_sdk.techniques.dispatch import apply_step

        current, records = model, []
        for i in range(len(steps)):
            key = tuple(s.key() for s in steps[: i + 1])
            if key in self.models:
                current, records = self.models[key]
                self.hits += 1
                continue
            step = steps[i]
            config = {**step.params, "seed": seed}
            cache_key = self._cache_key(model, data, steps[: i + 1], config)
            config["progress"] = not quiet  # display only: not part of what the result depends on
            cached = self.cache.get_step(cache_key, current, step.technique) if cache_key else None
            if cached is not None:
                current, record = cached
                say(f"  {step.technique}: reused from the build cache")
            else:
                say(f"  {step.technique} {step.params or ''}".rstrip())
                current, record = apply_step(step.technique, current, data, config)
                if cache_key:
                    self.cache.put_step(cache_key, current, record)
            records = records + [record]
            self.models[key] = (current, records)
        return current, records


@dataclass
class Attempt:
    candidate: Candidate
    estimate: Estimate
    status: str = "not_tried"
    reason: str = ""
    artifact: Artifact | None = None
    artifact_dir: Path | None = None
    verification: Verification | None = None
    records: list[StepRecord] = field(default_factory=list)
    budgets: dict[str, dict] = field(default_factory=dict)
    wall_s: float = 0.0
    timings_s: dict[str, float] = field(default_factory=dict)  # compress / export / verify

    @property
    def built(self) -> bool:
        return self.artifact is not None and self.verification is not None

    def quality(self) -> dict[str, Any]:
        v = self.verification
        if v is None:
            return {}
        out: dict[str, Any] = {}
        if v.fidelity is not None:
            out.update(top1_agreement=v.fidelity.top1_agreement, cosine=v.fidelity.cosine, sqnr_db=v.fidelity.sqnr_db)
        if v.accuracy is not None:
            out.update(accuracy=v.accuracy.compressed, reference_accuracy=v.accuracy.reference, drop=v.accuracy.drop)
        return out

    def measured(self) -> dict[str, Any]:
        if self.artifact is None:
            return {}
        details = self.artifact.details
        out: dict[str, Any] = {"flash_bytes": measured_flash(self.artifact), "gzip_bytes": self.artifact.gzip_bytes}
        if details.get("arena_bytes_measured") is not None:  # an estimated arena is not a measurement
            out["arena_bytes"] = details["arena_bytes"]
            out["arena_bytes_measured"] = details["arena_bytes_measured"]
            out["ram_bytes"] = details["arena_bytes"]
        if self.verification is not None:
            for key in ("host_latency_ms", "latency_ms"):
                if key in self.verification.measured:
                    out["host_latency_ms"] = self.verification.measured[key]
        return out

    def worst_violation(self) -> float:
        """Largest relative budget miss (0 when every budget is met)."""
        return max([b.get("over_by_ratio", 0.0) for b in self.budgets.values()] + [0.0])

    def to_dict(self) -> dict:
        return {
            "name": self.candidate.name,
            "format": self.candidate.fmt,
            "precision": self.candidate.precision,
            "steps": self.candidate.plan_steps(),
            "estimates": self.estimate.to_dict(),
            "measured": self.measured(),
            "quality": self.quality(),
            "budgets": self.budgets,
            "status": self.status,
            "reason": self.reason,
            "artifact": None if self.artifact is None else self.artifact.to_dict(),
            "records": [r.to_dict() for r in self.records],
            "wall_s": round(self.wall_s, 3),
        }


def measured_flash(artifact: Artifact) -> int:
    """Bytes the model occupies where it is stored (the flatbuffer in flash for TFLM)."""
    return int(artifact.details.get("flash_bytes", artifact.bytes))


def candidate_estimate(info: ModelInfo, profile: Profile, cand: Candidate) -> Estimate:
    return estimate(
        info, profile, fmt=cand.fmt, precision=_estimate_precision(cand),
        params_scale=cand.params_scale, macs_scale=cand.macs_scale,
        sparsity=cand.sparsity, activation_scale=cand.activation_scale,
    )


def _estimate_precision(cand: Candidate) -> str:
    if cand.coreml_compression in ("palettize4", "sparse-palettize4"):
        return "palettize4"
    if cand.coreml_compression == "palettize6":
        return "palettize6"
    if cand.coreml_compression == "linear8":
        return "dynamic-int8"
    return "int8" if cand.precision == "int8-mixed" else cand.precision


def _check(limit: float | None, est: float | None, measured: float | None, higher_is_better: bool = False) -> dict:
    value = measured if measured is not None else est
    entry: dict[str, Any] = {"limit": limit, "estimate": est, "measured": measured, "ok": True}
    if limit is None or value is None:
        return entry
    ok = value >= limit if higher_is_better else value <= limit
    entry["ok"] = bool(ok)
    if not ok:
        miss = (limit - value) if higher_is_better else (value - limit)
        entry["over_by"] = miss
        entry["over_by_ratio"] = miss / limit if limit else float("inf")
    return entry


def evaluate_budgets(budgets: Budgets, est: Estimate, attempt: Attempt | None) -> dict[str, dict]:
    measured = attempt.measured() if attempt is not None else {}
    unit = est.best_unit
    ram_estimate = est.ram_bytes
    details = attempt.artifact.details if attempt is not None and attempt.artifact is not None else {}
    if details.get("arena_bytes_estimated"):  # not measurable: the estimate on the converted graph is closer
        ram_estimate = details["arena_bytes"]
    checks = {
        "flash_bytes": _check(budgets.flash_bytes, est.flash_bytes, measured.get("flash_bytes")),
        "ram_bytes": _check(budgets.ram_bytes, ram_estimate, measured.get("ram_bytes")),
        "latency_ms": _check(budgets.latency_ms, est.latency_ms.get(unit) if unit else None, None),
    }
    v = attempt.verification if attempt is not None else None
    if v is not None and v.accuracy is not None and budgets.max_accuracy_drop is not None:
        checks["accuracy"] = _check(budgets.max_accuracy_drop, None, v.accuracy.drop)
    elif budgets.min_fidelity is not None:
        agreement = v.fidelity.top1_agreement if v is not None and v.fidelity is not None else None
        if agreement is None and v is not None and v.fidelity is not None:
            agreement = v.fidelity.cosine
        checks["fidelity"] = _check(budgets.min_fidelity, None, agreement, higher_is_better=True)
    return checks


HARD = ("flash_bytes", "ram_bytes", "latency_ms")


@dataclass
class SearchResult:
    attempts: list[Attempt]
    chosen: Attempt | None  # accepted (feasible) or, failing that, the best infeasible one built
    feasible: bool
    binding_constraint: dict | None = None
    pareto: list[Attempt] = field(default_factory=list)


def _export_and_verify(attempt: Attempt, model: LoadedModel, profile: Profile, data: TechniqueData,
                       eval_data: Dataset, work_dir: Path, seed: int) -> None:
    from edge_sdk.export import EXPORTERS, ExportConfig
    from edge_sdk.verify import verify

    cand = attempt.candidate
    out = work_dir / cand.name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    config = ExportConfig(
        precision=cand.precision, io_dtype=cand.io_dtype, calibration=data.calibration,
        coreml_compression=cand.coreml_compression, sparsity_aware=cand.sparsity > 0, seed=seed,
    )
    start = time.perf_counter()
    attempt.artifact = EXPORTERS.get(cand.fmt)(model, profile, config, out)
    attempt.artifact_dir = out
    attempt.timings_s["export"] = time.perf_counter() - start
    start = time.perf_counter()
    attempt.verification = verify(attempt.artifact, data.teacher, eval_data)
    attempt.timings_s["verify"] = time.perf_counter() - start


UNTRAINED_TRY_RATIO = 1.5  # an untrained rung estimated within 1.5x of a hard budget is built and measured


def discard_reason(cand: Candidate, checks: dict[str, dict]) -> str | None:
    """Why a rung is not worth building, from its estimates; None when it should be built.

    A rung that trains is discarded as soon as an estimate breaks a hard budget (training is the
    expensive part). An untrained rung is cheap, so it is built and measured unless its estimate is
    more than UNTRAINED_TRY_RATIO over: estimates on an unseen architecture can be off by tens of %.
    """
    broken = [k for k in HARD if not checks[k]["ok"]]
    hopeless = [k for k in broken if checks[k].get("over_by_ratio", 0.0) > UNTRAINED_TRY_RATIO - 1]
    if (broken and cand.trains) or hopeless:
        return "estimate over budget: " + "; ".join(_describe(k, checks[k]) for k in broken)
    return None


@dataclass
class EstimateCorrections:
    """measured / estimated flash and arena of the latest built rung per format, applied to the
    estimates of later rungs: a measurement on this very model beats a formula calibrated on others."""

    ratios: dict[str, dict[str, float]] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)

    def learn(self, attempt: Attempt) -> None:
        if attempt.artifact is None:
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


def run_search(
    *,
    model: LoadedModel,
    info: ModelInfo,
    profile: Profile,
    ladder: list[Candidate],
    budgets: Budgets,
    data: TechniqueData,
    eval_data: Dataset,
    work_dir: Path,
    memo: StepMemo,
    mode: str = "first-fit",
    seed: int = 0,
    quiet: bool = False,
    say: Progress = lambda _: None,
) -> SearchResult:
    attempts = [Attempt(c, candidate_estimate(info, profile, c)) for c in ladder]
    corrections = EstimateCorrections()
    accepted: Attempt | None = None
    for attempt in attempts:
        if accepted is not None and mode == "first-fit":
            attempt.status, attempt.reason = "not_tried", f"{accepted.candidate.name} was accepted first"
            continue
        checked = corrections.apply(attempt.estimate, attempt.candidate.fmt)
        attempt.budgets = evaluate_budgets(budgets, checked, None)
        reason = discard_reason(attempt.candidate, attempt.budgets)
        if reason:
            attempt.status, attempt.reason = "discarded", reason + corrections.note(attempt.candidate.fmt)
            continue
        _try(attempt, model, profile, budgets, data, eval_data, work_dir, memo, seed, quiet, say)
        corrections.learn(attempt)
        if attempt.status == "accepted" and accepted is None:
            accepted = attempt
    if accepted is None and not any(a.built for a in attempts):
        # Nothing fit even on paper: still build the candidate that misses by the least, so the user
        # gets a real artifact and measured numbers to judge how far off the target is.
        closest = min(attempts, key=lambda a: (a.worst_violation(), a.candidate.trains))
        _try(closest, model, profile, budgets, data, eval_data, work_dir, memo, seed, quiet, say)
    return _conclude(attempts, accepted, mode)


def _try(attempt: Attempt, model: LoadedModel, profile: Profile, budgets: Budgets,
         data: TechniqueData, eval_data: Dataset, work_dir: Path, memo: StepMemo, seed: int, quiet: bool,
         say: Progress) -> None:
    cand = attempt.candidate
    say(f"[{profile.name}] trying {cand.name} ({cand.fmt}, {cand.precision})")
    start = time.perf_counter()
    try:
        key = memo.attempt_key(model, data, eval_data, cand, profile, seed)
        restored = attempt_cache.restore(memo.cache, key, cand.name, work_dir / cand.name) if key else None
        if restored is not None:
            attempt.artifact, attempt.artifact_dir, attempt.verification, attempt.records = restored
            say(f"  {cand.name}: artifact and verification reused from the build cache")
        else:
            compressed, attempt.records = memo.apply(model, cand.steps, data, seed, quiet, say)
            attempt.timings_s["compress"] = time.perf_counter() - start
            _export_and_verify(attempt, compressed, profile, data, eval_data, work_dir, seed)
            if key:
                attempt_cache.save(memo.cache, key, attempt.artifact, attempt.artifact_dir, attempt.verification, attempt.records)
    except EdgeSDKError as exc:
        attempt.status, attempt.reason = "failed", str(exc)
        attempt.wall_s = time.perf_counter() - start
        say(f"  failed: {exc}")
        return
    attempt.wall_s = time.perf_counter() - start
    attempt.budgets = evaluate_budgets(budgets, attempt.estimate, attempt)
    missed = [k for k, b in attempt.budgets.items() if not b["ok"]]
    if not attempt.verification.passed:
        attempt.status, attempt.reason = "rejected", f"verification: {attempt.verification.reason}"
    elif missed:
        attempt.status = "rejected"
        attempt.reason = "; ".join(_describe(k, attempt.budgets[k]) for k in missed)
    else:
        attempt.status, attempt.reason = "accepted", "meets every budget"
    say(f"  {attempt.status}: {attempt.reason}")


def _describe(key: str, check: dict) -> str:
    value = check["measured"] if check["measured"] is not None else check["estimate"]
    kind = "measured" if check["measured"] is not None else "estimated"
    ratio = check.get("over_by_ratio")
    pct = f" ({ratio * 100:.0f}% over)" if ratio not in (None, float("inf")) else ""
    if key == "fidelity":
        return f"fidelity {value:.4f} below the minimum {check['limit']}"
    if key == "accuracy":
        return f"accuracy drop {value:.2f} points over the maximum {check['limit']}"
    return f"{key} {kind} {_fmt(value)} > limit {_fmt(check['limit'])}{pct}"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _conclude(attempts: list[Attempt], accepted: Attempt | None, mode: str) -> SearchResult:
    built = [a for a in attempts if a.built]
    pareto = pareto_front(built) if mode == "pareto" else []
    if mode == "pareto":
        feasible = [a for a in pareto if a.status == "accepted"]
        for a in pareto:
            if a.status == "accepted":
                a.status = "pareto"
        accepted = min(feasible, key=lambda a: a.measured()["flash_bytes"]) if feasible else None
        if accepted is not None:
            accepted.status = "accepted"
    if accepted is not None:
        return SearchResult(attempts, accepted, True, None, pareto)
    best = min(built, key=lambda a: a.worst_violation()) if built else None
    return SearchResult(attempts, best, False, _binding_constraint(attempts, best), pareto)


def _binding_constraint(attempts: list[Attempt], best: Attempt | None) -> dict | None:
    """The budget that the most candidates missed (by measurement, or by estimate for discarded ones),
    with by how much the written candidate missed it; ties go to the larger miss of that candidate."""
    if best is None:
        return None
    misses: dict[str, int] = {}
    for a in attempts:
        for key, check in a.budgets.items():
            misses[key] = misses.get(key, 0) + (not check["ok"])
    failing = {k: b for k, b in best.budgets.items() if not b["ok"]}
    if failing:
        key = max(failing, key=lambda k: (misses[k], failing[k].get("over_by_ratio", 0.0)))
        return {"budget": key, **failing[key], "candidates_missing_it": misses[key], "attempt": best.candidate.name}
    if best.verification is not None and not best.verification.passed:
        return {"budget": "verification", "reason": best.verification.reason, "attempt": best.candidate.name}
    return None


def pareto_front(attempts: list[Attempt]) -> list[Attempt]:
    """Attempts no other attempt beats on both size (smaller) and quality (higher)."""

    def quality(a: Attempt) -> float:
        q = a.quality()
        return q.get("accuracy", q.get("top1_agreement") or q.get("cosine") or 0.0)

    front = []
    for a in attempts:
        size, qual = a.measured()["flash_bytes"], quality(a)
        dominated = any(
            (b.measured()["flash_bytes"] <= size and quality(b) >= qual)
            and (b.measured()["flash_bytes"] < size or quality(b) > qual)
            for b in attempts
            if b is not a
        )
        if not dominated:
            front.append(a)
    return front
