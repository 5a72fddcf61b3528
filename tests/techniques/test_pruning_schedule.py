"""The pruning schedule shared by the Keras and PyTorch `prune` (issue 19): global targets keep the
total, spare layers of large weights, never empty one; the cubic ramp starts at 0 and ends on target."""

from __future__ import annotations

import numpy as np

from edge_sdk.techniques.pruning_schedule import MAX_LAYER_SPARSITY, layer_sparsities, ramp


def _layers():
    rng = np.random.default_rng(0)
    return {"first": rng.normal(0, 1.0, 300), "big": rng.normal(0, 0.05, 20000), "head": rng.normal(0, 0.5, 1000)}


def test_local_scope_gives_every_layer_the_same_target():
    assert set(layer_sparsities(_layers(), 0.8, "local").values()) == {0.8}


def test_global_scope_keeps_the_total_and_spares_layers_of_large_weights():
    layers = _layers()
    targets = layer_sparsities(layers, 0.8, "global")
    total = sum(targets[n] * w.size for n, w in layers.items()) / sum(w.size for w in layers.values())
    assert abs(total - 0.8) < 0.01
    assert targets["first"] < targets["head"] < 0.8 < targets["big"] <= MAX_LAYER_SPARSITY


def test_no_layer_is_emptied():
    layers = {"tiny": np.full(100, 1e-6), "large": np.random.default_rng(1).normal(0, 1, 100)}
    assert layer_sparsities(layers, 0.5, "global")["tiny"] == MAX_LAYER_SPARSITY


def test_the_ramp_is_cubic_from_zero_to_the_target():
    assert ramp(0, 100, 0.8) == 0.0 and ramp(100, 100, 0.8) == 0.8 and ramp(500, 100, 0.8) == 0.8
    assert ramp(50, 100, 0.8) == 0.8 * (1 - 0.5**3)
    assert ramp(0, 0, 0.8) == 0.8  # one-shot
