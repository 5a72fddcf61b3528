"""Magnitude pruning: unstructured (TFMOT, polynomial schedule to a target sparsity), 2:4, or channel.

Unstructured pruning is what makes a model compress (gzip / OTA size) and, with sparse kernels, run
faster where the runtime has sparse kernels. The schedule ramps sparsity from 0 to `sparsity` over
`prune_epochs` (iterative: masks updated four times an epoch, fine-tuning between; `prune_epochs: 0`
prunes once, at the first step), then fine-tunes (label-free against the original model unless
`use_labels`), strips the wrappers and, with `qat: true`, runs sparsity-preserving QAT so the zeros
survive int8 quantization. `scope: global` sets each layer's target from one magnitude threshold over
all pruned layers (techniques/pruning_schedule.py). The record holds the sparsity measured on the
final weights, per layer.

`structure: channel` removes the `sparsity` fraction of output channels (filters/units) with the
lowest L1 norm instead (channels.py; TFMOT has no channel pruning), so the model itself gets smaller
and exports dense: what TFLite Micro benefits from. Then the same fine-tune, and plain QAT with
`qat: true` (there are no zeros to keep).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Literal

from pydantic import field_validator, model_validator

from edge_sdk import deps
from edge_sdk.errors import ConfigError
from edge_sdk.frameworks.keras.techniques import channels, qat, training
from edge_sdk.frameworks.keras.techniques.qat import LayerStepConfig
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.contracts.records import StepRecord
from edge_sdk.techniques.base import TechniqueData, register_technique
from edge_sdk.techniques.config import Count, Fraction, NonNegative, Positive
from edge_sdk.techniques.pruning_schedule import layer_sparsities


class PruneConfig(LayerStepConfig):
    sparsity: Fraction = 0.8  # fraction of zero weights per pruned layer (ignored with m_by_n), or of channels removed
    structure: Literal["unstructured", "channel"] = "unstructured"
    scope: Literal["local", "global"] = "local"  # same fraction per layer, or one magnitude threshold over all
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

    @model_validator(mode="after")
    def _m_by_n_is_unstructured(self) -> PruneConfig:
        if self.m_by_n is not None and self.structure == "channel":
            raise ValueError("m_by_n is a pattern of zeros within channels; it does not combine with structure: channel")
        if self.m_by_n is not None and self.scope == "global":
            raise ValueError("m_by_n fixes every layer's pattern; it does not combine with scope: global")
        if self.structure == "channel" and self.scope == "global":
            raise ValueError("scope: global applies to unstructured pruning; channel pruning removes the same fraction "
                             "of every layer's channels")
        return self


def _prunable(layer: Any, cfg: PruneConfig) -> bool:
    deps.tfmot()
    from tensorflow_model_optimization.python.core.sparsity.keras.prune_registry import PruneRegistry

    tfk = deps.tf_keras()
    if not cfg.chooses(layer.name):
        return False
    if cfg.m_by_n is not None and not isinstance(layer, (tfk.layers.Conv2D, tfk.layers.Dense)):
        return False
    return hasattr(layer, "kernel") and PruneRegistry.supports(layer)


def _schedule(cfg: PruneConfig, steps_per_epoch: int, final: float) -> Any:
    """PolynomialDecay 0 -> final, updating masks a few times per epoch, ending on an update step;
    ConstantSparsity from the first step when prune_epochs is 0 (one-shot)."""
    sparsity = deps.tfmot().sparsity.keras
    frequency = max(1, steps_per_epoch // 4)
    if cfg.prune_epochs == 0:
        return sparsity.ConstantSparsity(final, begin_step=0, frequency=frequency)
    end_step = max(frequency, (steps_per_epoch * cfg.prune_epochs // frequency) * frequency)
    return sparsity.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=final, begin_step=0, end_step=end_step, frequency=frequency
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
    if cfg.structure == "channel":
        return _prune_channels(model, data, cfg, start)
    sparsity = deps.tfmot().sparsity.keras
    steps = -(-len(data.train) // cfg.batch_size)
    kernels = {layer.name: training.kernel_of(layer) for layer in model.handle.layers if _prunable(layer, cfg)}
    targets = layer_sparsities(kernels, cfg.sparsity, cfg.scope)
    pruned: list[str] = []

    def wrap(layer: Any) -> Any:
        if layer.name not in targets or targets[layer.name] <= 0:
            return layer
        pruned.append(layer.name)
        schedule = _schedule(cfg, steps, targets[layer.name])
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
    if cfg.scope == "global":
        metrics["layer_targets"] = {name: targets[name] for name in pruned}
    metrics["sparsity"] = _overall(result, pruned)
    metrics["eval_top1_agreement"] = training.fidelity_on(result, data)
    params = {k: getattr(cfg, k) for k in ("sparsity", "structure", "scope", "m_by_n", "prune_epochs", "epochs", "learning_rate", "qat", "seed")}
    return dataclasses.replace(model, handle=result), training.record("prune", params, metrics, notes, start)


def _overall(handle: Any, names: list[str]) -> float:
    """Zeros over all weights of the pruned layers."""
    kernels = [training.kernel_of(training.find_layer(handle, n)) for n in names]
    return round(float(sum((k == 0).sum() for k in kernels) / sum(k.size for k in kernels)), 4)


def _prune_channels(model: LoadedModel, data: TechniqueData, cfg: PruneConfig, start: float) -> tuple[LoadedModel, StepRecord]:
    """structure: channel - a narrower dense model (channels.py), fine-tuned, then plain QAT if asked."""
    result, surgery = channels.prune_channels(model.handle, 1.0 - cfg.sparsity, cfg.chooses)
    if not surgery["channels"]:
        raise ConfigError(
            f"prune: no layer's channels can be removed (left whole: {', '.join(surgery['left_whole']) or 'none'}); "
            "channels that reach an output, a Concatenate, a Reshape or an unknown layer stay"
        )
    params_after = int(result.count_params())
    metrics = training.fit(result, data, cfg, label="prune-channels")
    notes: list[str] = []
    if cfg.qat:
        result, metrics["qat"], notes = qat.finish_with_qat(model, result, data, cfg, "none", label="prune-channels-qat")
    surgery.pop("kept")  # which channel indices survived: too long for a record
    metrics.update(
        surgery,
        params_before=int(model.handle.count_params()),
        params_after=params_after,
        eval_top1_agreement=training.fidelity_on(result, data),
    )
    params = {k: getattr(cfg, k) for k in ("sparsity", "structure", "epochs", "learning_rate", "qat", "seed")}
    return dataclasses.replace(model, handle=result), training.record("prune", params, metrics, notes, start)
