"""Cross-layer equalization (`equalize`, the int8-cle rung): which chains it rescales, that the float
function is unchanged, and that it balances an activation tensor whose channels span very different ranges."""

from __future__ import annotations

import numpy as np

from edge_sdk import analyze, deps, load_model
from edge_sdk.data import Dataset
from edge_sdk.frameworks.keras.reference import keras_outputs
from edge_sdk.frameworks.keras.techniques.equalize import find_pairs
from edge_sdk.techniques.base import TechniqueData
from edge_sdk.techniques.dispatch import apply_step


def _model():
    """Rescalable: stem -> bn -> PReLU -> pool -> c2 (BN is the producer: it is the last affine op);
    c2 -> ReLU -> Flatten -> fc, with a two-head fan-out from fc through a ReLU. Not rescalable: c3 (ReLU6),
    the residual Add, and the heads (model outputs)."""
    keras = deps.tf_keras()
    keras.utils.set_random_seed(3)
    L = keras.layers
    inp = L.Input((8, 8, 2), name="x")
    x = L.Conv2D(6, 3, padding="same", name="stem")(inp)
    x = L.BatchNormalization(name="bn")(x)
    x = L.PReLU(shared_axes=[1, 2], name="prelu")(x)
    x = L.MaxPooling2D(name="pool")(x)
    x = L.Conv2D(6, 1, name="c2")(x)
    y = L.Conv2D(6, 1, activation="relu6", name="c3")(x)
    x = L.Add(name="add")([x, L.Conv2D(6, 1, name="c4")(y)])
    x = L.ReLU(name="relu")(x)
    x = L.Flatten(name="flat")(x)
    x = L.Dense(12, activation="relu", name="fc")(x)
    heads = [L.Dense(3, name="boxes")(x), L.Dense(2, activation="softmax", name="scores")(x)]
    model = keras.Model(inp, heads)
    rng = np.random.default_rng(0)
    bn = model.get_layer("bn")
    gamma = np.ones(6, np.float32)
    gamma[0] = 40.0  # one channel 40x wider than the others, as in real pretrained nets
    bn.set_weights([gamma, rng.normal(0, 0.1, 6).astype(np.float32), rng.normal(0, 0.1, 6).astype(np.float32),
                    np.abs(rng.normal(1, 0.1, 6)).astype(np.float32)])
    return model


def test_finds_the_chains_that_keep_the_function_and_only_those():
    pairs = {p.producer.name: [c.name for c in p.consumers] for p in find_pairs(_model())}
    assert pairs == {"bn": ["c2"], "fc": ["boxes", "scores"]}
    assert analyze(load_model(_model())).equalizable_chains == 2


def test_equalize_keeps_the_float_outputs_and_balances_the_wide_channel():
    model = load_model(_model())
    x = {"x": np.random.default_rng(1).normal(size=(64, 8, 8, 2)).astype(np.float32)}
    data = Dataset(x, None, "test")
    equalized, record = apply_step("equalize", model, TechniqueData(data, data, model), {"progress": False})
    for before, after in zip(keras_outputs(model.handle, x), keras_outputs(equalized.handle, x)):
        np.testing.assert_allclose(after, before, rtol=1e-4, atol=1e-5)
    bn = record.metrics["pairs"]["bn"]
    assert bn["activation_range_ratio_before"] > 10 and bn["activation_range_ratio_after"] < bn["activation_range_ratio_before"] / 3
    assert model.handle.get_layer("bn").get_weights()[0][0] == 40.0  # the input model is left as it was


def test_a_layer_object_as_activation_is_not_taken_for_relu():
    keras = deps.tf_keras()
    L = keras.layers
    inp = L.Input((4,), name="x")
    hidden = L.Dense(8, activation=L.LeakyReLU(), name="hidden")(inp)  # a callable without __name__
    model = keras.Model(inp, L.Dense(2, name="out")(hidden))
    assert find_pairs(model) == [] and analyze(load_model(model)).equalizable_chains == 0
