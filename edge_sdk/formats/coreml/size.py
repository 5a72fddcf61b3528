"""Core ML artifact size for the planner's estimate (planner/memory.py, through `FORMAT.size`): an
mlpackage is weight blobs + the MIL program, not a flatbuffer.

model.mlmodel holds the MIL program (a conv brings ~6 parameter consts with it); weight.bin has a
64-byte header per blob; weights under 2048 elements stay fp16 when compressing. Precision
dynamic-int8 stands for linear8 weight compression. Calibrated on real packages (docs/export.md).
"""

from __future__ import annotations

from edge_sdk.contracts.model import ModelInfo

BASE_BYTES = 1600
PER_OP_BYTES = 450
OP_BYTES = {"conv": 1200}
FP16_CASTS_BYTES = 700  # fp16 programs cast inputs/outputs and name every op *_cast_fp16
BLOB_BYTES = 64
INLINE_MAX = 10  # constants this small are stored in the program itself
COMPRESS_MIN_ELEMS = 2048
QPARAM_BYTES = 3  # linear8: an fp16 scale and an int8 zero point per channel


def artifact_bytes(info: ModelInfo, tensors: list[tuple[int, int]], scale: float, precision: str) -> int:
    float_bytes = 4 if precision == "float32" else 2
    if precision in ("dynamic-int8", "int8"):  # linear8 weight compression
        kernels = sum(k + QPARAM_BYTES * b if k >= COMPRESS_MIN_ELEMS else k * float_bytes for k, b in tensors)
    else:
        kernels = sum(k for k, _ in tensors) * float_bytes
    biases = sum(b for _, b in tensors) * float_bytes
    blobs = sum(1 for k, b in tensors for n in (k, b) if n > INLINE_MAX)
    program = sum(OP_BYTES.get(op, PER_OP_BYTES) for l in info.layers for op in l.runtime_ops.get("coreml", ()))
    casts = 0 if precision == "float32" else FP16_CASTS_BYTES
    return int(kernels * scale + biases + BLOB_BYTES * blobs + program + casts + BASE_BYTES)
