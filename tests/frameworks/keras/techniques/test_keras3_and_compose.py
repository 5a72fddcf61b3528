"""Every Keras technique on a Keras 3 model (through the bridge), and techniques chained
(distill -> prune -> qat) with the sparsity surviving into the exported int8 weights."""

from __future__ import annotations

import numpy as np
import pytest

from edge_sdk.frameworks.keras.techniques import measure
from edge_sdk.frameworks.keras.techniques.qat import is_quantized
from edge_sdk.techniques.dispatch import apply_step
from tests.frameworks.keras.techniques.conftest import QUIET, int8_tflite, tiny_keras3_cnn

pytestmark = pytest.mark.slow
FAST = {**QUIET, "epochs": 2}


@pytest.fixture(scope="module")
def k3(digits):
    import dataclasses

    from edge_sdk import load_model

    model = load_model(tiny_keras3_cnn())
    assert model.bridged_from == "keras3" and type(model.handle).__module__.startswith("tf_keras")
    data = dataclasses.replace(digits.data(), teacher=model)
    return model, data


def _runs_in_litert(model, digits) -> float:
    """Export int8, run on LiteRT; top-1 accuracy (0-1) on digits_eval (the Keras 3 teacher: ~0.98)."""
    flatbuffer = int8_tflite(model.handle, digits)
    out = measure.tflite_predict(flatbuffer, digits.eval)
    return float((out.argmax(-1) == digits.eval.labels).mean())


def test_ptq_on_keras3(k3, digits):
    model, _ = k3
    assert _runs_in_litert(model, digits) >= 0.95


def test_qat_on_keras3(k3, digits):
    model, data = k3
    out, record = apply_step("qat", model, data, FAST)
    assert is_quantized(out.handle) and not is_quantized(model.handle)
    assert record.metrics["preserved"] == "none" and record.metrics["calibrated_ranges"] > 0
    assert _runs_in_litert(out, digits) >= 0.95


def test_prune_on_keras3(k3, digits):
    model, data = k3
    out, record = apply_step("prune", model, data, {**FAST, "sparsity": 0.5, "prune_epochs": 1})
    assert set(record.metrics["layer_sparsity"]) == {"conv1", "pointwise", "fc1", "probs"}
    assert min(record.metrics["layer_sparsity"].values()) >= 0.49
    assert (model.handle.get_layer("fc1").kernel.numpy() != 0).all()  # input untouched
    assert _runs_in_litert(out, digits) >= 0.9


def test_cluster_on_keras3(k3, digits):
    model, data = k3
    out, record = apply_step("cluster", model, data, {**FAST, "clusters": 8})
    assert max(record.metrics["layer_distinct_values"].values()) <= 8
    assert np.unique(out.handle.get_layer("fc1").kernel.numpy()).size <= 8
    assert _runs_in_litert(out, digits) >= 0.9


def test_lowrank_on_keras3_factorises_dense_and_pointwise_conv(k3, digits):
    model, data = k3
    out, record = apply_step("lowrank", model, data, {**FAST, "param_ratio": 0.5})
    assert set(record.metrics["layers"]) == {"pointwise", "fc1"}  # 3x3 conv and the output layer stay
    assert out.handle.get_layer("fc1_lowrank").units == record.metrics["layers"]["fc1"]["rank"]
    assert out.handle.get_layer("pointwise_lowrank").filters == record.metrics["layers"]["pointwise"]["rank"]
    assert record.metrics["params_after"] < record.metrics["params_before"]
    assert _runs_in_litert(out, digits) >= 0.9


def test_distill_on_keras3(k3, digits):
    model, data = k3
    out, record = apply_step("distill", model, data, {**QUIET, "width": 0.5, "epochs": 5})
    assert record.metrics["params_student"] < 0.5 * record.metrics["params_teacher"]
    assert out.handle.get_layer("probs").units == 10
    assert _runs_in_litert(out, digits) >= 0.8


def test_distill_then_prune_then_qat_keeps_the_sparsity_to_int8(k3, digits):
    model, data = k3
    step1, _ = apply_step("distill", model, data, {**QUIET, "width": 0.5, "epochs": 5})
    step2, pruned = apply_step("prune", step1, data, {**FAST, "sparsity": 0.6, "prune_epochs": 1})
    step3, quantized = apply_step("qat", step2, data, {**QUIET, "epochs": 1})
    assert quantized.metrics["preserved"] == "sparsity"
    exported = measure.weight_sparsity(int8_tflite(step3.handle, digits))
    assert len(exported) == 4 and min(exported.values()) >= 0.59, exported
    assert step1.handle is not model.handle and not is_quantized(step2.handle)
