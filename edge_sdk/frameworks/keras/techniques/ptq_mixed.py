"""Full-int8 PTQ with the most quantization-sensitive ops kept float ("int8-mixed").

Sensitivity per op is measured, not guessed: LiteRT's QuantizationDebugger runs the int8 model with
the float reference side by side on the calibration data and reports each quantized op's output error;
we rank ops by RMSE / quantization scale (error in units of one int8 step, the metric the LiteRT
debugger guide recommends) and convert again with those ops denylisted, so they run in float.
Only for targets that can run float ops (not TFLM / integer NPUs).
"""

from __future__ import annotations

import io
import math
import time
from typing import Any

from edge_sdk import deps
from edge_sdk.data import Dataset
from edge_sdk.errors import ExportError
from edge_sdk.formats.tflite.runner import input_order
from edge_sdk.frameworks.keras.techniques.ptq import converter_error, keras_converter, representative_dataset
from edge_sdk.contracts.records import StepRecord

SENSITIVE_RMSE_PER_SCALE = 0.7  # above this an op's int8 error exceeds ~0.7 quantization steps
NON_COMPUTE_OPS = {"RESHAPE", "MAX_POOL_2D", "QUANTIZE", "DEQUANTIZE", "SOFTMAX", "CONCATENATION", "PAD"}


def _sensitivity(debugger: Any) -> list[tuple[str, str, float]]:
    """(tensor name, op, rmse/scale) for every quantized compute op, most sensitive first."""
    buf = io.StringIO()
    debugger.layer_statistics_dump(buf)
    rows = buf.getvalue().strip().splitlines()
    header = rows[0].split(",")
    col = {name: i for i, name in enumerate(header)}
    ranked = []
    for line in rows[1:]:
        # tensor names may contain commas: split off the fixed leading columns only
        parts = line.split(",", len(header) - 1)
        op, scale, mse = parts[col["op_name"]], float(parts[col["scale"]]), float(parts[col["mean_squared_error"]])
        if op in NON_COMPUTE_OPS or scale <= 0:
            continue
        ranked.append((parts[col["tensor_name"]], op, math.sqrt(mse) / scale))
    return sorted(ranked, key=lambda r: -r[2])


def _interpreter_input_order(model: Any, names: list[str]) -> list[int]:
    """For each input of the converted model (interpreter order), its position in `names`. A single
    input needs no conversion to know it."""
    if len(names) == 1:
        return [0]
    tf = deps.tensorflow()
    float_model = keras_converter(model).convert()
    details = deps.litert_interpreter()(model_content=float_model).get_input_details()
    position = input_order(details, names)  # name -> interpreter index
    return [position.index(i) for i in range(len(details))]


def convert_int8_mixed(model: Any, calibration: Dataset, max_samples: int, keep_float: int | None = None) -> tuple[bytes, StepRecord]:
    """keep_float: how many of the most sensitive ops stay float (default: those above the threshold, at least 1)."""
    tf = deps.tensorflow()
    start = time.perf_counter()
    calibrate, used = representative_dataset(calibration, max_samples)
    order = _interpreter_input_order(model, list(calibration.inputs))

    def gen():  # the debugger takes lists only, in the converted model's input order
        for sample in calibrate():
            values = list(sample.values()) if isinstance(sample, dict) else sample
            yield [values[i] for i in order]

    def converter():
        conv = keras_converter(model)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = calibrate
        return conv

    try:
        probe = tf.lite.experimental.QuantizationDebugger(converter=converter(), debug_dataset=gen)
        probe.run()
    except Exception as exc:  # the converter raises ConverterError/RuntimeError with MLIR diagnostics
        raise ExportError(f"TFLite conversion (int8-mixed) failed: {converter_error(exc)}") from exc
    ranked = _sensitivity(probe)
    if keep_float is None:
        keep_float = max(1, sum(1 for r in ranked if r[2] > SENSITIVE_RMSE_PER_SCALE))
    denylist = [name for name, _, _ in ranked[:keep_float]]
    options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=denylist)
    try:
        final = tf.lite.experimental.QuantizationDebugger(converter=converter(), debug_dataset=gen, debug_options=options)
        flatbuffer = bytes(final.get_nondebug_quantized_model())
    except Exception as exc:  # noqa: BLE001 - as above
        raise ExportError(f"TFLite conversion (int8-mixed) failed: {converter_error(exc)}") from exc
    record = StepRecord(
        technique="ptq",
        params={"mode": "int8-mixed", "max_samples": max_samples, "keep_float": keep_float},
        metrics={
            "calibration_samples": used,
            "bytes": len(flatbuffer),
            "sensitivity_rmse_per_scale": {name: round(s, 4) for name, _, s in ranked},
        },
        notes=tuple(f"kept float: {name} ({op}, rmse/scale {s:.3f})" for name, op, s in ranked[:keep_float]),
        wall_s=time.perf_counter() - start,
    )
    return flatbuffer, record
