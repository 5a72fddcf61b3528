"""Post-training quantization of a tf_keras model: the TFLite conversion itself (no step before export).

The tflite and tflm exporters call `convert_to_tflite` with the candidate's precision and the build's
calibration data; a Keras int8 rung therefore has no `ptq` step (PyTorch's `ptq` is a real step: pt2e
calibration makes a new program).

Modes (what `precision` names in plans, artifacts and reports):
    float32      no quantization
    float16      weights stored as float16 (dequantized at load on CPU; native on GPU delegates)
    dynamic-int8 dynamic-range: int8 weights, float activations (no calibration data)
    int8         full-integer: int8 weights (per-channel) and activations, calibrated on user data;
                 I/O int8 (`io_dtype="int8"`, what TFLM and NPUs want) or float32. `dense_per_tensor`
                 gives FULLY_CONNECTED weights one scale per tensor: TFLM then keeps no per-channel
                 multipliers for them in its arena (the zoo's dense autoencoder: 17,360 -> 3,984 B)
                 `tuned=True` chooses the activation ranges per model among min-max, percentile and MSE
                 and corrects the bias weight rounding leaves, each where it measures better on the
                 calibration data (see ptq_tuned.py)
    int8-mixed   int8 with the most quantization-sensitive ops kept float (see ptq_mixed.py)
    int16x8      int16 activations x int8 weights (more accurate, slower; calibrated); I/O float32 or
                 int16 (TFLM). Ops the converter's 16x8 quantizer lacks: INT16X8_UNSUPPORTED

Calibration takes at most `max_samples` samples (default 200) and the record says how many it used.
QAT/clustered/pruned tf_keras models carry their own quantization parameters; converting them with
mode int8 uses the calibration data only for any ops left without ranges.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any, Literal, get_args

from edge_sdk import deps
from edge_sdk.data import Dataset
from edge_sdk.errors import DataError, ExportError
from edge_sdk.contracts.records import StepRecord

Mode = Literal["float32", "float16", "dynamic-int8", "int8", "int8-mixed", "int16x8"]
MODES: tuple[str, ...] = get_args(Mode)
CALIBRATED = ("int8", "int16x8")
# TFLite ops the converter's 16x8 quantizer refuses ("Quantization to 16x8-bit not yet supported for
# op"): `quantizable_int16 = false` in tensorflow/lite/tools/optimize/operator_property.cc (TF 2.21)
INT16X8_UNSUPPORTED = frozenset({
    "ARG_MAX", "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND", "SPACE_TO_DEPTH", "DEPTH_TO_SPACE", "EQUAL",
    "NOT_EQUAL", "GREATER", "GREATER_EQUAL", "LESS", "LESS_EQUAL", "HARD_SWISH", "LOG_SOFTMAX", "LSTM",
    "UNIDIRECTIONAL_SEQUENCE_LSTM", "L2_NORMALIZATION", "PRELU", "RELU_N1_TO_1", "SVDF", "MIRROR_PAD",
})
DEFAULT_CALIBRATION_SAMPLES = 200


@dataclass(frozen=True)
class QuantSpec:
    mode: str = "float32"
    io_dtype: str = "float32"  # float32, or the mode's integer type: int8 for int8, int16 for int16x8
    max_samples: int = DEFAULT_CALIBRATION_SAMPLES
    dense_per_tensor: bool = False  # calibrated modes: one weight scale per FULLY_CONNECTED, not per channel
    tuned: bool = False  # int8: activation ranges and bias correction chosen per model (ptq_tuned.py)
    # int8-mixed: the fidelity floor its float fallback aims for (metric -> minimum) and the output kinds
    min_fidelity: dict[str, float] | None = None
    output_kinds: dict[str, str] | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ExportError(f"unknown quantization mode {self.mode!r}; valid: {', '.join(MODES)}")
        integer_io = {"int8": "int8", "int16x8": "int16"}.get(self.mode)
        if self.io_dtype not in ("float32", integer_io):
            valid = ", ".join(filter(None, ("float32", integer_io)))
            raise ExportError(f"io dtype {self.io_dtype!r} does not go with mode {self.mode}; valid: {valid}")
        if self.dense_per_tensor and self.mode not in CALIBRATED:
            raise ExportError(f"per-tensor dense weights need a calibrated mode ({', '.join(CALIBRATED)}), not {self.mode}")
        if self.tuned and self.mode != "int8":
            raise ExportError(f"tuned quantization needs mode int8, not {self.mode}")


def representative_dataset(calibration: Dataset, max_samples: int):
    used = min(len(calibration), max_samples)
    if used < max_samples:
        warnings.warn(f"{calibration.source}: {used} calibration samples available, fewer than the {max_samples} asked")

    def gen():
        # several inputs go by name: the converter's signature does not keep the model's input order
        # (a list fed a two-input model's (N, 8) vector to its first CONV_2D)
        for i in range(used):
            sample = {name: v[i : i + 1] for name, v in calibration.inputs.items()}
            yield sample if len(sample) > 1 else list(sample.values())

    return gen, used


def converter_error(exc: Exception) -> str:
    """The line of a converter exception that says what failed (its first 'error' line)."""
    lines = str(exc).splitlines()
    return next((l for l in lines if "error" in l.lower()), lines[0] if lines else type(exc).__name__).strip()


def _layers_of(model: Any, kinds: tuple) -> list[Any]:
    """The layers of `model` (nested models and Bidirectional wrappers looked into) that are `kinds`."""
    found = []
    for layer in model.layers:
        inner = getattr(layer, "forward_layer", None)  # Bidirectional
        found += [x for x in (layer, inner) if x is not None and isinstance(x, kinds)]
        if hasattr(layer, "layers"):
            found += _layers_of(layer, kinds)
    return found


def _is_recurrent(model: Any) -> bool:
    keras = deps.tf_keras()
    return bool(_layers_of(model, (keras.layers.RNN, keras.layers.Bidirectional)))


def refuse_integer_gru(model: Any, mode: str) -> None:
    """Full-integer conversion of a GRU kills TensorFlow 2.21's converter with a segfault (measured on a
    one-layer GRU(12) at batch 1); LiteRT has no integer GRU kernel to aim for. Say so instead."""
    if mode not in (*CALIBRATED, "int8-mixed"):
        return
    grus = _layers_of(model, (deps.tf_keras().layers.GRU,))
    if grus:
        raise ExportError(f"layer '{grus[0].name}' (GRU): TFLite has no integer GRU kernel and TensorFlow's converter "
                          f"crashes quantizing one fully ({mode}); use dynamic-int8, float16 or float32 where the target "
                          f"runs float; an int8-only target (TFLite Micro) needs the GRU replaced: its integer "
                          f"recurrent kernel is UNIDIRECTIONAL_SEQUENCE_LSTM")


def keras_converter(model: Any) -> Any:
    """A TFLiteConverter for the model. Recurrent models (GRU, LSTM, RNN) are converted at batch 1: at
    a dynamic batch the converter cannot lower their TensorList ops (`'tf.TensorListReserve' op requires
    element_shape to be static`), and batch 1 is how such models run on a device. The signature keeps the
    model's input and output names."""
    tf = deps.tensorflow()
    if not _is_recurrent(model):
        return tf.lite.TFLiteConverter.from_keras_model(model)
    specs = [tf.TensorSpec([1, *t.shape[1:]], t.dtype, name=name) for name, t in zip(model.input_names, model.inputs)]
    names = list(model.output_names)

    def serve(*args: Any) -> dict:
        out = model(list(args) if len(args) > 1 else args[0], training=False)
        return dict(zip(names, out if isinstance(out, (list, tuple)) else [out]))

    concrete = tf.function(serve).get_concrete_function(*specs)
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)


def convert_to_tflite(model: Any, spec: QuantSpec, calibration: Dataset | None = None) -> tuple[bytes, StepRecord]:
    """Convert a tf_keras model to a TFLite flatbuffer with the given quantization."""
    refuse_integer_gru(model, spec.mode)
    if spec.mode == "int8-mixed":
        if calibration is None:
            raise DataError("int8-mixed quantization needs calibration data (--calibration FILE.npz)")
        from edge_sdk.frameworks.keras.techniques.ptq_mixed import convert_int8_mixed

        return convert_int8_mixed(model, calibration, spec.max_samples, spec.min_fidelity, spec.output_kinds)
    if spec.tuned:
        if calibration is None:
            raise DataError("int8 quantization needs calibration data (--calibration FILE.npz)")
        from edge_sdk.frameworks.keras.techniques.ptq_tuned import convert_int8_tuned

        return convert_int8_tuned(model, spec, calibration)
    tf = deps.tensorflow()
    start = time.perf_counter()
    converter = keras_converter(model)
    used = 0
    if spec.mode != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if spec.mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif spec.mode in CALIBRATED:
        if calibration is None:
            raise DataError(f"{spec.mode} quantization needs calibration data (--calibration FILE.npz)")
        converter.representative_dataset, used = representative_dataset(calibration, spec.max_samples)
        # TF 2.21 exposes the per-tensor FULLY_CONNECTED choice only as this converter attribute
        converter._experimental_disable_per_channel_quantization_for_dense_layers = spec.dense_per_tensor
        if spec.mode == "int8":
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            if spec.io_dtype == "int8":
                converter.inference_input_type = tf.int8
                converter.inference_output_type = tf.int8
        else:
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
            ]
            if spec.io_dtype == "int16":
                converter.inference_input_type = tf.int16
                converter.inference_output_type = tf.int16
    try:
        flatbuffer = converter.convert()
    except Exception as exc:  # the converter raises ConverterError/RuntimeError with MLIR diagnostics
        raise ExportError(f"TFLite conversion ({spec.mode}) failed: {converter_error(exc)}") from exc
    record = StepRecord(
        technique="ptq",
        params={"mode": spec.mode, "io_dtype": spec.io_dtype, "max_samples": spec.max_samples,
                **({"dense_weights": "per-tensor"} if spec.dense_per_tensor else {})},
        metrics={"calibration_samples": used, "bytes": len(flatbuffer)},
        wall_s=time.perf_counter() - start,
    )
    return bytes(flatbuffer), record
