"""One model of a build, checked and planned before any task runs: the model loaded and analysed, every
data set validated and written once as .npz (what tasks load, by content hash), the targets' profiles,
fit checks and budgets. Everything a user can get wrong about a model fails here (exit 2), so no
candidate ever trains on input that a later check would reject.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from edge_sdk.artifact_metadata import ArtifactMetadata, checked_against, from_mapping
from edge_sdk.cache import StepCache, save_model
from edge_sdk.contracts.budgets import Budgets
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.contracts.task import DataRef, ModelRef, TaskData
from edge_sdk.data import Dataset, load_dataset
from edge_sdk.errors import ConfigError, DataError, ModelLoadError
from edge_sdk.model import analyze, file_sha256, load_model
from edge_sdk.model.tasks import output_kinds
from edge_sdk.planner.fit import check_fit
from edge_sdk.planner.plan_file import read_plan
from edge_sdk.profiles import Profile, get_profile


@dataclass(frozen=True)
class ModelJob:
    """One model of a build and its data (a matrix build has several)."""

    model: Any
    calibration: Any
    train_data: Any = None
    eval_data: Any = None


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
    for ds in {id(d): d for d in (cal, tr, ev)}.values():
        _check_label_range(ds, loaded)
    return BuildData(cal, tr, ev)


def _check_label_range(data: Dataset, loaded: LoadedModel) -> None:
    """Labels must name one of the first output's classes, or every accuracy is 0 vs 0 and the gate means
    nothing."""
    classes = loaded.outputs[0].shape[-1] if loaded.outputs and loaded.outputs[0].shape else None
    if data.labels is not None and isinstance(classes, int) and data.labels.size and int(data.labels.max()) >= classes:
        raise DataError(f"{data.source}: 'y' holds class index {int(data.labels.max())}, but the model's output "
                        f"{loaded.outputs[0].name!r} has {classes} classes (0-{classes - 1})")


def lengths_from_data(loaded: LoadedModel, data: BuildData) -> LoadedModel:
    """Give every dynamic non-batch dim that the model declares no range for (a Keras `Input((None,))`
    sequence) the longest size the build's data has there, as a fixed range: that is the length the app
    pads to, so memory and latency are estimated and budgets checked at it, not at 1."""
    specs = []
    for spec in loaded.inputs:
        ranges = [spec.range_of(dim) for dim in range(len(spec.shape))]
        for dim in range(1, len(spec.shape)):
            if spec.shape[dim] is None and ranges[dim] is None:
                size = max(int(ds.inputs[spec.name].shape[dim]) for ds in (data.calibration, data.train, data.eval))
                ranges[dim] = (size, size)
        specs.append(replace(spec, ranges=tuple(ranges)) if any(ranges) else spec)
    return replace(loaded, inputs=tuple(specs))


def _data_refs(data: BuildData, work: Path) -> TaskData:
    """Write each distinct data set once as .npz (what tasks load), named by its content hash."""

    def ref(ds: Dataset) -> DataRef:
        fingerprint = ds.fingerprint()
        path = work / "data" / f"{fingerprint[:16]}.npz"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            arrays = dict(ds.inputs) if ds.labels is None else {**ds.inputs, "y": ds.labels}
            np.savez(path, **arrays)
        return DataRef(path, fingerprint, ds.source)

    return TaskData(calibration=ref(data.calibration), train=ref(data.train), eval=ref(data.eval))


def _model_ref(loaded: LoadedModel, trust_model: bool, work: Path) -> ModelRef:
    """The model file tasks load: the user's file, or an in-memory model saved into the work dir."""
    if loaded.framework == "tflite":
        raise ModelLoadError("edge-sdk build takes Keras or PyTorch models; a .tflite is already converted "
                             "(use `edge-sdk inspect` or `edge-sdk bench` on it)")
    if loaded.path is not None and loaded.sha256 is not None:
        return ModelRef(loaded.path, loaded.sha256, trust_model)
    directory = work / "model"
    directory.mkdir(parents=True, exist_ok=True)
    path = save_model(loaded, directory)
    return ModelRef(path, file_sha256(path), True)  # written by us from the caller's own object


@dataclass(frozen=True)
class PreparedModel:
    """One model, checked and planned for every target: all a (model, target) search needs."""

    loaded: LoadedModel
    info: Any
    data: BuildData
    kinds: dict[str, str]
    described: ArtifactMetadata
    profiles: list[tuple[str, Profile]]
    fits: dict[str, Any]
    budgets: dict[str, Budgets]
    planned: dict[str, list]
    model_ref: ModelRef
    task_data: TaskData
    cache_dir: Path
    work: Path
    seed: int
    search: str
    quiet: bool
    timings: dict[str, float]


def prepare(job: ModelJob, work: Path, *, budget_overrides: dict[str, dict[str, Any]] | None, search: str,
             plan_file: str | Path | None, profiles_dir: str | Path | None, trust_model: bool, seed: int,
             cache: StepCache | None, tasks: dict[str, str] | None,
             metadata: ArtifactMetadata | Mapping[str, Any] | None, quiet: bool, targets: list[str]) -> PreparedModel:
    """Everything the user can get wrong about one model is checked here, before any task runs."""
    timings: dict[str, float] = {}
    t = time.perf_counter()
    loaded = load_model(job.model, trust_model=trust_model)
    timings["load"] = time.perf_counter() - t
    data = load_build_data(loaded, job.calibration, job.train_data, job.eval_data)
    loaded = lengths_from_data(loaded, data)
    t = time.perf_counter()
    info = analyze(loaded)
    timings["analyze"] = time.perf_counter() - t
    kinds = output_kinds(info, tasks)
    described = checked_against(from_mapping(metadata), info, kinds, _model_name(loaded))
    profiles = [(target, get_profile(target, profiles_dir)) for target in targets]
    named: dict[str, str] = {}
    for target, profile in profiles:
        if profile.name in named:
            raise ConfigError(f"targets {named[profile.name]!r} and {target!r} are the same profile {profile.name!r} "
                              "(a family name means its default profile); list it once")
        named[profile.name] = target
    t = time.perf_counter()
    fits = {profile.name: check_fit(info, profile) for _, profile in profiles}
    for fit in fits.values():  # unsupported ops fail every target before any work (exit 2)
        fit.raise_for_unsupported()
    timings["check"] = time.perf_counter() - t
    budgets = {profile.name: _budgets(profile, target, budget_overrides) for target, profile in profiles}
    work.mkdir(parents=True, exist_ok=True)
    return PreparedModel(
        loaded=loaded, info=info, data=data, kinds=kinds, described=described, profiles=profiles, fits=fits,
        budgets=budgets, planned=read_plan(plan_file) if plan_file else {}, model_ref=_model_ref(loaded, trust_model, work),
        task_data=_data_refs(data, work), cache_dir=cache.directory if cache is not None and cache.enabled else work.parent / "cache",
        work=work, seed=seed, search=search, quiet=quiet, timings=timings,
    )


def _model_name(loaded: LoadedModel) -> str:
    """The name artifacts carry (and are named by) by default: the model file's stem, else `model`. Not
    an in-memory Keras model's own name: auto names (`functional_3`) count the models a process built,
    so two identical builds would name their files differently (`metadata: {name}` sets one)."""
    return Path(loaded.path).stem if loaded.path is not None else "model"


def _budgets(profile: Profile, target: str, overrides: dict[str, dict[str, Any]] | None) -> Budgets:
    given = (overrides or {}).get(profile.name) or (overrides or {}).get(target) or {}
    return Budgets.from_profile(profile, **given)
