"""`edge_sdk.build` / `build_matrix`: prepare every model -> plan -> search (tasks) -> report, per model and target.

Everything a user can get wrong is checked first, in the calling process, before any task runs
(`prepare.py`: model, data, profiles, unsupported ops, budgets: exit 2); the model and the validated
data are written once into the build's work dir, so every task refers to files by path and content
hash. The (model, target) searches then run on one executor (`local` process pool by default,
`--jobs N`; `ray`), side by side when it runs several tasks at once. Trained steps are shared between
tasks, targets and models through the build cache on disk (the user's, or a build-private one with
--no-cache). Each target's output is assembled in a temp dir and renamed into `OUT/<profile>/` (or
`OUT/<model name>/<profile>/`), so an interrupted build never leaves a half-written target behind.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ContextManager, Mapping

import numpy as np

from edge_sdk import deps
from edge_sdk.artifact_metadata import ArtifactMetadata
from edge_sdk.cache import StepCache
from edge_sdk.contracts.plan import Candidate
from edge_sdk.contracts.search import SearchResult
from edge_sdk.contracts.task import Executor, Task
from edge_sdk.errors import ConfigError
from edge_sdk.pipeline.executors import DEFAULT_CANDIDATE_TIMEOUT_S, DEFAULT_EXECUTOR, make_executor
from edge_sdk.pipeline.prepare import ModelJob, PreparedModel, prepare
from edge_sdk.pipeline.scratch import scratch_space
from edge_sdk.planner.ladder import build_ladder
from edge_sdk.planner.measured import measured_latencies
from edge_sdk.planner.search import SearchSpec, run_search
from edge_sdk.plugins import load_plugins
from edge_sdk.profiles import Profile
from edge_sdk.report.document import build_report, rationale_for

Say = Callable[[str], None]


@dataclass(frozen=True)
class TargetResult:
    target: str
    profile: Profile
    out_dir: Path
    report: dict

    @property
    def feasible(self) -> bool:
        return bool(self.report["feasible"])

    @property
    def internal_errors(self) -> list[str]:
        """Attempts that ended in a bug (ours or a library's): the CLI exits 1 when there are any."""
        return [a["name"] for a in self.report["attempts"] if (a.get("error") or {}).get("internal")]


def _write_target(result: SearchResult, report: dict, profile: Profile, out_root: Path) -> Path:
    """Assemble OUT/<profile>/ in a temp dir (artifact files, harness, report.json/html, MODEL_CARD.md,
    SHA256SUMS), then rename."""
    from edge_sdk.devices.harness import emit as emit_harness
    from edge_sdk.report.checksums import FILE_NAME as SHA256SUMS
    from edge_sdk.report.checksums import sha256sums
    from edge_sdk.report.html import write_html
    from edge_sdk.report.model_card import model_card

    out_root.mkdir(parents=True, exist_ok=True)
    final = out_root / profile.name
    staging = Path(tempfile.mkdtemp(prefix=f".{profile.name}.", dir=out_root))
    try:
        chosen = result.chosen
        if chosen is not None and chosen.artifact is not None:
            for item in sorted(chosen.artifact.path.parent.iterdir()):
                dest = staging / item.name
                shutil.copytree(item, dest) if item.is_dir() else shutil.copy2(item, dest)
            emit_harness(profile, chosen.artifact, staging)
        for attempt in result.pareto:
            shutil.copytree(attempt.artifact.path.parent, staging / "pareto" / attempt.candidate.name)  # type: ignore[union-attr]
        (staging / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
        write_html(report, staging / "report.html")
        labels = (report.get("metadata") or {}).get("labels")
        if labels:  # the class names in index order, one per line, beside the artifact
            (staging / "labels.txt").write_text("".join(f"{label}\n" for label in labels))
        (staging / "MODEL_CARD.md").write_text(model_card(report))
        (staging / SHA256SUMS).write_text(sha256sums(staging))  # last: it lists every file above
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def build(model: Any, targets: list[str], *, calibration: Any, train_data: Any = None, eval_data: Any = None,
          **options: Any) -> list[TargetResult]:
    """Build `model` for each target into OUT/<profile>/; returns one TargetResult per target (feasible
    or not). Options as for `build_matrix`."""
    return build_matrix([ModelJob(model, calibration, train_data, eval_data)], targets, **options)


def build_matrix(
    models: list[ModelJob],
    targets: list[str],
    *,
    out: str | Path = "out",
    budget_overrides: dict[str, dict[str, Any]] | None = None,
    search: str = "first-fit",
    plan_file: str | Path | None = None,
    profiles_dir: str | Path | None = None,
    trust_model: bool = False,
    seed: int = 0,
    cache: StepCache | None = None,
    executor: str = DEFAULT_EXECUTOR,
    jobs: int | None = None,
    candidate_timeout: float = DEFAULT_CANDIDATE_TIMEOUT_S,
    tasks: dict[str, str] | None = None,
    metadata: ArtifactMetadata | Mapping[str, Any] | None = None,
    quiet: bool = False,
    say: Say = print,
) -> list[TargetResult]:
    """Build every model for every target as one graph of tasks on one executor: every model and data
    set is checked before any task runs; then each (model, target) search runs, side by side when the
    executor runs several tasks at once, and a trained step several of them need is trained once (the
    build cache; the ray executor also holds a task back until the step it needs is done). One model
    writes OUT/<profile>/; several write OUT/<model name>/<profile>/ and OUT/index.html.
    `metadata`: labels, input normalisation, version, author... the artifacts carry (artifact_metadata.py)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"--seed {seed}: a seed is an integer >= 0")
    if not models:
        raise ConfigError("no model given")
    load_plugins()
    say = say if not quiet else (lambda _: None)
    options = dict(targets=targets, budget_overrides=budget_overrides, search=search, plan_file=plan_file, profiles_dir=profiles_dir,
                   trust_model=trust_model, seed=seed, cache=cache, tasks=tasks, metadata=metadata, quiet=quiet)
    with _quiet_output(Path(out), quiet), scratch_space(Path(out)) as work:
        # workers start now and import the framework while this process loads and checks everything
        pool = make_executor(executor, jobs=jobs, timeout_s=candidate_timeout, warmup=_framework_hint(models[0].model),
                             say=say)
        try:
            prepared = [prepare(job, work / f"model{i}", **options) for i, job in enumerate(models)]
            roots = _output_roots(prepared, Path(out))
            searches = [(p, root, target, profile) for p, root in zip(prepared, roots) for target, profile in p.profiles]
            results = _run_searches(pool, searches, Path(out), say)
        finally:
            pool.close()
    hits = sum(a.get("cache_hits", 0) for r in results for a in r.report["attempts"])
    if cache is not None and cache.enabled and hits:
        say(f"build cache: reused {hits} stored result(s) from {cache.directory} (--no-cache to rebuild)")
    discarded = sum(a.get("cache_discarded", 0) for r in results for a in r.report["attempts"])
    if discarded:
        say(f"build cache: discarded {discarded} damaged entr{'y' if discarded == 1 else 'ies'} (a file no longer "
            f"matched its stored sha256) and rebuilt them")
    if len(results) > 1:
        from edge_sdk.report.index import write_index

        write_index([r.report for r in results], Path(out) / "index.html",
                    [r.out_dir.relative_to(Path(out)).as_posix() for r in results])
    return results


def _quiet_output(out: Path, quiet: bool) -> ContextManager:
    """A quiet build from Python sends third-party output (converter lines, TF warnings, workers' logs)
    to OUT/build.log as the CLI does; under the CLI, or when not quiet, output stays where it goes."""
    from edge_sdk.console import logging_to_build_log, terminal_for_edge_sdk

    if not quiet or logging_to_build_log():
        return contextlib.nullcontext()
    return terminal_for_edge_sdk(out / "build.log")


def _output_roots(prepared: list[PreparedModel], out: Path) -> list[Path]:
    """OUT for one model; OUT/<model name>/ for each of several (two models of one name are an error)."""
    if len(prepared) == 1:
        return [out]
    names = [p.described.file_stem for p in prepared]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"two models are named {twice[0]!r}, and each model's outputs go to OUT/<model name>/; "
                          "rename one file or build them separately")
    return [out / name for name in names]


def _run_searches(pool: Executor, searches: list[tuple[PreparedModel, Path, str, Profile]], out: Path,
                  say: Say) -> list[TargetResult]:
    """Every (model, target) search; side by side when the executor runs several tasks at once (each
    search's decisions stay in its own ladder order, so the artifacts do not depend on it)."""
    several = len({id(p) for p, *_ in searches}) > 1

    def one(item: tuple[PreparedModel, Path, str, Profile]) -> TargetResult:
        name = item[0].described.file_stem
        return _search_target(pool, *item, say=(lambda line: say(f"{name}: {line}")) if several else say)

    if pool.jobs == 1 or len(searches) == 1:
        return [one(item) for item in searches]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(searches), thread_name_prefix="edge-sdk-search") as threads:
        return list(threads.map(one, searches))


def _search_target(pool: Executor, p: PreparedModel, root: Path, target: str, profile: Profile, *, say: Say) -> TargetResult:
    t = time.perf_counter()
    ladder = p.planned.get(profile.name) or build_ladder(p.info, profile, p.fits[profile.name])
    plan_s = time.perf_counter() - t
    attempts = p.work / "attempts" / profile.name

    def make_task(cand: Candidate) -> Task:
        return Task(cand, profile, p.model_ref, p.task_data, p.seed, p.cache_dir,
                    out_dir=attempts / cand.name, log_path=p.work / "logs" / profile.name / f"{cand.name}.log",
                    output_kinds=p.kinds, min_fidelity=p.budgets[profile.name].min_fidelity, progress=not p.quiet,
                    metadata=p.described)

    measured, unusable = measured_latencies(root / profile.name, profile.name)
    for line in unusable:
        say(f"[{profile.name}] {line}")
    if measured:
        say(f"[{profile.name}] {len(measured)} artifact(s) measured on the device by `edge-sdk bench`: "
            "their latency budget is checked on that measurement when a rung rebuilds them")
    spec = SearchSpec(p.info, profile, tuple(ladder), p.budgets[profile.name], make_task, p.search, measured)
    result = run_search(spec, pool, say)
    report = build_report(
        target=target, profile=profile, loaded=p.loaded, info=p.info, budgets=p.budgets[profile.name],
        result=result, rationale=rationale_for(result), versions=deps.versions(),
        timings_s={**p.timings, "plan": plan_s, **result.timings_s()}, data_sources=p.data.sources(),
        report_dir=root / profile.name, output_kinds=p.kinds, metadata=p.described, executor=pool.describe(),
    )
    return TargetResult(target, profile, _write_target(result, report, profile, root), report)


def _framework_hint(model: Any) -> str | None:
    """The framework a model will load as, from its file name or type alone (no heavy import)."""
    from edge_sdk.frameworks import FRONTENDS

    if isinstance(model, (str, Path)):
        path = Path(model)
        if not path.exists():
            return None
        return next((n for n in FRONTENDS.names() if FRONTENDS.get(n).claims_path(path)), None)
    module = type(model).__module__ if not isinstance(model, tuple) else "torch"
    return "torch" if module.startswith("torch") else "keras" if module.startswith(("keras", "tf_keras")) else None


