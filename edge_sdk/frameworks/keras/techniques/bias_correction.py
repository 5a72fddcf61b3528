"""Empirical bias correction of an int8 TFLite model (Nagel et al., ICCV 2019, section 4.2).

Rounding a layer's weights to int8 changes its output by dW x; where the layer's inputs do not average
to zero (after a ReLU or PReLU) and its fan-in is large, that change has a mean per output channel,
E[dW x] = dW E[x], which every sample carries. The zoo's pretrained MTCNN RNet: 0.39 output steps on
average over its six layers, 2 at the widest fully connected layer. This module subtracts it from the
int32 bias of every CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED op: dW = dequantized int8 weights -
the float weights the converter quantized (BatchNormalization already folded in), E[x] = the mean of
each input channel of the op in the calibrated float model over the calibration samples (a conv's
input mean taken over positions as well: zero padding at the borders is ignored). An op without a bias
tensor (the converter drops all-zero biases) is left as it is.

Only the weights' share of the error is corrected, from float inputs: the total error's mean also holds
clipping at the activation ranges, and subtracting that shifts every unclipped sample (measured on
RNet: it cost the landmark output 4 dB on the calibration data itself).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_sdk.formats.common.flatbuffer import model_object, op_codes, pack
from edge_sdk.formats.tflite.runner import each_sample

OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
_DTYPES = {0: np.float32, 2: np.int32, 9: np.int8}  # TensorType FLOAT32, INT32, INT8


def _compute_ops(model: Any) -> list[tuple[str, Any]]:
    codes = op_codes(model)
    return [(codes[op.opcodeIndex], op) for op in model.subgraphs[0].operators if codes[op.opcodeIndex] in OPS]


def _array(model: Any, tensor: Any) -> np.ndarray:
    return np.frombuffer(bytes(model.buffers[tensor.buffer].data), dtype=_DTYPES[tensor.type]).reshape(tensor.shape)


def _input_means(calibrated: bytes, tensors: list[int], inputs: dict[str, np.ndarray]) -> dict[int, np.ndarray]:
    """Per channel (last axis), the mean of each tensor of the float model over the samples."""
    sums = {t: 0.0 for t in tensors}
    samples = 0
    for interpreter in each_sample(calibrated, inputs):
        samples += 1
        for t in tensors:
            value = interpreter.get_tensor(t).astype(np.float64)
            sums[t] = sums[t] + value.reshape(-1, value.shape[-1]).mean(axis=0)
    return {t: sums[t] / samples for t in tensors}


def _weight_rounding_shift(kind: str, delta_w: np.ndarray, mean_x: np.ndarray) -> np.ndarray | None:
    """dW E[x] per output channel (TFLite layouts: conv OHWI, depthwise 1HWC, fully connected [out, in])."""
    if kind == "CONV_2D" and delta_w.shape[-1] == len(mean_x):
        return np.einsum("ohwi,i->o", delta_w, mean_x)
    if kind == "DEPTHWISE_CONV_2D" and delta_w.shape[-1] == len(mean_x):  # multiplier 1
        return delta_w.sum(axis=(0, 1, 2)) * mean_x
    if kind == "FULLY_CONNECTED" and delta_w.shape[-1] == len(mean_x):
        return delta_w @ mean_x
    return None


def correct(calibrated: bytes, quantized: bytes, inputs: dict[str, np.ndarray]) -> tuple[bytes, dict]:
    """`quantized` (mlir_quantize of `calibrated`) with weight-rounding bias removed; and what was
    corrected: ops, mean and largest shift in output steps."""
    float_model, model = model_object(calibrated), model_object(quantized)
    float_ops, int_ops = _compute_ops(float_model), _compute_ops(model)
    if [k for k, _ in float_ops] != [k for k, _ in int_ops]:  # the quantizer kept the op order so far; never guess
        return quantized, {"ops": 0, "skipped": "the int8 model's conv/dense ops do not line up with the float model's"}
    means = _input_means(calibrated, list(dict.fromkeys(op.inputs[0] for _, op in float_ops)), inputs)
    f_tensors, q_tensors = float_model.subgraphs[0].tensors, model.subgraphs[0].tensors
    shifts = []
    for (kind, f_op), (_, q_op) in zip(float_ops, int_ops):
        if len(q_op.inputs) < 3 or q_op.inputs[2] < 0 or q_tensors[q_op.inputs[1]].type != 9:
            continue
        weights, bias, out = q_tensors[q_op.inputs[1]], q_tensors[q_op.inputs[2]], q_tensors[q_op.outputs[0]]
        scales = np.asarray(weights.quantization.scale, dtype=np.float64)
        axis_shape = [1] * len(weights.shape)
        axis_shape[weights.quantization.quantizedDimension] = -1
        dequantized = _array(model, weights).astype(np.float64) * (scales.reshape(axis_shape) if len(scales) > 1 else scales[0])
        shift = _weight_rounding_shift(kind, dequantized - _array(float_model, f_tensors[f_op.inputs[1]]), means[f_op.inputs[0]])
        if shift is None or bias.type != 2:
            continue
        steps = np.round(shift / np.asarray(bias.quantization.scale, dtype=np.float64)).astype(np.int64)
        corrected = np.clip(_array(model, bias).astype(np.int64) - steps, np.iinfo(np.int32).min, np.iinfo(np.int32).max)
        model.buffers[bias.buffer].data = np.frombuffer(corrected.astype(np.int32).tobytes(), dtype=np.uint8)
        shifts.append(float(np.abs(shift).mean() / out.quantization.scale[0]))
    stats = {"ops": len(shifts), "mean_shift_steps": round(float(np.mean(shifts)), 4) if shifts else 0.0,
             "max_shift_steps": round(float(np.max(shifts)), 4) if shifts else 0.0}
    return pack(model), stats
