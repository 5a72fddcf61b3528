"""Merge `edge-sdk build` flags with edge-sdk.yaml: flags win, the project file fills the rest.

Without `--model`, edge-sdk.yaml in the working directory is required; with `--model`, a project file
is not read at all (so a one-off build never picks up a stray config by surprise).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from edge_sdk.errors import ConfigError


def resolve_build_args(
    *,
    model: list[Path] | None,
    targets: list[str] | None,
    calibration: list[str] | None,
    train_data: list[str] | None,
    eval_data: list[str] | None,
    out: Path | None,
    search: str | None,
    seed: int | None,
    profiles_dir: Path | None,
    trust_model: bool,
    budget_flags: dict[str, Any],
    no_cache: bool,
    jobs: int | None = None,
    executor: str | None = None,
    candidate_timeout: float | None = None,
    tasks: list[str] | None = None,
    labels: Path | None = None,
    input_mean: str | None = None,
    input_std: str | None = None,
) -> dict[str, Any]:
    """Keyword arguments for `edge_sdk.build_matrix` (`models`: the --model flags with their data, else
    edge-sdk.yaml's `model:` or `models:`)."""
    from edge_sdk.cache import StepCache, default_cache_dir
    from edge_sdk.model.tasks import parse_tasks
    from edge_sdk.pipeline.executors import DEFAULT_CANDIDATE_TIMEOUT_S, DEFAULT_EXECUTOR

    project, path = _project_unless(model[0] if model else None)
    configured = {t.target: t.budgets() for t in project.targets} if project else {}
    base_dir = path.parent if project else Path.cwd()
    chosen = list(targets or configured or [])
    if not chosen:
        raise ConfigError("no target: pass --target (a profile or family name) or list targets in edge-sdk.yaml")
    overrides = {t: {**configured.get(t, {}), **budget_flags} for t in chosen}
    search_mode = search or (project.search if project else None) or "first-fit"
    if search_mode not in ("first-fit", "pareto"):
        raise ConfigError(f"--search {search_mode!r}: expected first-fit or pareto")
    cache_dir = (project.cache_dir if project and project.cache_dir else None) or default_cache_dir(base_dir)
    return {
        "models": _models(model, calibration, train_data, eval_data, project),
        "targets": chosen,
        "out": out or (project.out if project else Path("out")),
        "budget_overrides": overrides,
        "search": search_mode,
        "profiles_dir": profiles_dir or (project.profiles_dir if project else None),
        "trust_model": trust_model or bool(project and project.trust_model),
        "seed": seed if seed is not None else (project.seed if project else 0),
        "cache": StepCache(cache_dir, enabled=not no_cache),
        "jobs": jobs or (project.jobs if project else None),
        "tasks": parse_tasks(tasks) or (project.tasks if project else None),
        "executor": _executor(executor or (project.executor if project else None) or DEFAULT_EXECUTOR),
        "candidate_timeout": _timeout(candidate_timeout or (project.candidate_timeout if project else None)
                                      or DEFAULT_CANDIDATE_TIMEOUT_S),
        "metadata": _metadata(project, labels, input_mean, input_std),
    }


def _models(models: list[Path] | None, calibration: list[str] | None, train_data: list[str] | None,
            eval_data: list[str] | None, project: Any) -> list[Any]:
    """One ModelJob per model; each data flag given once (for every model) or once per --model."""
    from edge_sdk.pipeline.prepare import ModelJob

    if not models:
        entries = project.models or [project]
        return [ModelJob(e.model, _or(calibration, 0, e.calibration or project.calibration),
                         _or(train_data, 0, e.train_data or project.train_data),
                         _or(eval_data, 0, e.eval_data or project.eval_data)) for e in entries]
    for flag, given in (("--calibration", calibration), ("--train-data", train_data), ("--eval-data", eval_data)):
        if given and len(given) not in (1, len(models)):
            raise ConfigError(f"{flag} given {len(given)} times for {len(models)} models: give it once (every model "
                              f"uses it) or once per --model, in the same order")
    return [ModelJob(m, _or(calibration, i), _or(train_data, i), _or(eval_data, i)) for i, m in enumerate(models)]


def _or(given: list[str] | None, index: int, default: Any = None) -> Any:
    """The flag's value for model `index` (one value serves every model), else `default`."""
    if not given:
        return default
    return given[index] if len(given) > 1 else given[0]


def _metadata(project: Any, labels: Path | None, input_mean: str | None, input_std: str | None) -> Any:
    """Labels and normalisation from the flags, else edge-sdk.yaml; version, author... from edge-sdk.yaml."""
    from edge_sdk.artifact_metadata import from_user

    given = project.input if project is not None and project.input is not None and input_mean is None else None
    return from_user(
        labels=labels or (project.labels if project is not None else None),
        input_mean=input_mean if input_mean is not None else (given.mean if given else None),
        input_std=input_std if input_std is not None else (given.std if given else None),
        fields=project.metadata.model_dump(exclude_none=True) if project is not None and project.metadata else None,
    )


def resolve_model_args(*, model: Path | None, targets: list[str] | None, profiles_dir: Path | None,
                       trust_model: bool, need_targets: bool = True) -> dict[str, Any]:
    """What `plan` and `inspect` take from edge-sdk.yaml when no --model is given: the model, the
    targets with their budgets, profiles_dir and trust_model (flags win, as for build)."""
    project, path = _project_unless(model)
    if project is not None and project.model is None:
        raise ConfigError(f"{path} lists several models (models:); pass the one to use with --model")
    chosen = list(targets or ([t.target for t in project.targets] if project else []))
    if need_targets and not chosen:
        raise ConfigError("no target: pass --target (a profile or family name) or list targets in edge-sdk.yaml")
    return {
        "model": model or project.model,
        "targets": chosen,
        "target_budgets": {t.target: t.budgets() for t in project.targets} if project else {},
        "profiles_dir": profiles_dir or (project.profiles_dir if project else None),
        "trust_model": trust_model or bool(project and project.trust_model),
    }


def _project_unless(model: Path | None) -> tuple[Any, Path | None]:
    """(project, its path) read from edge-sdk.yaml in the working directory when no model is given; with
    a model, the project file is not read at all (a one-off command never picks up a stray config)."""
    if model is not None:
        return None, None
    from edge_sdk.project import find_project, load_project

    path = find_project(Path.cwd())
    if path is None:
        raise ConfigError("no model given and no edge-sdk.yaml in this directory; pass the model file or run `edge-sdk init MODEL`")
    return load_project(path), path


def _executor(spec: str) -> str:
    from edge_sdk.pipeline.executors import parse_executor

    parse_executor(spec)  # an unknown name fails here, before any model is loaded
    return spec


def _timeout(seconds: float) -> float:
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"--candidate-timeout {seconds!r}: expected a positive number of seconds")
    return float(seconds)
