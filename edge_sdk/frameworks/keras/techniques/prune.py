"""Magnitude pruning with TFMOT: unstructured (polynomial schedule to a target sparsity) or 2:4.

Pruning is what makes a model compress (gzip / OTA size) and, with sparse kernels, run faster. The
schedule ramps sparsity from 0 to `sparsity` over `prune_epochs`, then fine-tunes (label-free against
the original model unless `use_labels`), strips the wrappers and, with `qat: true`, runs
sparsity-preserving QAT so the zeros survive int8 quantization. The record holds the sparsity measured
on the final weights, per layer.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from pydantic import field_validator

from edge_sdk import deps
from edge_sdk.errors import ConfigError
from edge_sdk.frameworks.keras.techniques import qat, training
from edge_sdk.frameworks.keras.techniques.qat import LayerStepConfig
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.contracts.records import StepRecord
from edge_sdk.techniques.base import TechniqueData, register_technique
from edge_sdk.techniques.config import Count, Fraction, NonNegative, Positive


class PruneConfig(LayerStepConfig):
    sparsity: Fraction = 0.8  # target fraction of zero weights per pruned layer (ignored with m_by_n)
    m_by_n: tuple[int, int] | None = None  # e.g. [2, 4]: 2 zeros in every 4 consecutive weights (Conv2D/Dense only)
    prune_epochs: NonNegative = 4  # epochs over which sparsity ramps up; fine-tuning continues after
    epochs: Count = 8
    learning_rate: Positive = 5e-4

    @field_validator("m_by_n")
    @classmethod
    def _m_below_n(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and not 0 < value[0] < value[1]:
            raise ValueError("m_by_n must be [m, n] with 0 < m < n, e.g. [2, 4]")
        return value


def _prunable(layer: Any, cfg: PruneConfig) -> bool:
    deps.tfmot()
    from tensorflow_model_optimization.python.core.sparsity.keras.prune_registry import PruneRegistry

    tfk = deps.tf_keras()
    if not cfg.chooses(layer.name):
        return False
    if cfg.m_by_n is not None and not isinstance(layer, (tfk.layers.Conv2D, tfk.layers.Dense)):
        return False
    return hasattr(layer, "kernel") and PruneRegistry.supports(layer)


def _schedule(cfg: PruneConfig, steps_per_epoch: int) -> Any:
    """PolynomialDecay 0 -> sparsity, updating masks a few times per epoch, ending on an update step."""
    sparsity = deps.tfmot().sparsity.keras
    frequency = max(1, steps_per_epoch // 4)
    end_step = max(frequency, (steps_per_epoch * cfg.prune_epochs // frequency) * frequency)
    return sparsity.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=cfg.sparsity, begin_step=0, end_step=end_step, frequency=frequency
    )


def layer_sparsity(handle: Any, names: list[str]) -> dict[str, float]:
    """Fraction of exact zeros in each named layer's kernel (as the final model holds it)."""
    return {n: round(float((training.kernel_of(training.find_layer(handle, n)) == 0).mean()), 4) for n in names}


@register_technique("prune", "keras", PruneConfig)
def apply(model: LoadedModel, data: TechniqueData, cfg: PruneConfig) -> tuple[LoadedModel, StepRecord]:
    start = time.perf_counter()
    data = training.validated(model, data, cfg)
    if qat.is_quantized(model.handle):
        raise ConfigError("prune: the model is already quantization-aware; prune before qat (or use prune qat: true)")
    training.seed_everything(cfg.seed)
    sparsity = deps.tfmot().sparsity.keras
    steps = -(-len(data.train) // cfg.batch_size)
    schedule = _schedule(cfg, steps)
    pruned: list[str] = []

    def wrap(layer: Any) -> Any:
        if not _prunable(layer, cfg):
            return layer
        pruned.append(layer.name)
        return sparsity.prune_low_magnitude(layer, pruning_schedule=schedule, sparsity_m_by_n=cfg.m_by_n)

    wrapped = training.rewrap(model.handle, wrap)
    if not pruned:
        raise ConfigError("prune: no prunable layer (Conv/Dense kernels) matched `layers`/`skip`")
    metrics = training.fit(
        wrapped,
        data,
        cfg,
        label="prune",
        callbacks=(sparsity.UpdatePruningStep(),),
        min_epochs=cfg.prune_epochs + 1,
    )
    result = sparsity.strip_pruning(wrapped)
    notes: list[str] = []
    if cfg.qat:
        result, metrics["qat"], notes = qat.finish_with_qat(model, result, data, cfg, "sparsity", label="prune-qat")
    per_layer = layer_sparsity(result, pruned)
    metrics["layer_sparsity"] = per_layer
    metrics["sparsity"] = _overall(result, pruned)
    metrics["eval_top1_agreement"] = training.fidelity_on(result, data)
    params = {k: getattr(cfg, k) for k in ("sparsity", "m_by_n", "prune_epochs", "epochs", "learning_rate", "qat", "seed")}
    return dataclasses.replace(model, handle=result), training.record("prune", params, metrics, notes, start)


def _overall(handle: Any, names: list[str]) -> float:
    """Zeros over all weights of the pruned layers."""
    kernels = [training.kernel_of(training.find_layer(handle, n)) for n in names]
    return round(float(sum((k == 0).sum() for k in kernels) / sum(k.size for k in kernels)), 4)
