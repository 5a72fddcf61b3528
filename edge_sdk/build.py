"""`edge-sdk build`: load -> analyze -> check -> plan -> compress -> export -> verify -> report.

One call builds every requested target; trained steps are shared between targets (StepMemo) and, with a
cache dir, across calls. Each target's output is assembled in a temp dir and renamed into
`OUT/<profile>/`, so an interrupted build never leaves a half-written target behind.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from edge_sdk import deps
from edge_sdk.techniques.base import TechniqueData
from edge_sdk.data import Dataset, load_dataset
from edge_sdk.errors import DataError
from edge_sdk.model import analyze, load_model
from edge_sdk.model.types import LoadedModel
from edge_sdk.planner.budgets import Budgets
from edge_sdk.planner.fit import check_fit
from edge_sdk.planner.ladder import build_ladder
from edge_sdk.planner.plan_file import read_plan
from edge_sdk.planner.search import SearchResult, StepMemo, run_search
from edge_sdk.profiles import Profile, get_profile
from edge_sdk.report.document import build_report, rationale_for


@dataclass(frozen=True)
class TargetResult:
    target: str
    profile: Profile
    out_dir: Path
    report: dict

    @property
    def feasible(self) -> bool:
        return bool(self.report["feasible"])


@dataclass(frozen=True)
class BuildData:
    calibration: Dataset
    train: Dataset
    eval: Dataset

    def sources(self) -> dict[str, Any]:
        return {
            "calibration": {"source": self.calibration.source, "samples": len(self.calibration)},
            "train": {"source": self.train.source, "samples": len(self.train), "labels": self.train.has_labels},
            "eval": {"source": self.eval.source, "samples": len(self.eval), "labels": self.eval.has_labels},
        }


def load_build_data(loaded: LoadedModel, calibration: Any, train: Any = None, eval_: Any = None) -> BuildData:
    """Validate all data up front (nothing trains before every set is known to fit the model)."""
    if calibration is None:
        raise DataError("no calibration data; pass --calibration FILE.npz (a few hundred representative inputs)")
    cal = load_dataset(calibration, loaded.inputs, purpose="calibration")
    tr = load_dataset(train, loaded.inputs, purpose="training") if train is not None else cal
    ev = load_dataset(eval_, loaded.inputs, purpose="eval") if eval_ is not None else cal
    return BuildData(cal, tr, ev)


def _write_target(result: SearchResult, report: dict, profile: Profile, out_root: Path) -> Path:
    """Assemble OUT/<profile>/ in a temp dir (artifact files, harness, report.json/html), then rename."""
    from edge_sdk.bench.harness import emit as emit_harness
    from edge_sdk.report.html import write_html

    out_root.mkdir(parents=True, exist_ok=True)
    final = out_root / profile.name
    staging = Path(tempfile.mkdtemp(prefix=f".{profile.name}.", dir=out_root))
    try:
        chosen = result.chosen
        if chosen is not None and chosen.artifact_dir is not None:
            for item in sorted(chosen.artifact_dir.iterdir()):
                dest = staging / item.name
                shutil.copytree(item, dest) if item.is_dir() else shutil.copy2(item, dest)
            emit_harness(profile, chosen.artifact, staging)
        if result.pareto:
            for attempt in result.pareto:
                shutil.copytree(attempt.artifact_dir, staging / "pareto" / attempt.candidate.name)
        (staging / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
        write_html(report, staging / "report.html")
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def build(
    model: Any,
    targets: list[str],
    *,
    calibration: Any,
    train_data: Any = None,
    eval_data: Any = None,
    out: str | Path = "out",
    budget_overrides: dict[str, dict[str, Any]] | None = None,
    search: str = "first-fit",
    plan_file: str | Path | None = None,
    profiles_dir: str | Path | None = None,
    trust_model: bool = False,
    seed: int = 0,
    cache: Any = None,
    quiet: bool = False,
    say: Callable[[str], None] = print,
) -> list[TargetResult]:
    """Build `model` for each target; returns one TargetResult per target (feasible or not)."""
    timings: dict[str, float] = {}
    t = time.perf_counter()
    loaded = load_model(model, trust_model=trust_model)
    timings["load"] = time.perf_counter() - t
    t = time.perf_counter()
    info = analyze(loaded)
    timings["analyze"] = time.perf_counter() - t
    data = load_build_data(loaded, calibration, train_data, eval_data)
    profiles = [(target, get_profile(target, profiles_dir)) for target in targets]

    t = time.perf_counter()
    for _, profile in profiles:  # unsupported ops fail every target before any work (exit 2)
        check_fit(info, profile).raise_for_unsupported()
    timings["check"] = time.perf_counter() - t

    planned = read_plan(plan_file) if plan_file else {}
    memo = StepMemo(cache=cache)
    technique_data = TechniqueData(train=data.train, calibration=data.calibration, teacher=loaded, eval=data.eval)
    results = []
    with tempfile.TemporaryDirectory(prefix="edge-sdk-build-") as work:
        for target, profile in profiles:
            overrides = (budget_overrides or {}).get(profile.name) or (budget_overrides or {}).get(target) or {}
            budgets = Budgets.from_profile(profile, **overrides)
            t = time.perf_counter()
            ladder = planned.get(profile.name) or build_ladder(info, profile)
            plan_s = time.perf_counter() - t
            result = run_search(
                model=loaded, info=info, profile=profile, ladder=ladder, budgets=budgets, data=technique_data,
                eval_data=data.eval, work_dir=Path(work) / profile.name, memo=memo, mode=search, seed=seed,
                quiet=quiet, say=say if not quiet else (lambda _: None),
            )
            stage = {k: sum(a.timings_s.get(k, 0.0) for a in result.attempts) for k in ("compress", "export", "verify")}
            report = build_report(
                target=target, profile=profile, loaded=loaded, info=info, budgets=budgets, result=result,
                rationale=rationale_for(result), versions=deps.versions(),
                timings_s={**timings, "plan": plan_s, **stage}, data_sources=data.sources(),
            )
            out_dir = _write_target(result, report, profile, Path(out))
            results.append(TargetResult(target, profile, out_dir, report))
    if cache is not None and cache.hits:
        say(f"build cache: reused {cache.hits} stored result(s) from {cache.directory} (--no-cache to rebuild)")
    if len(results) > 1:
        from edge_sdk.report.html import write_index

        write_index([r.report for r in results], Path(out) / "index.html")
    return results
