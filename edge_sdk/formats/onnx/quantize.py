"""int8 with explicit Q/DQ for TensorRT, by ONNX Runtime's static QDQ quantizer.

TensorRT's explicit-quantization layout: symmetric int8 (zero point 0), weights per output channel and
stored as int8 initializers read by a DequantizeLinear (not fake-quantized float32), activations per
tensor, Q/DQ pairs on the inputs of Conv, Gemm and MatMul (TensorRT fuses a DQ -> op -> Q chain into
one int8 kernel; everything between stays in the precision the engine is built with). NVIDIA ModelOpt's
ONNX PTQ would be the first choice, but it does not install beside our pins: `pip install --dry-run
"nvidia-modelopt[onnx]"` (0.47.0) replaces onnxruntime 1.32 with onnxruntime-gpu 1.24.4, adds
cupy-cuda12x and downgrades onnx to 1.21. So ONNX Runtime's quantizer runs with these settings instead,
calibrated by min-max on the user's calibration data.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk import deps
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.data import Dataset, load_dataset
from edge_sdk.formats.base import export_errors

QUANTIZED_OPS = ("Conv", "Gemm", "MatMul")


def quantize_qdq(proto: Any, model: LoadedModel, calibration: Dataset, max_samples: int) -> tuple[Any, dict]:
    """(the Q/DQ model, what was quantized) of the float ONNX `proto`, calibrated on `calibration`."""
    onnx = deps.module("onnx")
    q = deps.module("onnxruntime.quantization")
    data = load_dataset(calibration, model.inputs, max_samples=max_samples, purpose="calibration")
    names = [i.name for i in proto.graph.input]
    batch = _static_batch(proto)

    class Reader(q.CalibrationDataReader):
        def __init__(self) -> None:
            arrays = list(data.inputs.values())
            step = batch or 1
            self.feeds = iter([{n: np.ascontiguousarray(a[i:i + step]) for n, a in zip(names, arrays)}
                               for i in range(0, len(data) - step + 1, step)])

        def get_next(self) -> dict | None:
            return next(self.feeds, None)

    with tempfile.TemporaryDirectory(prefix="edge-sdk-qdq-") as tmp:
        src, dst = Path(tmp) / "float.onnx", Path(tmp) / "qdq.onnx"
        src.write_bytes(proto.SerializeToString(deterministic=True))
        with export_errors("ONNX Runtime's Q/DQ quantizer failed"):
            q.quantize_static(
                str(src), str(dst), Reader(), quant_format=q.QuantFormat.QDQ, per_channel=True,
                activation_type=q.QuantType.QInt8, weight_type=q.QuantType.QInt8,
                op_types_to_quantize=list(QUANTIZED_OPS), calibrate_method=q.CalibrationMethod.MinMax,
                extra_options={"ActivationSymmetric": True, "WeightSymmetric": True,
                               "QDQOpTypePerChannelSupportToAxis": {"MatMul": 1}},
            )
        quantized = onnx.load(str(dst))
    return quantized, qdq_summary(quantized)


def _static_batch(proto: Any) -> int | None:
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    return dims[0].dim_value if dims and dims[0].HasField("dim_value") else None


def qdq_summary(proto: Any) -> dict:
    """What the Q/DQ layout holds: quantized ops (an input fed by a DequantizeLinear), int8 weight
    initializers, Q/DQ node counts."""
    onnx = deps.module("onnx")
    producers = {out: node for node in proto.graph.node for out in node.output}
    int8 = {t.name for t in proto.graph.initializer if t.data_type == onnx.TensorProto.INT8}
    quantized: dict[str, int] = {}
    for node in proto.graph.node:
        if node.op_type in QUANTIZED_OPS and all(
                producers.get(i) is not None and producers[i].op_type == "DequantizeLinear" for i in node.input[:2]):
            quantized[node.op_type] = quantized.get(node.op_type, 0) + 1
    count = {op: sum(n.op_type == op for n in proto.graph.node) for op in ("QuantizeLinear", "DequantizeLinear")}
    return {"quantized_ops": quantized, "int8_initializers": len(int8), **count}
