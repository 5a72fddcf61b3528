"""Trained steps are shared between tasks through the build cache on disk: a chain of steps runs once
per build, whichever tasks (targets, candidates, processes) need it, and a prefix is reused."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_sdk.cache import StepCache
from edge_sdk.techniques.base import TECHNIQUES, TechniqueData, register_technique
from edge_sdk.techniques.config import TechniqueConfig
from edge_sdk.contracts.task import ModelRef, Task
from edge_sdk.data import load_dataset
from edge_sdk.pipeline.evaluate import apply_steps
from edge_sdk.contracts.plan import Candidate, Step
from edge_sdk.contracts.records import StepRecord

CALLS: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def counting_technique():
    class TagConfig(TechniqueConfig):
        tag: str

    @register_technique("counting", "keras", TagConfig)  # a stand-in: what is shared, not how it trains
    def apply(model, data, config):
        CALLS.append(config.tag)
        return model, StepRecord("counting", {"tag": config.tag})

    yield
    del TECHNIQUES._items[("counting", "keras")]


def _task(tmp_path: Path, digits_loaded) -> Task:
    ref = ModelRef(digits_loaded.path, digits_loaded.sha256, False)
    dummy = None
    return Task(Candidate("c", "tflite", "float32", framework="keras"), dummy, ref, dummy, 0, tmp_path / "cache",  # type: ignore[arg-type]
                tmp_path / "out", tmp_path / "log", progress=False)


def test_a_chain_is_applied_once_and_prefixes_are_reused(tmp_path, digits_loaded, digits_paths):
    ds = load_dataset(digits_paths["calibration"], digits_loaded.inputs)
    data = TechniqueData(train=ds, calibration=ds, teacher=digits_loaded)
    task = _task(tmp_path, digits_loaded)
    a, b = Step("counting", {"tag": "a"}), Step("counting", {"tag": "b"})
    say = lambda _: None  # noqa: E731
    _, _, hits1 = apply_steps(digits_loaded, (a,), data, task, StepCache(task.cache_dir), say)  # target 1
    _, _, hits2 = apply_steps(digits_loaded, (a,), data, task, StepCache(task.cache_dir), say)  # target 2: same step
    _, records, hits3 = apply_steps(digits_loaded, (a, b), data, task, StepCache(task.cache_dir), say)
    assert CALLS == ["a", "b"], "step a trained once for both and reused as the prefix of a -> b"
    assert (hits1, hits2, hits3) == (0, 1, 1)
    assert [r.params["tag"] for r in records] == ["a", "b"]
    _, records, hits4 = apply_steps(digits_loaded, (a, b), data, task, StepCache(task.cache_dir), say)
    assert CALLS == ["a", "b"] and hits4 == 2 and [r.params["tag"] for r in records] == ["a", "b"]
