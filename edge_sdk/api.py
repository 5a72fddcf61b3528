"""The library API: what the `edge-sdk` commands do, as functions returning typed results.

    build(model, targets, calibration=...)   -> list[TargetResult]   one per target, OUT/<profile>/ written
    build_matrix([ModelJob...], targets)     -> list[TargetResult]   several models, OUT/<name>/<profile>/
    plan(model, targets)                     -> PlanResult           each target's ladder with estimates
    inspect(model, target=None)              -> InspectResult        per-layer analysis and the fit check
    bench(path, device="host")               -> BenchOutcome         measured latency/memory, bench.json written
    compare(base, new)                       -> CompareResult        regressions between two builds

The CLI (`edge_sdk/commands/`) only parses arguments, calls these and prints. User errors raise
`EdgeSDKError` subclasses (one line naming the file, field or layer); nothing else is caught here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_sdk.pipeline.build import ModelJob, TargetResult, build, build_matrix

__all__ = ["BenchOutcome", "CompareResult", "InspectResult", "ModelJob", "PlanResult", "TargetResult",
           "bench", "build", "build_matrix", "compare", "inspect", "plan"]


@dataclass(frozen=True)
class PlanResult:
    """The dry run: per target, its ladder with estimates and which rungs the budgets discard."""

    document: dict  # what `edge-sdk plan --json` prints
    ladders: dict[str, list]  # profile name -> [Candidate], what `--save` writes

    def save(self, path: str | Path) -> None:
        """Write the ladders as a plan.json that `build(plan_file=...)` replays."""
        from edge_sdk.planner.plan_file import write_plan

        write_plan(self.ladders, path)


def plan(model: Any, targets: list[str], *, budget_overrides: dict[str, Any] | None = None,
         profiles_dir: str | Path | None = None, trust_model: bool = False,
         target_budgets: dict[str, dict[str, Any]] | None = None) -> PlanResult:
    """Each target's ladder with estimated flash, RAM and latency; no training, no conversion.
    `budget_overrides` apply to every target; `target_budgets` (target name -> budgets, as edge-sdk.yaml
    gives them) to one each, under the flat ones."""
    from edge_sdk.contracts.budgets import Budgets
    from edge_sdk.model import analyze, load_model
    from edge_sdk.planner.fit import check_fit
    from edge_sdk.planner.ladder import build_ladder
    from edge_sdk.planner.plan_file import candidate_to_dict
    from edge_sdk.planner.search import candidate_estimate, discard_reason, evaluate_budgets
    from edge_sdk.profiles import get_profile

    profiles = [(name, get_profile(name, profiles_dir)) for name in targets]  # a bad target fails before loading
    flat = {k: v for k, v in (budget_overrides or {}).items() if v is not None}
    budgets = {p.name: Budgets.from_profile(p, **{**(target_budgets or {}).get(name, {}), **flat}) for name, p in profiles}
    loaded = load_model(model, trust_model=trust_model)
    info = analyze(loaded)
    doc: dict[str, Any] = {"model": str(model), "params": info.params, "macs": info.macs, "targets": {}}
    ladders = {}
    for name, profile in profiles:
        ladder = build_ladder(info, profile, check_fit(info, profile, budgets[profile.name]))
        ladders[profile.name] = ladder
        rungs = []
        for cand in ladder:
            est = candidate_estimate(info, profile, cand)
            checks = evaluate_budgets(budgets[profile.name], est, None)
            reason = discard_reason(cand, checks)
            rungs.append({**candidate_to_dict(cand), "estimates": est.to_dict(), "budgets": {c.name: c.to_dict() for c in checks},
                          "status": "discarded" if reason else "candidate", "reason": reason or ""})
        doc["targets"][profile.name] = {"target": name, "budgets": budgets[profile.name].to_dict(), "ladder": rungs}
    return PlanResult(doc, ladders)


@dataclass(frozen=True)
class InspectResult:
    model: Path
    info: Any  # ModelInfo
    fit: Any = None  # FitReport, when a target was given

    def to_dict(self) -> dict:
        """What `edge-sdk inspect --json` prints: totals and layers at the top level, `fit` with a target."""
        d = self.info.to_dict()
        by_dtype = d.pop("peak_activation_bytes")
        doc = {
            "model": str(self.model),
            "framework": self.info.framework,
            "params": self.info.params,
            "macs": self.info.macs,
            "other_ops": self.info.other_ops,
            "peak_activation_bytes": by_dtype["float32"],
            "peak_activation_bytes_by_dtype": by_dtype,
            **{k: v for k, v in d.items() if k not in ("framework", "params", "macs", "other_ops")},
        }
        if self.fit is not None:
            doc["fit"] = self.fit.to_dict()
        return doc


def inspect(model: str | Path, *, target: str | None = None, profiles_dir: str | Path | None = None,
            trust_model: bool = False) -> InspectResult:
    """Per-layer ops, params, MACs and activation memory; with `target`, the fit against its budgets."""
    from edge_sdk.model import analyze, load_model
    from edge_sdk.planner.fit import check_fit
    from edge_sdk.profiles import get_profile

    profile = get_profile(target, profiles_dir) if target else None  # a bad target fails before loading
    info = analyze(load_model(model, trust_model=trust_model))
    return InspectResult(Path(model), info, check_fit(info, profile) if profile is not None else None)


@dataclass(frozen=True)
class BenchOutcome:
    result: Any  # BenchResult
    document: dict  # bench.json, as written next to the report
    path: Path  # where bench.json was written


def bench(path: str | Path, device: str = "host", *, config_file: str | Path | None = None,
          **options: Any) -> BenchOutcome:
    """Measure an artifact (OUT/<profile> or a file) on `device`; options: runs, warmup, threads,
    delegate, timeout_s, idle_timeout_s, binary, remote_python, identity, ssh_options, inputs (a .npz
    of real inputs, fed on every runner; default: the build's eval data)."""
    from edge_sdk.devices.artifact import resolve_target
    from edge_sdk.devices.named import resolve_device
    from edge_sdk.devices.session import bench as run_bench
    from edge_sdk.devices.session import default_config

    address, key = resolve_device(device, Path(config_file) if config_file else None)
    target = resolve_target(path)
    if key is not None and options.get("identity") is None:
        options["identity"] = key
    result, doc = run_bench(target, address, default_config(target, **options))
    return BenchOutcome(result, doc, target.out_dir / "bench.json")


@dataclass(frozen=True)
class CompareResult:
    changes: list  # [report.compare.Change], one per target x metric that moved or was checked
    thresholds: Any  # report.compare.Thresholds

    @property
    def regressions(self) -> list:
        return [c for c in self.changes if c.regression]

    def to_dict(self) -> dict:
        from edge_sdk.report.compare import to_dict

        return to_dict(self.changes, self.thresholds)


def compare(base: str | Path, new: str | Path, *, max_size_growth: str | float = "5%",
            max_latency_growth: str | float = "10%", max_quality_drop: str | float = "0.5",
            junit: str | Path | None = None) -> CompareResult:
    """Regressions of NEW against BASE (build dirs or report.json files); `junit` also writes JUnit XML."""
    from edge_sdk.report.compare import Thresholds, load_reports, parse_fraction, parse_points, write_junit
    from edge_sdk.report.compare import compare as compare_reports

    thresholds = Thresholds(
        max_size_growth=parse_fraction(str(max_size_growth), "--max-size-growth"),
        max_latency_growth=parse_fraction(str(max_latency_growth), "--max-latency-growth"),
        max_quality_drop=parse_points(str(max_quality_drop), "--max-quality-drop"),
    )
    changes = compare_reports(load_reports(base), load_reports(new), thresholds)
    if junit:
        write_junit(changes, junit)
    return CompareResult(changes, thresholds)
