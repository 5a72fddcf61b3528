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


WIDTH_KEYS = ("filters", "units")  # the config keys that set a layer's output channel count


def sets_width(layer: Any) -> bool:
    config = layer.get_config() if hasattr(layer, "get_config") else {}
    return any(isinstance(config.get(key), int) for key in WIDTH_KEYS)


def inbound_layers(layer: Any) -> list[Any]:
    """The layers feeding `layer`, over every call of it."""
    found = []
    for node in getattr(layer, "_inbound_nodes", []):
        inbound = node.inbound_layers
        found += inbound if isinstance(inbound, (list, tuple)) else [inbound]
    return found


def output_width_layers(handle: Any) -> set[str]:
    """Names of the layers whose `filters`/`units` set an output's channel count.

    Walks back from each model output through layers that set no width of their own (pooling,
    flatten, reshape, activations, BN, depthwise convs, adds, concats): the first layer on each path
    that sets a width decides the output's shape, so width-changing steps must keep it. A Conv2D(7)
    -> GlobalAveragePooling -> Softmax head keeps the Conv2D; a residual add before the output keeps
    every branch's last conv. For every output of a multi-output model.
    """
    kept: set[str] = set()
    seen: set[int] = set()
    frontier = [t._keras_history.layer for t in handle.outputs]
    while frontier:
        layer = frontier.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if sets_width(layer):
            kept.add(layer.name)
        else:
            frontier += inbound_layers(layer)
    return kept


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
