"""Channel (structured) pruning for TFLite Micro (issue 12): unstructured zeros give TFLM nothing and a
sparse conversion emits DENSIFY, which it cannot run; removing channels shrinks MACs, flash and the
arena and exports dense. The cortex-m ladder uses it instead of unstructured pruning."""

from __future__ import annotations

import numpy as np
import pytest

from edge_sdk.frameworks.keras.techniques.channels import prune_channels
from edge_sdk.techniques.dispatch import apply_step
from tests.frameworks.keras.techniques.conftest import QUIET


def residual_without_norms():
    """Conv -> [1x1 stride-2 conv | separable conv -> pool] -> Add -> Flatten -> Dense -> Dense: no
    BatchNorm, so zeroing a channel's weights in the original removes exactly that channel."""
    from edge_sdk import deps

    tfk = deps.tf_keras()
    layers = tfk.layers
    tfk.utils.set_random_seed(0)
    inputs = tfk.Input((8, 8, 1), name="image")
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="stem")(inputs)
    short = layers.Conv2D(12, 1, strides=2, name="short")(x)
    branch = layers.SeparableConv2D(12, 3, padding="same", activation="relu", name="sep")(x)
    x = layers.Add(name="add")([layers.MaxPooling2D(2, name="pool")(branch), short])
    x = layers.Dense(16, activation="relu", name="hidden")(layers.Flatten(name="flat")(layers.ReLU(name="relu")(x)))
    return tfk.Model(inputs, layers.Dense(5, name="logits")(x))


def _with_channels_zeroed(model, kept: dict):
    """A copy of `model` whose removed output channels (weights and bias) are zero."""
    from edge_sdk.frameworks.keras.techniques.training import copy_model

    clone = copy_model(model)
    for name, indices in kept.items():
        layer = clone.get_layer(name)
        weights = layer.get_weights()
        removed = np.setdiff1d(np.arange(weights[-1].shape[0]), indices)
        for i, w in enumerate(weights):
            if not (type(layer).__name__ == "SeparableConv2D" and i == 0):  # the depthwise half has no output channels
                w[..., removed] = 0
        layer.set_weights(weights)
    return clone


def test_pruned_model_computes_what_the_original_does_without_the_removed_channels():
    model = residual_without_norms()
    pruned, info = prune_channels(model, 0.5)
    assert info["channels"] == {"stem": [8, 4], "short": [12, 6], "sep": [12, 6], "hidden": [16, 8]}
    assert info["left_whole"] == ["logits"]  # its width is the output's
    assert info["kept"]["short"] == info["kept"]["sep"]  # the add couples them: the same channels go
    x = np.random.default_rng(0).uniform(0, 1, (8, 8, 8, 1)).astype(np.float32)
    np.testing.assert_allclose(
        pruned.predict(x, verbose=0), _with_channels_zeroed(model, info["kept"]).predict(x, verbose=0), atol=1e-5
    )
    assert pruned.count_params() < 0.45 * model.count_params()


def test_channels_reaching_an_output_or_an_unknown_layer_stay(digits_loaded):
    from tests.frameworks.keras.techniques.test_distill_heads import conv_gap_softmax_head

    _, info = prune_channels(conv_gap_softmax_head(), 0.5)
    assert "classifier" in info["left_whole"] and "classifier" not in info["channels"]
    _, info = prune_channels(digits_loaded.handle, 0.5)
    assert info["channels"] == {"conv1": [16, 8], "conv2": [32, 16], "conv3": [64, 32], "fc1": [64, 32]}


def test_ladder_estimates_match_the_pruned_model(digits_loaded):
    """The structured rung's params_scale is what channel pruning really leaves."""
    from edge_sdk import analyze, get_profile
    from edge_sdk.planner.ladder import build_ladder

    rung = {c.name: c for c in build_ladder(analyze(digits_loaded), get_profile("cortex-m"))}["prune-channels50-qat-int8"]
    pruned, _ = prune_channels(digits_loaded.handle, 0.5)
    actual = pruned.count_params() / digits_loaded.handle.count_params()
    assert rung.params_scale == pytest.approx(actual, rel=0.02)
    assert rung.macs_scale < 0.3 and rung.activation_scale == pytest.approx(0.5, abs=0.05)


@pytest.mark.slow
def test_cortex_m_structured_rung_exports_dense_and_shrinks_flash_and_arena(digits, tmp_path):
    from edge_sdk import analyze, get_profile
    from edge_sdk.formats import FORMATS, ExportConfig
    from edge_sdk.planner.ladder import build_ladder

    profile = get_profile("cortex-m")
    ladder = {c.name: c for c in build_ladder(analyze(digits.model), profile)}
    rung = ladder["prune-channels50-qat-int8"]
    (step,) = rung.steps
    model, record = apply_step(step.technique, digits.model, digits.data(), {**step.params, **QUIET, "epochs": 2, "qat_epochs": 1})
    assert record.metrics["params_after"] < 0.3 * record.metrics["params_before"]

    def export(m, name, cand):
        config = ExportConfig(precision="int8", io_dtype="int8", calibration=digits.calibration,
                              sparsity_aware=cand.sparsity > 0)  # as the build exports a rung
        return FORMATS.get("tflm").exporter(m, profile, config, tmp_path / name)

    pruned = export(model, "pruned", rung)
    dense = export(digits.model, "int8", ladder["int8"])
    assert "DENSIFY" not in pruned.details["ops"] and pruned.details["ops"] == dense.details["ops"]
    assert pruned.bytes < 0.5 * dense.bytes
    assert pruned.arena.basis_bytes < dense.arena.basis_bytes
