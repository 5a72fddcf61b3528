"""Cross-layer equalization before int8 PTQ (the `int8-cle` rung): no training, same function.

Int8 activations have one scale per tensor, so a tensor whose channels span very different ranges
gives its small channels a few quantization levels (the MTCNN ONet's 256-d PReLU feature: channel
maxima from 0.003 to 8.6, median 0.29). Nagel et al. ("Data-Free Quantization Through Weight
Equalization and Bias Correction", ICCV 2019) rescale channel c of a producer's output by 1/s_c and the
matching input weights of every consumer by s_c: the model computes the same function whenever every
op in between is positively homogeneous per channel (ReLU, leaky ReLU, PReLU, pooling, padding,
dropout, and Flatten/Permute that keep channels last). LiteRT and TFLM already quantize weights per
output channel, so what is left to balance is the activation tensor against the consumer's input rows:
s_c = sqrt(a_c / w_c), a_c the channel's largest |activation| over the calibration data and w_c the
largest |weight| of its consumer rows (the balance SmoothQuant, Xiao et al. 2023, uses with alpha 0.5),
which leaves both at sqrt(a_c * w_c).

Producers: Conv1D/Conv2D (ungrouped), Dense, DepthwiseConv2D (multiplier 1) with a linear or ReLU fused
activation, and BatchNormalization (gamma and beta scale; the converter folds it into the conv before).
Consumers: Conv1D/Conv2D (ungrouped), Dense, DepthwiseConv2D (multiplier 1). A chain that reaches an
Add, a Concatenate, a bounded activation (ReLU6, sigmoid, swish) or a model output is left alone: no
per-channel rescaling passes through those unchanged. Bias correction and high-bias absorption are
not done (docs/compression.md says why).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from edge_sdk import deps
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.contracts.records import StepRecord
from edge_sdk.data import load_dataset
from edge_sdk.errors import ConfigError
from edge_sdk.frameworks.keras.reference import keras_outputs
from edge_sdk.frameworks.keras.techniques import qat, rebuild, training
from edge_sdk.techniques.base import TechniqueData, register_technique
from edge_sdk.techniques.config import Count, TechniqueConfig, Weight

SCALE_LIMITS = (1e-3, 1e3)  # a channel is never rescaled by more than this (dead or exploding channels)
TINY = 1e-8  # a channel whose activation or weights stay below this is left at scale 1


class EqualizeConfig(TechniqueConfig):
    max_samples: Count = 200  # calibration samples the activation ranges are measured on
    alpha: Weight = 0.5  # s_c = a_c^alpha / w_c^(1 - alpha): 1 equalizes the activations fully, 0 the weights


@dataclasses.dataclass
class _Pair:
    producer: Any
    consumers: list[Any]
    observed: Any  # the layer whose output the consumers read (the producer or the last op in between)
    flattened: bool  # a Flatten in between: consumer rows are (position, channel) pairs, channel last


def _homogeneous_activation(activation: Any) -> bool:
    """A layer's `activation` (a function, or any callable a user passed) is linear or ReLU."""
    return getattr(activation, "__name__", None) in ("linear", "relu")


def _is_producer(layer: Any) -> bool:
    L = deps.tf_keras().layers
    if type(layer) in (L.Conv1D, L.Conv2D):
        return layer.groups == 1 and _homogeneous_activation(layer.activation)
    if type(layer) is L.Dense:
        return _homogeneous_activation(layer.activation)
    if type(layer) is L.DepthwiseConv2D:
        return layer.depth_multiplier == 1 and _homogeneous_activation(layer.activation)
    if type(layer) is L.BatchNormalization:
        axes = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
        return list(axes) in ([-1], [len(layer.input_shape) - 1]) and layer.scale and layer.center
    return False


def _is_consumer(layer: Any) -> bool:
    L = deps.tf_keras().layers
    if type(layer) in (L.Conv1D, L.Conv2D):
        return layer.groups == 1
    return type(layer) is L.Dense or (type(layer) is L.DepthwiseConv2D and layer.depth_multiplier == 1)


def _passes_scaling(layer: Any) -> bool:
    """Is f(x / s) = f(x) / s for a per-channel s > 0, with channels staying on the last axis?"""
    L = deps.tf_keras().layers
    if type(layer) is L.ReLU:
        return layer.max_value is None and float(layer.threshold) == 0.0
    if type(layer) is L.Activation:
        return _homogeneous_activation(layer.activation)
    if type(layer) is L.Permute:
        return layer.dims[-1] == len(layer.dims)
    if type(layer) is L.Flatten:
        return layer.data_format == "channels_last"
    return type(layer) in (
        L.LeakyReLU, L.PReLU, L.MaxPooling1D, L.MaxPooling2D, L.AveragePooling1D, L.AveragePooling2D,
        L.GlobalAveragePooling1D, L.GlobalAveragePooling2D, L.GlobalMaxPooling1D, L.GlobalMaxPooling2D,
        L.Dropout, L.SpatialDropout1D, L.SpatialDropout2D, L.ZeroPadding1D, L.ZeroPadding2D,
    )


def _consumers(layer: Any) -> list[Any]:
    return [node.outbound_layer for node in layer._outbound_nodes]


def find_pairs(model: Any) -> list[_Pair]:
    """Every producer whose channels can be rescaled into all of its consumers (module docstring)."""
    L = deps.tf_keras().layers
    outputs = rebuild.output_layer_names(model) | {layer.name for layer in model.layers if not layer._outbound_nodes}
    pairs = []
    for producer in model.layers:
        if not _is_producer(producer) or len(producer._inbound_nodes) != 1:
            continue
        node, flattened = producer, False
        while node.name not in outputs:
            after = _consumers(node)
            if len(after) == 1 and _passes_scaling(after[0]) and len(after[0]._inbound_nodes) == 1:
                node, flattened = after[0], flattened or type(after[0]) is L.Flatten
                continue
            if after and all(_is_consumer(c) and len(c._inbound_nodes) == 1 for c in after):
                pairs.append(_Pair(producer, after, node, flattened))
            break
    return pairs


def _rows(kernel: np.ndarray, layer: Any, channels: int, flattened: bool) -> np.ndarray:
    """The consumer's weights as (input channel, everything else), for the channels being rescaled."""
    L = deps.tf_keras().layers
    if type(layer) is L.Dense:
        rows = kernel.reshape(-1, channels, kernel.shape[-1]) if flattened else kernel[None]
        return np.moveaxis(rows, 1, 0).reshape(channels, -1)
    return np.moveaxis(kernel, -2, 0).reshape(channels, -1)  # conv: (..., in, out); depthwise: (..., in, 1)


def _scale_rows(layer: Any, scale: np.ndarray, flattened: bool) -> None:
    L = deps.tf_keras().layers
    weights = layer.get_weights()
    kernel = weights[0]
    if type(layer) is L.Dense and flattened:
        kernel = (kernel.reshape(-1, len(scale), kernel.shape[-1]) * scale[None, :, None]).reshape(kernel.shape)
    elif type(layer) is L.Dense:
        kernel = kernel * scale[:, None]
    else:
        kernel = kernel * scale.reshape((1,) * (kernel.ndim - 2) + (len(scale), 1))
    layer.set_weights([kernel.astype(weights[0].dtype), *weights[1:]])


def _scale_outputs(layer: Any, inverse: np.ndarray) -> None:
    """Multiply the producer's output channels by `inverse` (= 1 / s)."""
    L = deps.tf_keras().layers
    weights = layer.get_weights()
    if type(layer) is L.BatchNormalization:  # [gamma, beta, moving_mean, moving_variance]
        gamma, beta, *stats = weights
        layer.set_weights([gamma * inverse, beta * inverse, *stats])
        return
    kernel, *bias = weights
    if type(layer) is L.DepthwiseConv2D:
        kernel = kernel * inverse.reshape((1,) * (kernel.ndim - 2) + (len(inverse), 1))
    else:
        kernel = kernel * inverse
    layer.set_weights([kernel.astype(weights[0].dtype), *[b * inverse for b in bias]])


def _channel_maxima(model: Any, pairs: list[_Pair], inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    tfk = deps.tf_keras()
    probe = tfk.Model(model.inputs, [p.observed.output for p in pairs])
    outs = keras_outputs(probe, inputs)
    maxima = []
    for pair, out in zip(pairs, outs):
        channels = int(pair.producer.output.shape[-1])
        maxima.append(np.abs(out.reshape(len(out), -1, channels)).max(axis=(0, 1)).astype(np.float64))
    return maxima


@register_technique("equalize", "keras", EqualizeConfig)
def apply(model: LoadedModel, data: TechniqueData, cfg: EqualizeConfig) -> tuple[LoadedModel, StepRecord]:
    start = time.perf_counter()
    if model.framework != "keras":
        raise ConfigError(f"the Keras techniques work on Keras models; got a {model.framework} model")
    if qat.is_quantized(model.handle):
        raise ConfigError("equalize: the model is already quantization-aware; equalize the float model")
    calibration = load_dataset(data.calibration, model.inputs, max_samples=cfg.max_samples, purpose="calibration")
    training.seed_everything(cfg.seed)
    source = model.handle
    equalized = deps.tf_keras().models.clone_model(source)
    equalized.set_weights(source.get_weights())
    pairs = find_pairs(equalized)
    if not pairs:
        raise ConfigError("equalize: no producer -> consumer chain to rescale (every channel path goes through an "
                          "Add, a Concatenate, a bounded activation such as ReLU6 or swish, or a model output)")
    per_pair, notes = {}, []
    for pair, act in zip(pairs, _channel_maxima(equalized, pairs, calibration.inputs)):
        channels = len(act)
        weight = np.max([np.abs(_rows(c.get_weights()[0], c, channels, pair.flattened)).max(axis=1) for c in pair.consumers], axis=0)
        live = (act > TINY) & (weight > TINY)
        scale = np.ones(channels)
        scale[live] = np.clip(act[live] ** cfg.alpha / weight[live] ** (1 - cfg.alpha), *SCALE_LIMITS)
        _scale_outputs(pair.producer, (1.0 / scale).astype(np.float32))
        for consumer in pair.consumers:
            _scale_rows(consumer, scale.astype(np.float32), pair.flattened)
        after = act / scale
        per_pair[pair.producer.name] = {
            "consumers": [c.name for c in pair.consumers],
            "activation_range_ratio_before": round(float(act.max() / max(np.median(act), TINY)), 2),
            "activation_range_ratio_after": round(float(after.max() / max(np.median(after), TINY)), 2),
        }
        if not live.all():
            notes.append(f"{pair.producer.name}: {int((~live).sum())} channel(s) dead on the calibration data, left unscaled")
    metrics = {"pairs": per_pair, "calibration_samples": len(calibration)}
    record = training.record("equalize", {"max_samples": cfg.max_samples, "alpha": cfg.alpha, "seed": cfg.seed}, metrics, notes, start)
    return dataclasses.replace(model, handle=equalized), record
