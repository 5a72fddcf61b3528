"""Rebuild a tf_keras model from an edited copy of its config (Sequential or Functional).

Low-rank factorisation and width-scaled students change layers' shapes; editing the model config and
rebuilding keeps the topology exactly, for both Sequential and Functional models, without code
generation. Weights of unchanged layers are copied over by layer name.
"""

from __future__ import annotations

import copy
from typing import Any

from edge_sdk import deps
from edge_sdk.errors import ConfigError, first_line


def config_of(handle: Any) -> dict:
    """A deep copy of the model's config; its "layers" list is what callers edit."""
    if type(handle).__name__ not in ("Sequential", "Functional", "Model"):
        raise ConfigError(f"model {handle.name!r} is a subclassed {type(handle).__name__}; only Sequential/Functional rebuild")
    return copy.deepcopy(handle.get_config())


def is_functional(config: dict) -> bool:
    return "input_layers" in config


def output_layer_names(handle: Any) -> set[str]:
    return set(handle.output_names)


def from_config(handle: Any, config: dict) -> Any:
    """Build a new (randomly initialised) model of `handle`'s class from `config`."""
    tfk = deps.tf_keras()
    cls = tfk.Sequential if type(handle).__name__ == "Sequential" else tfk.Model
    try:
        return cls.from_config(config)
    except (ValueError, TypeError) as exc:
        first = first_line(exc)
        raise ConfigError(f"cannot rebuild {handle.name!r} with the changed layers: {first}") from exc


def copy_weights(source: Any, target: Any, skip: set[str]) -> None:
    """Copy weights layer by layer (by name) from `source` into `target`, except layers in `skip`."""
    by_name = {layer.name: layer for layer in source.layers}
    for layer in target.layers:
        if layer.name not in skip and layer.name in by_name and layer.weights:
            layer.set_weights(by_name[layer.name].get_weights())


def call_count(entry: dict) -> int:
    """How many times a layer is called in a Functional config (1 in Sequential)."""
    return max(1, len(entry.get("inbound_nodes", [])))
