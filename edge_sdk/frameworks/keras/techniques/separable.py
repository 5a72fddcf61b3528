"""SeparableConv2D as DepthwiseConv2D + 1x1 Conv2D, with names of our choosing, so QAT quantizes it.

Why: TFMOT's default 8-bit registry does not list SeparableConv2D; its layout transform
(`default_8bit_transforms.SeparableConvQuantize`) splits it into a DepthwiseConv2D and a Conv2D
created without a name, so Keras names them `depthwise_conv2d`, `conv2d`, `conv2d_1`, ... by its
per-process counter. `ModelTransformer` keys every layer by name, so in a model that already has a
layer of such a name (any stock model whose layers kept Keras's default names, e.g. a pretrained
mini-Xception: `conv2d`, `conv2d_1`, ...), the new pointwise conv and the model's own conv are
confused and the rebuilt model is wired wrongly: `quantize_model` fails with `Inputs have
incompatible shapes (22, 22, 8) and (22, 22, 16)` at the next Add. The split here is the same
computation (what the TFLite converter emits for a SeparableConv2D anyway), done before annotation
with names that cannot collide: the depthwise half is `<name>_depthwise` and the pointwise half keeps
the layer's own name, so consumers, BatchNorm folding, calibration and records all still find it.
"""

from __future__ import annotations

from typing import Any

from edge_sdk.frameworks.keras.techniques import rebuild

_DEPTHWISE_KEYS = ("trainable", "dtype", "kernel_size", "strides", "padding", "depth_multiplier", "data_format",
                   "dilation_rate", "depthwise_initializer", "depthwise_regularizer", "depthwise_constraint")
_POINTWISE_KEYS = {"trainable": "trainable", "dtype": "dtype", "filters": "filters", "data_format": "data_format",
                   "activation": "activation", "use_bias": "use_bias", "pointwise_initializer": "kernel_initializer",
                   "bias_initializer": "bias_initializer", "pointwise_regularizer": "kernel_regularizer",
                   "bias_regularizer": "bias_regularizer", "activity_regularizer": "activity_regularizer",
                   "pointwise_constraint": "kernel_constraint", "bias_constraint": "bias_constraint"}


def has_separable(handle: Any) -> bool:
    return any(type(layer).__name__ == "SeparableConv2D" for layer in handle.layers)


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = f"{name}_depthwise", 1
    while candidate in taken:
        candidate, n = f"{name}_depthwise_{n}", n + 1
    taken.add(candidate)
    return candidate


def _split_entry(entry: dict, depthwise_name: str, functional: bool) -> list[dict]:
    config = entry["config"]
    depthwise = {k: config[k] for k in _DEPTHWISE_KEYS if k in config}
    depthwise.update(name=depthwise_name, activation="linear", use_bias=False)
    pointwise = {new: config[old] for old, new in _POINTWISE_KEYS.items() if old in config}
    pointwise.update(name=config["name"], kernel_size=(1, 1), strides=(1, 1), padding="valid")
    first = {"class_name": "DepthwiseConv2D", "config": depthwise}
    second = {"class_name": "Conv2D", "config": pointwise}
    if functional:
        first.update(name=depthwise_name, inbound_nodes=entry.get("inbound_nodes", []))
        calls = rebuild.call_count(entry)
        second.update(name=config["name"], inbound_nodes=[[[depthwise_name, i, 0, {}]] for i in range(calls)])
    return [first, second]


def split_separable(handle: Any) -> tuple[Any, list[str]]:
    """A copy of `handle` with every SeparableConv2D split in two (same outputs) + the split layers'
    names; `handle` itself when it has none."""
    if not has_separable(handle):
        return handle, []
    config = rebuild.config_of(handle)
    functional = rebuild.is_functional(config)
    taken = {layer.name for layer in handle.layers}
    layers, split = [], {}
    for entry in config["layers"]:
        if entry["class_name"] != "SeparableConv2D":
            layers.append(entry)
            continue
        name = entry["config"]["name"]
        split[name] = _unique(name, taken)
        layers += _split_entry(entry, split[name], functional)
    config["layers"] = layers
    result = rebuild.from_config(handle, config)
    rebuild.copy_weights(handle, result, skip=set(split))
    for name, depthwise_name in split.items():
        weights = handle.get_layer(name).get_weights()  # depthwise kernel, pointwise kernel[, bias]
        result.get_layer(depthwise_name).set_weights(weights[:1])
        result.get_layer(name).set_weights(weights[1:])
    return result, sorted(split)
