"""Quantization-aware training with TFMOT (8-bit, per-channel weights), label-free by default.

SeparableConv2D layers are first split into DepthwiseConv2D + Conv2D under names that cannot collide
(separable.py: TFMOT's own split names them by Keras's counter and miswires models whose layers have
default names). Only the layers TFMOT's default 8-bit registry supports are annotated; the others stay
float and are listed in the record (instead of quantize_model failing on the first one). Fine-tuning follows the
original model (the teacher) on the user's data, so no labels are needed; `use_labels: true` adds the
task loss when the training set has labels. The result still converts with `convert_to_tflite(mode=int8)`,
which then takes the learned ranges.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Literal

import numpy as np

from edge_sdk import deps
from edge_sdk.errors import ConfigError
from edge_sdk.frameworks.keras.techniques import separable, training
from edge_sdk.frameworks.keras.techniques.training import KerasTrainingConfig
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.contracts.records import StepRecord
from edge_sdk.techniques.base import TechniqueData, register_technique
from edge_sdk.techniques.config import Count, Positive


class QATConfig(KerasTrainingConfig):
    epochs: Count = 5
    learning_rate: Positive = 1e-4
    # keep what earlier steps left: zeros (pruning), shared values (clustering), both; auto detects it
    preserve: Literal["auto", "none", "sparsity", "clusters", "both"] = "auto"


class LayerStepConfig(KerasTrainingConfig):
    """Keys of the steps that change chosen layers' weights and can finish with QAT that keeps what
    they made (prune, cluster: `qat: true`)."""

    layers: tuple[str, ...] | None = None  # names of the layers to change; default every supported one
    skip: tuple[str, ...] = ()  # names of layers never changed
    qat: bool = False  # preserving QAT afterwards (the model is then quantization-aware)
    qat_epochs: Count = 4
    qat_learning_rate: Positive = 1e-4

    def chooses(self, name: str) -> bool:
        return name not in self.skip and (self.layers is None or name in self.layers)


def _registry() -> Any:
    deps.tfmot()
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as reg,
    )

    return reg.Default8BitQuantizeRegistry()


def _folds_into_previous(layer: Any) -> bool:
    """BatchNormalization right after a linear Conv/Dense: TFMOT folds it into that layer (not in the
    registry). After a conv with its own activation (Conv2D(relu) -> BN) TFMOT's patterns do not match."""
    tfk = deps.tf_keras()
    if not isinstance(layer, tfk.layers.BatchNormalization) or not layer._inbound_nodes:
        return False
    previous = layer._inbound_nodes[0].inbound_layers
    foldable = (tfk.layers.Conv2D, tfk.layers.DepthwiseConv2D, tfk.layers.Dense)
    return (isinstance(previous, foldable) and len(previous._outbound_nodes) == 1
            and previous.get_config().get("activation") == "linear")


def _output_only() -> Any:
    """TFMOT's quantize config for a layer whose weights stay float and whose output is quantized."""
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import default_8bit_quantize_configs

    return default_8bit_quantize_configs.Default8BitOutputQuantizeConfig()


def is_quantized(handle: Any) -> bool:
    """True when the model already carries QAT wrappers (quantizing twice is refused)."""
    return any(type(layer).__name__ in ("QuantizeWrapper", "QuantizeWrapperV2", "QuantizeLayer") for layer in handle.layers)


def quantize(handle: Any, scheme: Any = None) -> tuple[Any, list[str]]:
    """A QAT copy of `handle` (never mutated): supported layers quantized, the rest listed as float.

    `scheme` is a TFMOT QuantizeScheme (e.g. prune- or cluster-preserving); default 8-bit otherwise.
    """
    tfmot = deps.tfmot()
    tfk = deps.tf_keras()
    qk = tfmot.quantization.keras
    if is_quantized(handle):
        raise ConfigError("the model is already quantization-aware; apply qat once, as the last training step")
    registry = _registry()
    float_layers: list[str] = []

    def annotate(layer: Any) -> Any:  # `layer` belongs to rewrap's copy, never to the caller's model
        if isinstance(layer, tfk.layers.InputLayer):
            return layer
        if isinstance(layer, tfk.layers.BatchNormalization) and scheme is None:
            # before quantize_apply, which builds the fused Conv+BN quantization from it (see
            # training.freeze_batch_norm). Not for the pruning/cluster-preserving schemes: their
            # registries call a weightless layer supported and then fail to quantize a lone BN's output.
            layer.trainable = False
        if registry.supports(layer) or _folds_into_previous(layer):
            return qk.quantize_annotate_layer(layer)
        if isinstance(layer, tfk.layers.BatchNormalization):  # a BN of its own: an int8 MUL + ADD, output quantized
            return qk.quantize_annotate_layer(layer, quantize_config=_output_only())
        float_layers.append(f"{layer.name} ({type(layer).__name__})")
        return layer

    annotated = training.rewrap(handle, annotate)
    with qk.quantize_scope({type(_output_only()).__name__: type(_output_only())}):
        qat_model = qk.quantize_apply(annotated, scheme) if scheme is not None else qk.quantize_apply(annotated)
    return qat_model, float_layers


def _range(values: list) -> tuple[float, float]:
    """The [min, max] an 8-bit activation quantizer uses (always containing 0, as TFMOT's do)."""
    lo = min(float(np.min(v)) for v in values)
    hi = max(float(np.max(v)) for v in values)
    return min(lo, 0.0), max(hi, 0.0)


def _linear_copy(layer: Any) -> Any:
    """The same layer without its activation (to measure the pre-activation range, e.g. of softmax)."""
    config = {**layer.get_config(), "activation": "linear"}
    twin = type(layer).from_config(config)
    twin.build(layer.input_shape)
    twin.set_weights(layer.get_weights())
    return twin


def calibrate_ranges(qat_model: Any, float_model: Any, calibration: Any) -> int:
    """Start every activation quantizer at the range measured on the float model, not TFMOT's [-6, 6].

    TFMOT's moving-average quantizers start at [-6, 6] and move with decay 0.999 per step, so a short
    fine-tune on a small data set exports ranges still dominated by the initial value (much worse than
    PTQ). Returns how many quantizer ranges were set.
    """
    tfk = deps.tf_keras()
    float_model = training.copy_model(float_model)  # fresh layers: one node each, all in this graph
    x = calibration.as_model_input()
    wrappers = [l for l in qat_model.layers if hasattr(l, "_quantize_activations")]
    names = [w.layer.name for w in wrappers if w.layer.name in {l.name for l in float_model.layers}]
    layers = [float_model.get_layer(n) for n in names]
    probe = tfk.Model(float_model.inputs, [[l.input, l.output] for l in layers])
    values = dict(zip(names, probe.predict(x, batch_size=256, verbose=0))) if names else {}
    targets: list[tuple[dict, tuple[float, float]]] = []
    for wrapper in wrappers:
        if wrapper.layer.name not in values:
            continue
        inputs, outputs = values[wrapper.layer.name]
        if getattr(wrapper, "_output_quantizer_vars", None):
            targets.append((wrapper._output_quantizer_vars, _range([outputs])))
        for activation in wrapper._quantize_activations:
            if hasattr(activation, "_post_activation_vars"):
                targets.append((activation._post_activation_vars, _range([outputs])))
            if hasattr(activation, "_pre_activation_vars"):
                layer = float_model.get_layer(wrapper.layer.name)
                targets.append((activation._pre_activation_vars, _range([_linear_copy(layer)(inputs).numpy()])))
    inputs_range = _range([np.asarray(v) for v in calibration.inputs.values()])
    for layer in qat_model.layers:
        if type(layer).__name__ == "QuantizeLayer" and getattr(layer, "quantizer_vars", None):
            targets.append((layer.quantizer_vars, inputs_range))
    for variables, (lo, hi) in targets:
        if isinstance(variables, dict) and "min_var" in variables:
            variables["min_var"].assign(lo)
            variables["max_var"].assign(hi)
    return len(targets)


def quantize_and_finetune(
    model: LoadedModel, data: TechniqueData, cfg: KerasTrainingConfig, scheme: Any = None, label: str = "qat"
) -> tuple[Any, dict, list[str]]:
    """Shared by qat, prune (`qat: true`) and cluster (`qat: true`): split separable convs, quantize,
    then KD fine-tune."""
    base, split = separable.split_separable(model.handle)
    qat_model, float_layers = quantize(base, scheme)
    ranges = calibrate_ranges(qat_model, base, data.calibration)
    metrics = training.fit(qat_model, data, cfg, label=label)
    metrics["calibrated_ranges"] = ranges
    metrics["float_layers"] = float_layers
    metrics["split_separable"] = split
    notes = [f"left float (TFMOT cannot quantize): {', '.join(float_layers)}"] if float_layers else []
    return qat_model, metrics, notes


def _kernels(handle: Any) -> list[np.ndarray]:
    return [k for k in (training.kernel_of(l) for l in handle.layers) if k is not None and k.size >= 64]


def detect_preserve(handle: Any) -> str:
    """What an earlier step left that plain QAT would destroy: exact zeros (pruning), few shared values
    (clustering), both, or none."""
    kernels = _kernels(handle)
    sparse = any((k == 0).mean() >= 0.3 for k in kernels)
    clustered = bool(kernels) and all(np.unique(k).size <= min(256, k.size // 4) for k in kernels)
    return {(True, True): "both", (True, False): "sparsity", (False, True): "clusters"}.get((sparse, clustered), "none")


def preserving_scheme(preserve: str) -> Any:
    """The TFMOT collaborative-optimization scheme keeping sparsity and/or clusters through QAT."""
    combine = deps.tfmot().experimental.combine
    if preserve == "sparsity":
        return combine.Default8BitPrunePreserveQuantizeScheme()
    if preserve in ("clusters", "both"):
        return combine.Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=preserve == "both")
    return None


def finish_with_qat(
    model: LoadedModel, result: Any, data: TechniqueData, cfg: LayerStepConfig, preserve: str, label: str
) -> tuple[Any, dict, list[str]]:
    """`qat: true` of prune/cluster: QAT of `result` (the stripped model) keeping `preserve`, trained for
    `qat_epochs` at `qat_learning_rate`."""
    qat_cfg = cfg.model_copy(update={"epochs": cfg.qat_epochs, "learning_rate": cfg.qat_learning_rate})
    stripped = dataclasses.replace(model, handle=result)
    return quantize_and_finetune(stripped, data, qat_cfg, preserving_scheme(preserve), label=label)


@register_technique("qat", "keras", QATConfig)
def apply(model: LoadedModel, data: TechniqueData, cfg: QATConfig) -> tuple[LoadedModel, StepRecord]:
    start = time.perf_counter()
    data = training.validated(model, data, cfg)
    training.seed_everything(cfg.seed)
    preserve = detect_preserve(model.handle) if cfg.preserve == "auto" else cfg.preserve
    qat_model, metrics, notes = quantize_and_finetune(model, data, cfg, preserving_scheme(preserve))
    metrics["preserved"] = preserve
    metrics["eval_top1_agreement"] = training.fidelity_on(qat_model, data)
    params = {k: getattr(cfg, k) for k in ("epochs", "learning_rate", "temperature", "use_labels", "preserve", "seed")}
    return dataclasses.replace(model, handle=qat_model), training.record("qat", params, metrics, notes, start)
