"""Fine-tuning keeps BatchNormalization in inference mode: its moving statistics and scale/offset come
out as they went in. In training mode a few hundred samples in batches of 32 replaced them (a
keras.applications MobileNet: label-free QAT from 0.90 top-1 agreement to 0.80, channel pruning and
low-rank to chance)."""

from __future__ import annotations

import numpy as np
import pytest

from edge_sdk.techniques.dispatch import apply_step
from tests.frameworks.keras.techniques.conftest import QUIET

pytestmark = pytest.mark.slow


def conv_bn_model():
    from edge_sdk import deps

    tfk = deps.tf_keras()
    tfk.utils.set_random_seed(0)
    inputs = tfk.Input((8, 8, 3), name="image")
    x = tfk.layers.Conv2D(8, 3, padding="same", use_bias=False, name="conv")(inputs)
    x = tfk.layers.BatchNormalization(name="bn")(x)
    x = tfk.layers.ReLU(name="relu")(x)
    x = tfk.layers.GlobalAveragePooling2D(name="gap")(x)
    x = tfk.layers.Dense(16, activation="relu", name="hidden")(x)
    return tfk.Model(inputs, tfk.layers.Dense(4, activation="softmax", name="probs")(x))


def _bn_weights(handle):
    from edge_sdk.frameworks.keras.techniques.training import find_layer

    layer = find_layer(handle, "bn")
    inner = getattr(layer, "layer", layer)
    return [w.numpy() for w in (inner.gamma, inner.beta, inner.moving_mean, inner.moving_variance)]


@pytest.mark.parametrize("step, params", [("qat", {}), ("prune", {"sparsity": 0.5})])
def test_fine_tuning_leaves_batch_norm_statistics_as_trained(step, params):
    from edge_sdk.data import Dataset
    from edge_sdk.model import load_model
    from edge_sdk.techniques.base import TechniqueData

    model = load_model(conv_bn_model())
    x = np.random.default_rng(0).normal(3.0, 2.0, (96, 8, 8, 3)).astype(np.float32)  # far from BN's init stats
    train = Dataset({model.inputs[0].name: x}, None, "train")
    before = _bn_weights(model.handle)
    out, record = apply_step(step, model, TechniqueData(train=train, calibration=train, teacher=model, eval=None),
                             {**QUIET, **params, "epochs": 2})
    for a, b in zip(before, _bn_weights(out.handle)):
        np.testing.assert_array_equal(a, b)
    assert record.metrics["batch_norm_frozen"] == 1
    assert model.handle.get_layer("bn").trainable, "the caller's model is not changed"


def conv1d_bn_model():
    """Conv1D -> BN (no fused Conv+BN pattern in TFMOT) -> GAP -> Dense: the zoo's keyword-spotting net."""
    from edge_sdk import deps

    tfk = deps.tf_keras()
    tfk.utils.set_random_seed(0)
    inputs = tfk.Input((16, 6), name="mfcc")
    x = tfk.layers.Conv1D(8, 3, use_bias=False, name="conv")(inputs)
    x = tfk.layers.ReLU(name="relu")(tfk.layers.BatchNormalization(name="bn")(x))
    x = tfk.layers.Dense(16, activation="relu", name="hidden")(tfk.layers.GlobalAveragePooling1D(name="gap")(x))
    return tfk.Model(inputs, tfk.layers.Dense(4, activation="softmax", name="probs")(x))


@pytest.mark.parametrize("step, params", [("prune", {"sparsity": 0.5, "qat": True}), ("cluster", {"clusters": 4, "qat": True})])
def test_preserving_qat_after_a_frozen_fine_tune_leaves_a_lone_batch_norm_float(step, params):
    """Pruning then pruning-preserving QAT (and clustering + CQAT): a BatchNorm left frozen by the first
    fine-tune looked weightless to TFMOT's preserving registries, was annotated, and quantize_apply
    failed (`get_quantize_config() called on an unsupported layer BatchNormalization`)."""
    from edge_sdk.data import Dataset
    from edge_sdk.model import load_model
    from edge_sdk.techniques.base import TechniqueData

    model = load_model(conv1d_bn_model())
    x = np.random.default_rng(0).normal(0.0, 1.0, (64, 16, 6)).astype(np.float32)
    train = Dataset({model.inputs[0].name: x}, None, "train")
    out, record = apply_step(step, model, TechniqueData(train=train, calibration=train, teacher=model, eval=None),
                             {**QUIET, **params, "epochs": 1})
    assert record.metrics["batch_norm_frozen"] == 1  # the QAT fine-tune ran with BN frozen too
