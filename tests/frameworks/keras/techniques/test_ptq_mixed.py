"""int8-mixed: ops go back to float, most sensitive first, until the outputs meet the fidelity floor."""

from __future__ import annotations

import numpy as np
import pytest

from edge_sdk import deps, load_model
from edge_sdk.data import Dataset
from edge_sdk.formats.tflite.runner import run
from edge_sdk.frameworks.keras.reference import run as reference
from edge_sdk.frameworks.keras.techniques.ptq import QuantSpec, convert_to_tflite
from edge_sdk.verify import fidelity


def _fragile_classifier():
    """A hidden tensor with one channel 3000x wider than the rest (a channel the next layer ignores):
    per-tensor int8 leaves the other channels almost no levels, so plain int8 loses the argmax. Keeping
    only `hidden` float does not help (`back` would quantize the same tensor again); the tensor must
    stay float: `hidden` and its reader."""
    keras = deps.tf_keras()
    keras.utils.set_random_seed(0)
    L = keras.layers
    inp = L.Input((16,), name="x")
    x = L.Dense(32, activation="relu", name="front")(inp)
    x = L.Dense(64, name="hidden")(x)
    x = L.Dense(32, activation="relu", name="back")(x)
    out = L.Dense(10, activation="softmax", name="probs")(x)
    model = keras.Model(inp, out, name="fragile")  # tensor names start with it
    scale = {"hidden": lambda k: k * np.r_[3000.0, np.ones(63)].astype(np.float32),
             "back": lambda k: k * np.r_[0.0, np.ones(63)].astype(np.float32)[:, None],
             "probs": lambda k: k * 20.0}  # confident logits, like a trained head
    for name, change in scale.items():
        kernel, bias = model.get_layer(name).get_weights()
        model.get_layer(name).set_weights([change(kernel), bias])
    return model


def test_mixed_keeps_the_sensitive_op_float_until_the_floor_holds():
    model = load_model(_fragile_classifier())
    rng = np.random.default_rng(0)
    calibration = Dataset({"x": rng.normal(size=(200, 16)).astype(np.float32)}, None, "calibration")
    evaluation = {"x": rng.normal(size=(300, 16)).astype(np.float32)}
    ref = reference(model, evaluation)

    def top1(flatbuffer: bytes) -> float:
        return fidelity(ref, run(flatbuffer, evaluation, reference=model)).outputs[0].metrics["top1_agreement"]

    plain, _ = convert_to_tflite(model.handle, QuantSpec("int8"), calibration)
    mixed, record = convert_to_tflite(model.handle, QuantSpec("int8-mixed", min_fidelity={"top1_agreement": 0.99}), calibration)
    assert top1(plain) < 0.9
    assert record.metrics["floor_met_on_calibration"] and record.metrics["keep_float"] == 1
    assert record.notes[0].startswith("kept float: fragile/hidden/MatMul1 and its readers fragile/back/"), record.notes
    assert top1(mixed) >= 0.98


def test_the_artifact_says_which_tensors_stayed_float_and_why(tmp_path):
    from edge_sdk import get_profile
    from edge_sdk.formats import FORMATS, ExportConfig

    model = load_model(_fragile_classifier())
    calibration = Dataset({"x": np.random.default_rng(0).normal(size=(200, 16)).astype(np.float32)}, None, "calibration")
    config = ExportConfig(precision="int8-mixed", calibration=calibration, min_fidelity={"top1_agreement": 0.99})
    artifact = FORMATS.get("tflite")(model, get_profile("android"), config, tmp_path)
    assert artifact.details["kept_float"][0].startswith("kept float: fragile/hidden/MatMul1 and its readers")
    assert artifact.details["mixed_search"] == {"1": "meets the floor"}
    # hidden (32 -> 64) and back (64 -> 32) run float: 4,096 of the 4,928 MACs (front 16 -> 32, probs 32 -> 10)
    assert artifact.details["float_macs_fraction"] == pytest.approx(4096 / (512 + 2048 + 2048 + 320), abs=1e-6)
