"""Replace chosen layers by chains of thinner layers, then fine-tune: what `lowrank` (SVD of Dense / 1x1
kernels) and `decompose` (Tucker-2 / CP of k x k convs) share.

Layers named in `layers` (all when unset), called once, and not model outputs unless
`include_output`, are offered to the technique, which says whether and how to split each (a `Split`: the chain's config
entries, the chain's initial weights by layer name, what to record), or why a candidate is left whole.
The model is rebuilt from the edited config (rebuild.py: the chain's last layer keeps the original name,
so consumers and every other weight carry over), then fine-tuned label-free against the original.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from edge_sdk.errors import ConfigError
from edge_sdk.frameworks.keras.techniques import qat, rebuild, training
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.techniques.base import TechniqueData


@dataclasses.dataclass(frozen=True)
class Split:
    entries: list[dict]  # config entries replacing the layer's one
    weights: dict[str, list[np.ndarray]]  # initial weights of the chain's layers, by name
    record: dict  # what the step record keeps for this layer


# (layer, its config entry, functional?) -> a Split, a note saying why the layer stays whole, or None
# when the layer is no candidate at all (a kind the technique does not split)
Splitter = Callable[[Any, dict, bool], "Split | str | None"]


def split_and_finetune(model: LoadedModel, data: TechniqueData, cfg: Any, technique: str,
                       split: Splitter, nothing_to_split: str) -> tuple[LoadedModel, dict, list[str]]:
    """(the fine-tuned student, its metrics with per-layer records, notes on layers left whole); `cfg`
    is the technique's training config with `layers` and `include_output`."""
    data = training.validated(model, data, cfg)
    if qat.is_quantized(model.handle):
        raise ConfigError(f"{technique}: the model is already quantization-aware; apply {technique} before qat")
    training.seed_everything(cfg.seed)
    source = model.handle
    config_dict = rebuild.config_of(source)
    functional = rebuild.is_functional(config_dict)
    by_name = {layer.name: layer for layer in source.layers}
    outputs = rebuild.output_layer_names(source)
    layers_out: list[dict] = []
    splits: dict[str, Split] = {}
    notes: list[str] = []
    for entry in config_dict["layers"]:
        name = entry["config"]["name"]
        layer = by_name.get(name)
        offered = (layer is not None and (cfg.layers is None or name in cfg.layers)
                   and (name not in outputs or cfg.include_output) and rebuild.call_count(entry) == 1)
        result = split(layer, entry, functional) if offered else None
        if isinstance(result, Split):
            splits[name] = result
            layers_out.extend(result.entries)
            continue
        if result:
            notes.append(f"{name}: {result}")
        layers_out.append(entry)
    if not splits:
        raise ConfigError(f"{technique}: {nothing_to_split}")
    config_dict["layers"] = layers_out
    student = rebuild.from_config(source, config_dict)
    rebuild.copy_weights(source, student, skip=set(splits))
    for result in splits.values():
        for layer_name, weights in result.weights.items():
            student.get_layer(layer_name).set_weights(weights)
    metrics = training.fit(student, data, cfg, label=technique)
    metrics["layers"] = {name: result.record for name, result in splits.items()}
    metrics["params_before"] = int(source.count_params())
    metrics["params_after"] = int(student.count_params())
    metrics["eval_top1_agreement"] = training.fidelity_on(student, data)
    return dataclasses.replace(model, handle=student), metrics, notes
