"""Quantization-aware training with TFMOT (8-bit, per-channel weights), label-free by default.

Only the layers TFMOT's default 8-bit registry supports are annotated; the others stay float and are
listed in the record (instead of quantize_model failing on the first one). Fine-tuning follows the
original model (the teacher) on the user's data, so no labels are needed; `use_labels: true` adds the
task loss when the training set has labels. The result still converts with `convert_to_tflite(mode=int8)`,
which then takes the learned ranges.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from edge_sdk import frameworks
from edge_sdk.compress import training
from edge_sdk.compress.base import TechniqueData, register_technique
from edge_sdk.errors import ConfigError
from edge_sdk.model.types import LoadedModel
from edge_sdk.records import StepRecord

DEFAULTS: dict[str, Any] = {"epochs": 5, "learning_rate": 1e-4}


def _registry() -> Any:
    frameworks.tfmot()
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as reg,
    )

    return reg.Default8BitQuantizeRegistry()


def _folds_into_previous(layer: Any) -> bool:
    """BatchNormalization right after a Conv/Dense: TFMOT folds it into that layer (not in the registry)."""
    tfk = frameworks.tf_keras()
    if not isinstance(layer, tfk.layers.BatchNormalization) or not layer._inbound_nodes:
        return False
    previous = layer._inbound_nodes[0].inbound_layers
    foldable = (tfk.layers.Conv2D, tfk.layers.DepthwiseConv2D, tfk.layers.Dense)
    return isinstance(previous, foldable) and len(previous._outbound_nodes) == 1


def is_quantized(handle: Any) -> bool:
    """True when the model already carries QAT wrappers (quantizing twice is refused)."""
    return any(type(layer).__name__ in ("QuantizeWrapper", "QuantizeWrapperV2", "QuantizeLayer") for layer in handle.layers)


def quantize(handle: Any, scheme: Any = None) -> tuple[Any, list[str]]:
    """A QAT copy of `handle` (never mutated): supported layers quantized, the rest listed as float.

    `scheme` is a TFMOT QuantizeScheme (e.g. prune- or cluster-preserving); default 8-bit otherwise.
    """
    tfmot = frameworks.tfmot()
    tfk = frameworks.tf_keras()
    qk = tfmot.quantization.keras
    if is_quantized(handle):
        raise ConfigError("the model is already quantization-aware; apply qat once, as the last training step")
    registry = _registry()
    float_layers: list[str] = []

    def annotate(layer: Any) -> Any:
        if isinstance(layer, tfk.layers.InputLayer):
            return layer
        if registry.supports(layer) or _folds_into_previous(layer):
            return qk.quantize_annotate_layer(layer)
        float_layers.append(f"{layer.name} ({type(layer).__name__})")
        return layer

    annotated = training.rewrap(handle, annotate)
    with qk.quantize_scope():
        qat_model = qk.quantize_apply(annotated, scheme) if scheme is not None else qk.quantize_apply(annotated)
    return qat_model, float_layers


def quantize_and_finetune(
    model: LoadedModel, data: TechniqueData, cfg: dict, scheme: Any = None, label: str = "qat"
) -> tuple[Any, dict, list[str]]:
    """Shared by qat, prune (`qat: true`) and cluster (`qat: true`): quantize, then KD fine-tune."""
    qat_model, float_layers = quantize(model.handle, scheme)
    metrics = training.fit(qat_model, data, cfg, label=label)
    metrics["float_layers"] = float_layers
    notes = [f"left float (TFMOT cannot quantize): {', '.join(float_layers)}"] if float_layers else []
    return qat_model, metrics, notes


@register_technique("qat")
def apply(model: LoadedModel, data: TechniqueData, config: dict) -> tuple[LoadedModel, StepRecord]:
    start = time.perf_counter()
    cfg = training.step_config(config, DEFAULTS)
    data = training.validated(model, data, cfg)
    training.seed_everything(cfg["seed"])
    qat_model, metrics, notes = quantize_and_finetune(model, data, cfg)
    metrics["eval_top1_agreement"] = training.fidelity_on(qat_model, data)
    params = {k: cfg[k] for k in ("epochs", "learning_rate", "temperature", "use_labels", "seed")}
    return dataclasses.replace(model, handle=qat_model), training.record("qat", params, metrics, notes, start)
