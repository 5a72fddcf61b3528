"""Width-scaled distillation keeps every output's shape (issue 12): the layer whose `filters`/`units`
reach an output through shape-preserving layers stays whole, also behind GlobalAveragePooling ->
Softmax and on every output of a multi-output model; the student then trains and exports."""

from __future__ import annotations

import numpy as np
import pytest

from edge_sdk.techniques.base import TechniqueData
from edge_sdk.techniques.dispatch import apply_step
from tests.frameworks.keras.techniques.conftest import QUIET

pytestmark = pytest.mark.slow

CONFIG = {**QUIET, "width": 0.5, "epochs": 1, "batch_size": 16}


def _residual_trunk(tfk, inputs):
    layers = tfk.layers
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="stem")(inputs)
    short = layers.Conv2D(16, 1, strides=2, name="short")(x)
    x = layers.SeparableConv2D(16, 3, padding="same", name="sep")(x)
    x = layers.BatchNormalization(name="sep_bn")(x)
    x = layers.MaxPooling2D(2, name="pool")(x)
    return layers.Add(name="add")([x, short])


def conv_gap_softmax_head():
    """Residual separable-conv trunk, then Conv2D(7) -> GlobalAveragePooling -> Softmax (no Dense)."""
    from edge_sdk import deps

    tfk = deps.tf_keras()
    tfk.utils.set_random_seed(0)
    inputs = tfk.Input((16, 16, 1), name="image")
    x = tfk.layers.Conv2D(7, 3, padding="same", name="classifier")(_residual_trunk(tfk, inputs))
    x = tfk.layers.GlobalAveragePooling2D(name="gap")(x)
    return tfk.Model(inputs, tfk.layers.Activation("softmax", name="probs")(x))


def two_outputs():
    """The same trunk with two heads: a Dense(5) softmax, and the residual add itself pooled (so both
    of the add's branches reach an output)."""
    from edge_sdk import deps

    tfk = deps.tf_keras()
    tfk.utils.set_random_seed(0)
    inputs = tfk.Input((16, 16, 1), name="image")
    trunk = _residual_trunk(tfk, inputs)
    pooled = tfk.layers.GlobalAveragePooling2D(name="gap")(trunk)
    hidden = tfk.layers.Dense(32, activation="relu", name="hidden")(pooled)
    probs = tfk.layers.Dense(5, activation="softmax", name="probs")(hidden)
    features = tfk.layers.Activation("linear", name="features")(pooled)
    return tfk.Model(inputs, [probs, features])


def _loaded(handle):
    from edge_sdk.model import load_model

    return load_model(handle)


def _data(model, n=64):
    from edge_sdk.data import Dataset

    x = np.random.default_rng(0).uniform(0, 1, (n, 16, 16, 1)).astype(np.float32)
    train = Dataset({model.inputs[0].name: x}, None, "train")
    return TechniqueData(train=train, calibration=train, teacher=model, eval=train)


def _shapes(handle):
    return [tuple(t.shape[1:]) for t in handle.outputs]


def test_conv_gap_softmax_head_keeps_the_classifier_conv():
    from edge_sdk.frameworks.keras.techniques.ptq import QuantSpec, convert_to_tflite

    teacher = _loaded(conv_gap_softmax_head())
    student, record = apply_step("distill", teacher, _data(teacher), CONFIG)
    assert _shapes(student.handle) == _shapes(teacher.handle) == [(7,)]
    assert student.handle.get_layer("classifier").filters == 7
    assert set(record.metrics["scaled_layers"]) == {"stem", "short", "sep"}
    assert student.handle.get_layer("sep").filters == 8
    assert record.metrics["epochs_run"] == 1 and np.isfinite(record.metrics["final_loss"])
    assert record.metrics["params_student"] < record.metrics["params_teacher"]
    flatbuffer, _ = convert_to_tflite(student.handle, QuantSpec("int8"), _data(teacher).calibration)
    assert len(flatbuffer) > 0


def test_two_output_model_keeps_both_output_shapes_and_trains():
    teacher = _loaded(two_outputs())
    student, record = apply_step("distill", teacher, _data(teacher), {**CONFIG, "init": "random"})
    assert _shapes(student.handle) == _shapes(teacher.handle) == [(5,), (16,)]
    # both branches of the add reach the `features` output, so both keep 16 channels; `hidden` scales
    assert set(record.metrics["scaled_layers"]) == {"stem", "hidden"}
    assert student.handle.get_layer("hidden").units == 16
    assert record.metrics["epochs_run"] == 1 and np.isfinite(record.metrics["final_loss"])
    assert 0.0 <= record.metrics["eval_top1_agreement"] <= 1.0


def test_mini_xception_head_distils_at_half_width():
    """The model the defect was measured on: `distill0.5` crashed with `Dimensions must be equal, but
    are 7 and 4` (the classifier conv was scaled to 4 filters)."""
    from tests.frameworks.keras.techniques.xception import mini_xception

    teacher = _loaded(mini_xception())
    x = np.random.default_rng(0).uniform(0, 1, (32, 48, 48, 1)).astype(np.float32)
    from edge_sdk.data import Dataset

    train = Dataset({teacher.inputs[0].name: x}, None, "train")
    student, record = apply_step("distill", teacher, TechniqueData(train, train, teacher), CONFIG)
    assert _shapes(student.handle) == [(7,)]
    assert "conv2d_6" not in record.metrics["scaled_layers"] and "separable_conv2d_7" in record.metrics["scaled_layers"]
    assert record.metrics["params_ratio"] < 0.4
