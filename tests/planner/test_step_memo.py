"""Trained steps are shared: a chain of steps runs once per build, whichever targets need it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edge_sdk.data import load_dataset
from edge_sdk.model.types import LoadedModel, TensorSpec
from edge_sdk.planner.candidates import Step
from edge_sdk.planner.search import StepMemo
from edge_sdk.records import StepRecord
from edge_sdk.techniques.base import TECHNIQUES, TechniqueData

CALLS: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def counting_technique():
    def apply(model, data, config):
        CALLS.append(config["tag"])
        return dataclasses.replace(model, handle=model.handle + [config["tag"]]), StepRecord("counting", dict(config))

    TECHNIQUES._items[("counting", "keras")] = apply  # a stand-in technique: what is shared, not how it trains
    yield
    del TECHNIQUES._items[("counting", "keras")]


def test_a_chain_is_applied_once_and_prefixes_are_reused():
    spec = (TensorSpec("x", (None, 2)),)
    model = LoadedModel("keras", [], spec, spec, "memory")
    ds = load_dataset(np.zeros((4, 2), np.float32), spec)
    data = TechniqueData(train=ds, calibration=ds, teacher=model)
    memo = StepMemo()
    a, b = Step("counting", {"tag": "a"}), Step("counting", {"tag": "b"})
    first, _ = memo.apply(model, (a,), data, seed=0, quiet=True, say=lambda _: None)  # target 1
    second, _ = memo.apply(model, (a,), data, seed=0, quiet=True, say=lambda _: None)  # target 2, same step
    chained, records = memo.apply(model, (a, b), data, seed=0, quiet=True, say=lambda _: None)
    assert CALLS == ["a", "b"], "step a trained once for both targets and reused as the prefix of a -> b"
    assert first.handle == second.handle == ["a"] and chained.handle == ["a", "b"]
    assert [r.params["tag"] for r in records] == ["a", "b"]
