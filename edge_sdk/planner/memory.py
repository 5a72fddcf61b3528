"""Size and memory estimates from `ModelInfo`, before any conversion.

    estimate_artifact_bytes(info, fmt, precision) -> int
        weights at the precision's bytes per parameter + the format's per-tensor/per-op overhead.
    estimate_arena_bytes(info, dtype="int8") -> int
        peak of simultaneously live activation tensors under sequential execution (a liveness
        simulation like TFLM's greedy memory planner) + the interpreter's fixed overhead.

FIRST CUT: simple formulas; the exporter work replaces the overhead constants and the liveness
simulation with ones calibrated against measured artifacts and the TFLM recording allocator.
"""

from __future__ import annotations

from edge_sdk.model.types import ModelInfo

WEIGHT_BYTES = {
    "float32": 4.0,
    "float16": 2.0,
    "dynamic-int8": 1.0,
    "int8": 1.0,
    "int16x8": 1.0,
}
BIAS_BYTES = {"int8": 4.0, "int16x8": 8.0}  # int32 / int64 biases
FORMAT_BASE_BYTES = {"tflite": 2000, "tflm": 2000, "coreml": 8000, "pte": 4000, "pte-coreml": 8000}
PER_LAYER_BYTES = {"tflite": 300, "tflm": 300, "coreml": 400, "pte": 600, "pte-coreml": 600}


def estimate_artifact_bytes(info: ModelInfo, fmt: str, precision: str) -> int:
    weight_bytes = WEIGHT_BYTES.get(precision, 1.0) * info.params
    layers = sum(1 for l in info.layers if l.kind != "input")
    return int(weight_bytes + FORMAT_BASE_BYTES.get(fmt, 2000) + PER_LAYER_BYTES.get(fmt, 300) * layers)


def estimate_arena_bytes(info: ModelInfo, dtype: str = "int8") -> int:
    return int(info.peak_activation_bytes(dtype) * 1.1 + 1024)
