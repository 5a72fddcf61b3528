"""Evaluate one task - compress, export, verify - in whatever process runs it.

The model and the data come from the files the task names (loaded once per process and kept while the
next task uses the same ones); trained steps come from, and go to, the content-addressed build cache,
each under a lock, so tasks running at once in several processes train a shared step only once.
`run_task` turns every way a task can end into a `TaskResult`: a user-actionable `EdgeSDKError`, or any
other exception with its full traceback (marked internal: the CLI reports it as a bug).
"""

from __future__ import annotations

import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

from edge_sdk.cache import StepCache, cache_key
from edge_sdk.techniques.base import TechniqueData
from edge_sdk.techniques.dispatch import apply_step
from edge_sdk.contracts.task import ModelRef, Task, TaskData, TaskError, TaskResult
from edge_sdk.data import Dataset, load_dataset
from edge_sdk.errors import EdgeSDKError
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.planner import attempt_cache
from edge_sdk.progress import reporting_to
from edge_sdk.contracts.plan import Step
from edge_sdk.contracts.records import StepRecord

Progress = Callable[[str], None]
_loaded: dict[tuple, object] = {}  # the last model and data this process loaded, by content hash


def run_task(task: Task, say: Progress) -> TaskResult:
    """evaluate(task), with any exception recorded in the result instead of raised."""
    start = time.perf_counter()
    try:
        with reporting_to(say):
            return evaluate(task, say)
    except EdgeSDKError as exc:
        error = TaskError("error", type(exc).__name__, str(exc), internal=False, traceback=traceback.format_exc())
    except Exception as exc:  # noqa: BLE001 - a bug, ours or a library's: recorded with its traceback, never hidden
        error = TaskError("exception", type(exc).__name__, str(exc) or repr(exc), internal=True,
                          traceback=traceback.format_exc())
        sys.stderr.write(error.traceback)  # into the task's log, and so into build.log
    return TaskResult(wall_s=time.perf_counter() - start, error=error)


def evaluate(task: Task, say: Progress) -> TaskResult:
    from edge_sdk.formats import FORMATS, ExportConfig
    from edge_sdk.verify import verify

    start = time.perf_counter()
    model = _model(task.model)
    data = _technique_data(task.data, model, task.output_kinds)
    cache = StepCache(task.cache_dir)
    cand = task.candidate
    key = attempt_cache.attempt_key(model, data, data.eval.fingerprint(), cand, task.profile, task.seed, task.min_fidelity,
                                    task.metadata)
    with cache.lock(key):
        restored = attempt_cache.restore(cache, key, cand.name, task.out_dir)
        for line in cache.discarded:
            say(f"  {line}")
        if restored is not None:
            artifact, _, verification, records = restored
            say(f"  {cand.name}: artifact and verification reused from the build cache")
            return TaskResult(artifact, verification, tuple(records), wall_s=time.perf_counter() - start, cache_hits=1,
                              cache_discarded=len(cache.discarded))
        seen = len(cache.discarded)
        compressed, records, hits = apply_steps(model, cand.steps, data, task, cache, say)
        for line in cache.discarded[seen:]:
            say(f"  {line}")
        timings = {"compress": time.perf_counter() - start}
        t = time.perf_counter()
        if task.out_dir.exists():  # a cancelled speculative run of this rung may have left files
            shutil.rmtree(task.out_dir)
        task.out_dir.mkdir(parents=True)
        config = ExportConfig(
            precision=cand.precision, io_dtype=cand.io_dtype, calibration=data.calibration,
            coreml_compression=cand.coreml_compression, sparsity_aware=cand.sparsity > 0,
            dense_per_tensor=cand.dense_per_tensor, tuned=cand.tuned, min_fidelity=task.min_fidelity, output_kinds=task.output_kinds,
            seed=task.seed, metadata=task.metadata,
        )
        artifact = FORMATS.get(cand.fmt).exporter(compressed, task.profile, config, task.out_dir)
        timings["export"] = time.perf_counter() - t
        t = time.perf_counter()
        verification = verify(artifact, model, data.eval, kinds=task.output_kinds)
        timings["verify"] = time.perf_counter() - t
        attempt_cache.save(cache, key, artifact, task.out_dir, verification, records)
    return TaskResult(artifact, verification, tuple(records), timings, time.perf_counter() - start, hits,
                      cache_discarded=len(cache.discarded))


def apply_steps(model: LoadedModel, steps: tuple[Step, ...], data: TechniqueData, task: Task, cache: StepCache,
                say: Progress) -> tuple[LoadedModel, list[StepRecord], int]:
    """Apply a chain of steps, reusing the longest prefix already in the cache (only its model is loaded)."""
    keys = step_keys(model.sha256, data.train.fingerprint(), steps, task.seed, task.output_kinds)
    current, records, hits = model, [], 0
    for i, step in enumerate(steps):
        with cache.lock(keys[i]):
            later_cached = i + 1 < len(steps) and cache.has(keys[i + 1])
            if later_cached and (record := cache.get_record(keys[i])) is not None:
                records.append(record)  # the next prefix is stored too: skip loading this model
                hits += 1
                continue
            cached = cache.get_step(keys[i], current, step.technique)
            if cached is not None:
                current, record = cached
                hits += 1
                say(f"  {step.technique}: reused from the build cache")
            else:
                say(f"  {step.describe()}")
                config = {**step.params, "seed": task.seed, "progress": task.progress}
                current, record = apply_step(step.technique, current, data, config)
                cache.put_step(keys[i], current, record)
        records.append(record)
    return current, records, hits


def step_keys(model_sha256: str, train_fingerprint: str, steps: tuple[Step, ...], seed: int,
              output_kinds: dict[str, str] | None) -> list[str]:
    """The build-cache key of each prefix of a chain of steps: what tasks sharing a trained step share
    (an executor can also compute them from a Task alone, to run a shared step once before its dependants).
    The outputs' kinds are in it: they choose the fine-tuning loss of each output."""
    return [cache_key(model_sha256, train_fingerprint, [s.key() for s in steps[: i + 1]],
                      {**steps[i].params, "seed": seed, "output_kinds": output_kinds})
            for i in range(len(steps))]


def _model(ref: ModelRef) -> LoadedModel:
    from edge_sdk.model import load_model

    key = ("model", ref.sha256)
    if key not in _loaded:
        loaded = load_model(ref.path, trust_model=ref.trust_model)
        if loaded.sha256 != ref.sha256:
            raise EdgeSDKError(f"{ref.path} changed while the build was running; run the build again")
        _loaded.clear()
        _loaded[key] = loaded
    return _loaded[key]  # type: ignore[return-value]


def _technique_data(refs: TaskData, model: LoadedModel, kinds: dict[str, str] | None) -> TechniqueData:
    def dataset(path: Path, fingerprint: str, purpose: str) -> Dataset:
        key = ("data", fingerprint, model.sha256)
        if key not in _loaded:
            _loaded[key] = load_dataset(path, model.inputs, purpose=purpose)
        return _loaded[key]  # type: ignore[return-value]

    cal = dataset(refs.calibration.path, refs.calibration.fingerprint, "calibration")
    train = dataset(refs.train.path, refs.train.fingerprint, "training")
    ev = dataset(refs.eval.path, refs.eval.fingerprint, "eval")
    return TechniqueData(train=train, calibration=cal, teacher=model, eval=ev, output_kinds=tuple((kinds or {}).values()))
