"""Declared technique configs: defaults, ranges and the one-line errors naming technique and field."""

from __future__ import annotations

import pytest

from edge_sdk.errors import ConfigError
from edge_sdk.techniques.base import TECHNIQUES
from edge_sdk.techniques.dispatch import validate_step


@pytest.mark.parametrize(
    "technique, framework, params, message",
    [
        ("prune", "keras", {"sparsity": 1.5}, r"^prune: sparsity must be in \(0, 1\); got 1.5$"),
        ("prune", "torch", {"sparsity": 0}, r"^prune: sparsity must be in \(0, 1\); got 0$"),
        ("prune", "torch", {"structure": "rows"}, r"structure must be one of unstructured, channel; got 'rows'"),
        ("distill", "keras", {"width": 1.5}, r"^distill: width must be in \(0, 1\]; got 1.5$"),
        ("cluster", "keras", {"clusters": 1}, r"^cluster: clusters must be >= 2; got 1$"),
        ("lowrank", "keras", {"rank_fraction": 1.0}, r"rank_fraction must be in \(0, 1\) or null; got 1.0"),
        ("qat", "torch", {"epochs": 0}, r"^qat: epochs must be >= 1; got 0$"),
        ("qat", "keras", {"learning_rate": "fast"}, r"learning_rate must be > 0; got 'fast'"),
        ("ptq", "torch", {"mode": "int4"}, r"mode must be one of int8, dynamic-int8; got 'int4'"),
        ("prune", "keras", {"sparsty": 0.5}, r"^prune: unknown field 'sparsty'; valid: .*\bsparsity\b"),
        ("prune", "keras", {"structure": "rows"}, r"structure must be one of unstructured, channel; got 'rows'"),
        ("prune", "keras", {"structure": "channel", "m_by_n": [2, 4]}, r"does not combine with structure: channel"),
        ("qat", "keras", {"per_channel": False}, r"unknown field 'per_channel'"),  # the torch qat's key
        ("prune", "keras", {"seed": 1}, r"seed is set by the build"),
    ],
)
def test_bad_params_name_technique_field_and_range(technique, framework, params, message):
    with pytest.raises(ConfigError, match=message):
        validate_step(technique, params, framework)


def test_every_rung_param_the_planner_uses_is_declared():
    validate_step("prune", {"sparsity": 0.5, "qat": True}, "keras")
    validate_step("prune", {"sparsity": 0.5, "structure": "channel", "qat": True}, "keras")
    validate_step("cluster", {"clusters": 16, "qat": True}, "keras")
    validate_step("lowrank", {"rank_fraction": 0.25}, "keras")
    validate_step("ptq", {"mode": "dynamic-int8"}, "torch")
    validate_step("distill", {"width": 0.35}, "torch")


def test_defaults_are_declared_once_per_technique():
    keras_prune = TECHNIQUES.get("prune", "keras").config()
    torch_prune = TECHNIQUES.get("prune", "torch").config()
    assert (keras_prune.sparsity, keras_prune.epochs, keras_prune.qat_epochs) == (0.8, 8, 4)
    assert (torch_prune.sparsity, torch_prune.structure, torch_prune.epochs) == (0.5, "unstructured", 3)
    qat = TECHNIQUES.get("qat", "keras").config()
    assert (qat.batch_size, qat.patience, qat.temperature, qat.learning_rate, qat.seed, qat.progress) == (32, 2, 2.0, 1e-4, 0, True)


def test_configs_are_frozen():
    cfg = TECHNIQUES.get("distill", "keras").config()
    with pytest.raises(Exception, match="frozen"):
        cfg.width = 0.1
