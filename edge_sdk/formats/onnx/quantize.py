"""int8 with explicit Q/DQ for TensorRT, by ONNX Runtime's static QDQ quantizer.

TensorRT's explicit-quantization layout: symmetric int8 (zero point 0), weights per output channel and
stored as int8 initializers read by a DequantizeLinear (not fake-quantized float32), activations per
tensor, Q/DQ pairs on the inputs of Conv, Gemm and MatMul (TensorRT fuses a DQ -> op -> Q chain into
one int8 kernel; everything between stays in the precision the engine is built with). NVIDIA ModelOpt's
ONNX PTQ would be the first choice, but it does not install beside our pins: `pip install --dry-run
"nvidia-modelopt[onnx]"` (0.47.0) replaces onnxruntime 1.32 with onnxruntime-gpu 1.24.4, adds
cupy-cuda12x and downgrades onnx to 1.21. So ONNX Runtime's quantizer runs with these settings instead,
calibrated on the user's calibration data: min-max for `int8`; for `int8-tuned` (`quantize_tuned`) the
activation ranges of percentile calibration (the 99.999th, then the 99.99th percentile of |x|) and
min-max, each judged on calibration samples against the float ONNX model by the build's fidelity
floor, the first that meets it kept (else the closest): min-max ranges are set by the rare extreme
activation, which wastes most of int8's 256 levels on a long-tailed tensor. Entropy (KL) calibration is
not among them: `quantize_static` gives ONNX Runtime's entropy calibrator 128 histogram bins for 128
quantized bins, so its search has one candidate, the full range (scales identical to min-max on the
zoo's MTCNN ONet), and it takes no option to change that.
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
# int8-tuned's order: name -> (ONNX Runtime CalibrationMethod, the percentile of |x| kept)
CALIBRATIONS = {"percentile": ("Percentile", 99.999), "percentile-99.99": ("Percentile", 99.99), "minmax": ("MinMax", None)}
JUDGE_SAMPLES = 64


def quantize_qdq(proto: Any, model: LoadedModel, calibration: Dataset, max_samples: int,
                 method: str = "minmax") -> tuple[Any, dict]:
    """(the Q/DQ model, what was quantized) of the float ONNX `proto`, calibrated on `calibration` by
    `method` (a key of CALIBRATIONS)."""
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

    calibrate_method, percentile = CALIBRATIONS[method]
    with tempfile.TemporaryDirectory(prefix="edge-sdk-qdq-") as tmp:
        src, dst = Path(tmp) / "float.onnx", Path(tmp) / "qdq.onnx"
        src.write_bytes(proto.SerializeToString(deterministic=True))
        with export_errors("ONNX Runtime's Q/DQ quantizer failed"):
            q.quantize_static(
                str(src), str(dst), Reader(), quant_format=q.QuantFormat.QDQ, per_channel=True,
                activation_type=q.QuantType.QInt8, weight_type=q.QuantType.QInt8,
                op_types_to_quantize=list(QUANTIZED_OPS), calibrate_method=getattr(q.CalibrationMethod, calibrate_method),
                extra_options={"ActivationSymmetric": True, "WeightSymmetric": True,
                               "QDQOpTypePerChannelSupportToAxis": {"MatMul": 1},
                               **({"CalibPercentile": percentile} if percentile else {})},
            )
        quantized = onnx.load(str(dst))
    return quantized, {**qdq_summary(quantized), "calibration": method}


def quantize_tuned(proto: Any, model: LoadedModel, calibration: Dataset, max_samples: int,
                   floor: dict[str, float] | None, kinds: dict[str, str] | None) -> tuple[Any, dict]:
    """int8-tuned: the Q/DQ model of the first calibration method (CALIBRATIONS' order) whose outputs on
    JUDGE_SAMPLES calibration samples meet `floor` against the float model, else of the closest one;
    what each method missed is recorded."""
    from edge_sdk.fidelity import DEFAULT_MIN_FIDELITY, misses
    from edge_sdk.verify import fidelity

    judge = load_dataset(calibration, model.inputs, max_samples=JUDGE_SAMPLES, purpose="calibration").inputs
    reference = _outputs(proto, judge)
    tried: dict[str, Any] = {}
    best: tuple[float, Any, dict] | None = None
    for method in CALIBRATIONS:
        quantized, summary = quantize_qdq(proto, model, calibration, max_samples, method)
        missed = misses(fidelity(reference, _outputs(quantized, judge), kinds).outputs, floor or DEFAULT_MIN_FIDELITY)
        tried[method] = [what for what, _ in missed] or "meets the floor"
        worst = max((shortfall for _, shortfall in missed), default=0.0)
        if best is None or worst < best[0]:
            best = (worst, quantized, summary)
        if not missed:
            break
    assert best is not None
    return best[1], {**best[2], "calibrations_tried": tried}


def _outputs(proto: Any, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    from edge_sdk.formats.onnx.runner import run

    with tempfile.TemporaryDirectory(prefix="edge-sdk-qdq-judge-") as tmp:
        path = Path(tmp) / "model.onnx"
        path.write_bytes(proto.SerializeToString(deterministic=True))
        return run(path, inputs)


def _static_batch(proto: Any) -> int | None:
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    return dims[0].dim_value if dims and dims[0].HasField("dim_value") else None


def qdq_summary(proto: Any) -> dict:
    """What the Q/DQ layout holds: quantized ops (an input fed by a DequantizeLinear), int8 weight
    initializers, Q/DQ node counts, and how many Q/DQ nodes have a nonzero zero point (`asymmetric`)."""
    onnx = deps.module("onnx")
    from onnx import numpy_helper

    producers = {out: node for node in proto.graph.node for out in node.output}
    int8 = {t.name for t in proto.graph.initializer if t.data_type == onnx.TensorProto.INT8}
    values = {t.name: t for t in proto.graph.initializer}
    values.update({n.output[0]: n.attribute[0].t for n in proto.graph.node if n.op_type == "Constant" and n.attribute
                   and n.attribute[0].name == "value"})
    zero_points = [n.input[2] for n in proto.graph.node
                   if n.op_type in ("QuantizeLinear", "DequantizeLinear") and len(n.input) > 2 and n.input[2]]
    asymmetric = sum(1 for z in zero_points if z in values and numpy_helper.to_array(values[z]).any())
    quantized: dict[str, int] = {}
    for node in proto.graph.node:
        if node.op_type in QUANTIZED_OPS and all(
                producers.get(i) is not None and producers[i].op_type == "DequantizeLinear" for i in node.input[:2]):
            quantized[node.op_type] = quantized.get(node.op_type, 0) + 1
    count = {op: sum(n.op_type == op for n in proto.graph.node) for op in ("QuantizeLinear", "DequantizeLinear")}
    return {"quantized_ops": quantized, "int8_initializers": len(int8), **count, "asymmetric": asymmetric}
