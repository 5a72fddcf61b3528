"""apply_step runs the technique of the step's name for the model's framework; names are neutral."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edge_sdk.data import load_dataset
from edge_sdk.errors import ConfigError
from edge_sdk.contracts.model import LoadedModel, TensorSpec
from edge_sdk.contracts.records import StepRecord
from edge_sdk.techniques.base import TECHNIQUES, Technique, TechniqueData
from edge_sdk.techniques.config import TechniqueConfig
from edge_sdk.techniques.dispatch import apply_step

SPEC = (TensorSpec("x", (None, 2)),)


class TagConfig(TechniqueConfig):
    tag: str = "default"


def _run(framework):
    def run(model, data, cfg):
        assert isinstance(cfg, TagConfig), "the implementation gets the parsed config, not the dict"
        return dataclasses.replace(model, handle=(framework, cfg.tag)), StepRecord("standin", {"tag": cfg.tag})

    return run


@pytest.fixture(autouse=True)
def standin_technique():
    """One technique name with an implementation per framework (removed again after each test)."""
    keys = [("standin", "keras"), ("standin", "torch")]
    for name, framework in keys:
        TECHNIQUES._items[(name, framework)] = Technique(name, framework, TagConfig, _run(framework))
    yield
    for key in keys:
        del TECHNIQUES._items[key]


def _model(framework):
    return LoadedModel(framework, None, SPEC, SPEC, "memory")


def _data(model):
    ds = load_dataset(np.zeros((4, 2), np.float32), SPEC)
    return TechniqueData(train=ds, calibration=ds, teacher=model)


@pytest.mark.parametrize("framework", ["keras", "torch"])
def test_the_models_framework_picks_the_implementation(framework):
    model = _model(framework)
    out, record = apply_step("standin", model, _data(model), {"tag": "t", "seed": 3, "progress": False})
    assert out.handle == (framework, "t") and record.params == {"tag": "t"}


def test_a_name_the_framework_lacks_lists_that_frameworks_names():
    model = _model("torch")
    with pytest.raises(ConfigError, match="unknown technique 'cluster' for a torch model; valid: decompose, distill, prune, ptq, qat, standin"):
        apply_step("cluster", model, _data(model), {})
    tflite = _model("tflite")
    with pytest.raises(ConfigError, match="for a tflite model; valid: \\(none"):
        apply_step("ptq", tflite, _data(tflite), {})


def test_the_config_is_validated_before_the_implementation_runs():
    model = _model("keras")
    with pytest.raises(ConfigError, match="standin: unknown field 'colour'; valid: tag"):
        apply_step("standin", model, _data(model), {"colour": "red"})


def test_neutral_names_of_both_frameworks():
    assert {"qat", "prune", "distill"} <= set(TECHNIQUES.names("torch")) & set(TECHNIQUES.names("keras"))
    assert "ptq" in TECHNIQUES.names("torch") and "ptq" not in TECHNIQUES.names("keras")  # Keras: at export
    assert {"cluster", "lowrank"} <= set(TECHNIQUES.names("keras")) - set(TECHNIQUES.names("torch"))
    assert not [n for n in TECHNIQUES.names() if n.startswith("torch")]
