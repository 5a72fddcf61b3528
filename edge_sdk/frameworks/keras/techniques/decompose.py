"""Tucker-2 / CP decomposition of Keras Conv2D layers (techniques/conv_decomposition.py has the math).

Each decomposed Conv2D entry of the model config becomes a chain of plain Conv2D / DepthwiseConv2D
entries; the last keeps the original name, bias and activation, so every consumer and every other
weight carries over (rebuild.py). The chain starts from the decomposition's factors and is then
fine-tuned label-free against the original model. Output layers are left alone by default.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

from edge_sdk import deps
from edge_sdk.frameworks.keras.techniques import training
from edge_sdk.frameworks.keras.techniques.layer_split import Split, split_and_finetune
from edge_sdk.frameworks.keras.techniques.training import KerasTrainingConfig
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.contracts.records import StepRecord
from edge_sdk.techniques import conv_decomposition as cd
from edge_sdk.techniques.base import TechniqueData, register_technique
from edge_sdk.techniques.config import Count, Positive

# names of the new layers before the one that keeps the original name
CHAIN_SUFFIXES = {"tucker2": ("_tucker_in", "_tucker_core"), "cp": ("_cp_in", "_cp_vertical", "_cp_horizontal")}


class DecomposeConfig(KerasTrainingConfig, cd.DecompositionKeys):
    epochs: Count = 6
    learning_rate: Positive = 5e-4


def geometry(layer: Any) -> cd.ConvGeometry:
    kh, kw, cin, cout = (int(d) for d in layer.kernel.shape)
    return cd.ConvGeometry(kh, kw, cin, cout, tuple(layer.input_shape[1:3]), tuple(layer.output_shape[1:3]),
                           tuple(layer.strides), layer.padding)


def _candidate(layer: Any) -> bool:
    tfk = deps.tf_keras()
    return (type(layer) is tfk.layers.Conv2D and layer.data_format == "channels_last"
            and cd.decomposable(tuple(layer.kernel_size), layer.groups))


def _chain_entries(entry: dict, factors: cd.Factors, method: str, functional: bool, shape: cd.ConvGeometry) -> list[dict]:
    """Config entries for the factor layers (None kernels skipped); the last keeps the name, so the
    original's consumers read it. A strided CP chain pads explicitly (cd.cp_pads)."""
    tfk = deps.tf_keras()
    original = entry["config"]
    name = original["name"]
    strided = max(shape.strides) > 1
    plain = {"use_bias": False, "activation": "linear", "kernel_regularizer": None, "activity_regularizer": None,
             "kernel_constraint": None, "bias_regularizer": None}
    specs: list[tuple[str, dict]] = []  # (class name, config)
    for kernel, depthwise, layer_name in zip(factors.kernels, factors.depthwise, _layer_names(method, name)):
        if kernel is None:
            continue
        kh, kw = kernel.shape[:2]
        if depthwise:  # CP's vertical (k_h x 1) then horizontal (1 x k_w) convs
            vertical = kh > 1
            pads = cd.cp_pads(shape)
            if strided and vertical and any(sum(p) for p in pads):
                specs.append(("ZeroPadding2D", tfk.layers.ZeroPadding2D(pads, name=name + "_cp_pad").get_config()))
            layer = tfk.layers.DepthwiseConv2D(
                (kh, kw), strides=shape.strides if strided and not vertical else (1, 1),
                padding="valid" if strided else original["padding"], use_bias=False, name=layer_name,
                dtype=original.get("dtype"))
            specs.append(("DepthwiseConv2D", layer.get_config()))
        else:
            config = {**original, "name": layer_name, "filters": int(kernel.shape[-1]), "kernel_size": [kh, kw]}
            if kh * kw == 1:
                config.update({"strides": [1, 1], "padding": "valid", "dilation_rate": [1, 1]})
            if layer_name != name:
                config.update(plain)
            specs.append((entry["class_name"], config))
    entries: list[dict] = []
    extra = {k: v for k, v in entry.items() if k not in ("build_config", "inbound_nodes", "name", "class_name", "config")}
    for class_name, config in specs:
        new = {"class_name": class_name, "config": config, **(extra if class_name == entry["class_name"] else {})}
        if entries:
            config.pop("batch_input_shape", None)  # only the chain's first layer can start a Sequential
        if functional:
            new["name"] = config["name"]
            new["inbound_nodes"] = entry["inbound_nodes"] if not entries else [[[entries[-1]["name"], 0, 0, {}]]]
        entries.append(new)
    return entries


def _cp_unsupported(layer: Any) -> str:
    """Why a CP chain cannot stand in for this conv in TensorFlow ("" when it can)."""
    if tuple(layer.dilation_rate) != (1, 1):
        return "CP of a dilated conv needs per-axis dilation, which TensorFlow's depthwise conv lacks"
    if len(set(layer.strides)) > 1:
        return "CP of a conv with unequal strides needs per-axis strides, which TensorFlow's depthwise conv lacks"
    return ""


def _layer_names(method: str, name: str) -> list[str]:
    """The chain's layer names, one per factor kernel (also those a Tucker-1 leaves out)."""
    return [name + suffix for suffix in CHAIN_SUFFIXES[method]] + [name]


@register_technique("decompose", "keras", DecomposeConfig)
def apply(model: LoadedModel, data: TechniqueData, cfg: DecomposeConfig) -> tuple[LoadedModel, StepRecord]:
    start = time.perf_counter()

    def split(layer: Any, entry: dict, functional: bool) -> Split | str | None:
        if not _candidate(layer):
            return None
        unsupported = _cp_unsupported(layer) if cfg.method == "cp" else ""
        if unsupported:
            return f"{unsupported}; left whole"
        kernel = layer.kernel.numpy()
        shape = geometry(layer)
        ranks = cd.ranks_for(shape, cfg, kernel)
        macs, params = cd.decomposed_cost(shape, cfg.method, ranks)
        if macs >= shape.macs:
            return f"{cfg.method} at ranks {list(ranks)} would not save MACs; left whole"
        with warnings.catch_warnings():  # tensorly notes ranks above a mode's size (CP), which are fine
            warnings.simplefilter("ignore", UserWarning)
            factors = cd.decompose(kernel, cfg.method, ranks, cfg.seed)
        weights = {name: [k] for name, k in zip(_layer_names(cfg.method, layer.name), factors.kernels) if k is not None}
        if layer.use_bias:
            weights[layer.name].append(layer.bias.numpy())
        record = {"ranks": list(ranks), "relative_error": round(factors.relative_error, 4), "macs_before": shape.macs,
                  "macs_after": macs, "params_before": int(kernel.size), "params_after": params}
        return Split(_chain_entries(entry, factors, cfg.method, functional, shape), weights, record)

    student, metrics, notes = split_and_finetune(
        model, data, cfg, f"decompose ({cfg.method})", split,
        "no ungrouped Conv2D wider than 1x1 to decompose (or none would save MACs); 1x1 convs and Dense layers are lowrank's")
    metrics["conv_macs_before"] = sum(v["macs_before"] for v in metrics["layers"].values())
    metrics["conv_macs_after"] = sum(v["macs_after"] for v in metrics["layers"].values())
    params = {k: getattr(cfg, k) for k in ("method", "macs_ratio", "energy", "include_output", "epochs", "learning_rate", "seed")}
    return student, training.record("decompose", params, metrics, notes, start)
