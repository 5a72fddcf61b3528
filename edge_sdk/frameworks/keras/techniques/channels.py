"""Channel (filter) pruning of a tf_keras model: remove the weakest output channels of Conv2D,
SeparableConv2D and Dense layers and the matching input channels of whatever reads them, then rebuild
the model from its edited config (rebuild.py), dense and smaller.

Why structured: unstructured zeros give TFLite Micro nothing (it stores and runs weights dense; a
sparse conversion even emits DENSIFY, an op TFLM lacks), while fewer channels shrink MACs, flash and
the tensor arena alike.

Which layers: a producer's channels are followed forward through channel-wise layers (BN,
activations, pooling, padding, dropout, depthwise convs with depth_multiplier 1, Flatten into a
Dense); producers whose outputs meet in an elementwise merge (Add, Multiply, ...) form one group and
lose the same channels. A group stays whole when its channels reach a model output, a model input's
tensor, or a layer this module does not know how to slice (Concatenate, Reshape, Lambda, ...); those
producers are listed in `left_whole`. Importance is the L1 norm of each output channel's weights,
normalised per layer and summed over the group; kept channels keep their order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_sdk.frameworks.keras.techniques import rebuild

PRODUCERS = {"Conv2D", "SeparableConv2D", "Dense"}
CHANNELWISE = {"BatchNormalization", "Activation", "ReLU", "LeakyReLU", "ELU", "ThresholdedReLU", "Dropout",
               "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "MaxPooling2D", "AveragePooling2D",
               "GlobalAveragePooling2D", "GlobalMaxPooling2D", "ZeroPadding2D", "Cropping2D", "UpSampling2D",
               "DepthwiseConv2D", "Flatten"}
MERGES = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}


class _Groups:
    """Union-find over producers; a group is blocked (kept whole) when any member is."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.blocked: set[str] = set()

    def add(self, name: str) -> str:
        self.parent[name] = name
        return name

    def find(self, name: str) -> str:
        while self.parent[name] != name:
            name = self.parent[name]
        return name

    def union(self, names: list[str]) -> str:
        roots = {self.find(n) for n in names}
        root = min(roots)
        for r in roots:
            self.parent[r] = root
        if roots & self.blocked:
            self.blocked.add(root)
        return root

    def block(self, name: str | None) -> None:
        if name is not None:
            self.blocked.add(self.find(name))

    def is_blocked(self, name: str) -> bool:
        return self.find(name) in self.blocked


def _kind(layer: Any) -> str:
    cls = type(layer).__name__
    config = layer.get_config()
    if len(getattr(layer, "_inbound_nodes", [])) > 1:  # shared: one set of weights for several inputs
        return "other"
    if cls in PRODUCERS and config.get("data_format", "channels_last") == "channels_last" and config.get("groups", 1) == 1:
        return "producer"
    if cls == "DepthwiseConv2D" and config.get("depth_multiplier", 1) != 1:
        return "other"
    if cls == "Activation" and config.get("activation") == "softmax":  # mixes channels
        return "other"
    if cls == "BatchNormalization" and np.atleast_1d(config.get("axis", -1))[0] not in (-1, len(layer.input_shape) - 1):
        return "other"
    return "channelwise" if cls in CHANNELWISE else "merge" if cls in MERGES else "other"


def _sources(handle: Any, chooses: Any) -> tuple[_Groups, dict[str, str | None]]:
    """Groups of producers and, per layer, the group whose channels its output carries (None: none)."""
    groups = _Groups()
    source: dict[str, str | None] = {}
    for layer in handle.layers:
        inbound = [source.get(i.name) for i in rebuild.inbound_layers(layer)]
        kind = _kind(layer) if inbound else "input"
        if kind == "producer":
            source[layer.name] = groups.add(layer.name)
            if not chooses(layer.name):
                groups.block(layer.name)
        elif kind == "channelwise" and len(inbound) == 1:
            source[layer.name] = inbound[0]
        elif kind == "merge" and all(inbound):
            source[layer.name] = groups.union(inbound)
        else:  # an input, or a layer whose channels cannot be followed: its inputs' groups stay whole
            for g in inbound:
                groups.block(g)
            source[layer.name] = None
    for t in handle.outputs:
        groups.block(source.get(t._keras_history.layer.name))
    return groups, source


def _importance(layer: Any) -> np.ndarray:
    kernel = layer.get_weights()[1 if type(layer).__name__ == "SeparableConv2D" else 0]
    norms = np.abs(kernel).reshape(-1, kernel.shape[-1]).sum(0)
    return norms / max(float(norms.mean()), 1e-12)


def _selections(handle: Any, groups: _Groups, source: dict, keep: float) -> dict[str, np.ndarray]:
    """Kept output channels (sorted indices) of every group that is not blocked."""
    members: dict[str, list[Any]] = {}
    for layer in handle.layers:
        if source.get(layer.name) == layer.name and not groups.is_blocked(layer.name):
            members.setdefault(groups.find(layer.name), []).append(layer)
    chosen = {}
    for root, layers in members.items():
        score = sum(_importance(layer) for layer in layers)
        k = max(1, int(round(len(score) * keep)))
        chosen[root] = np.sort(np.argsort(-score, kind="stable")[:k])
    return chosen


def _out_indices(handle: Any, groups: _Groups, source: dict, chosen: dict) -> dict[str, np.ndarray | None]:
    """Per layer, the indices into its original output's last axis that survive (None: all)."""
    kept: dict[str, np.ndarray | None] = {}
    for layer in handle.layers:
        group = source.get(layer.name)
        inbound = rebuild.inbound_layers(layer)
        if group is None:
            kept[layer.name] = None
        elif group == layer.name:  # a producer
            kept[layer.name] = chosen.get(groups.find(group))
        else:  # channel-wise or a merge: what its (first) input carries
            sel = kept[inbound[0].name]
            if sel is not None and type(layer).__name__ == "Flatten":
                shape = layer.input_shape
                spatial, channels = int(np.prod(shape[1:-1])), int(shape[-1])
                sel = (np.arange(spatial)[:, None] * channels + sel[None, :]).reshape(-1)
            kept[layer.name] = sel
    return kept


def _sliced(layer: Any, in_sel: np.ndarray | None, out_sel: np.ndarray | None) -> list[np.ndarray]:
    cls = type(layer).__name__
    weights = layer.get_weights()
    every = slice(None)
    i = every if in_sel is None else in_sel
    o = every if out_sel is None else out_sel
    if cls == "Conv2D":
        return [weights[0][:, :, i][..., o], *(w[o] for w in weights[1:])]
    if cls == "SeparableConv2D":  # pointwise input channel c * depth_multiplier + j reads depthwise channel c
        m = layer.depth_multiplier
        pointwise = i if in_sel is None else (in_sel[:, None] * m + np.arange(m)[None, :]).reshape(-1)
        return [weights[0][:, :, i], weights[1][:, :, pointwise][..., o], *(w[o] for w in weights[2:])]
    if cls == "Dense":
        return [weights[0][i][:, o], *(w[o] for w in weights[1:])]
    if cls in ("BatchNormalization", "DepthwiseConv2D"):
        return [w[..., i, :] if w.ndim == 4 else w[i] for w in weights]
    return weights


def prune_channels(handle: Any, keep: float, chooses: Any = lambda name: True) -> tuple[Any, dict]:
    """A rebuilt copy of `handle` keeping `keep` of each prunable group's channels (weights sliced
    from the original), with {"channels": {layer: [before, after]}, "left_whole": [producers kept
    whole], "kept": {layer: the original indices of its kept channels}}."""
    groups, source = _sources(handle, chooses)
    chosen = _selections(handle, groups, source, keep)
    kept = _out_indices(handle, groups, source, chosen)
    config = rebuild.config_of(handle)
    channels = {}
    for entry in config["layers"]:
        name = entry["config"].get("name")
        if source.get(name) == name and kept.get(name) is not None:
            key = "units" if "units" in entry["config"] else "filters"
            channels[name] = [entry["config"][key], len(kept[name])]
            entry["config"][key] = len(kept[name])
        entry.pop("build_config", None)
    result = rebuild.from_config(handle, config)
    for layer in handle.layers:
        if not layer.weights:
            continue
        inbound = rebuild.inbound_layers(layer)
        in_sel = kept.get(inbound[0].name) if inbound else None
        out_sel = kept.get(layer.name) if source.get(layer.name) == layer.name else None
        result.get_layer(layer.name).set_weights(_sliced(layer, in_sel, out_sel))
    left_whole = sorted(n for n, g in source.items() if g == n and n not in channels)
    return result, {"channels": channels, "left_whole": left_whole, "kept": {n: kept[n].tolist() for n in channels}}
