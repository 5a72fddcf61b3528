"""QAT for TensorRT (issue 15: "QAT models keep their learned Q/DQ"): the torch digits CNN trained with
`qat` scheme `tensorrt`, exported to ONNX. The file holds the program's own trained scales (no
calibration at export), symmetric (every zero point 0), int8 weight initializers per output channel
behind DequantizeLinear, Q/DQ on the inputs of every Conv and Gemm, and ONNX Runtime agrees with the
quantized torch program and keeps the float model's top-1."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edge_sdk.errors import ConfigError, ExportError
from edge_sdk.formats import FORMATS, ExportConfig
from edge_sdk.frameworks.torch.techniques import qat as torch_qat
from edge_sdk.verify import verify

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def jetson():
    from edge_sdk import get_profile

    return get_profile("jetson")


@pytest.fixture(scope="module")
def tensorrt_qat(torch_digits, digits_data, digits_train_set):
    data = dataclasses.replace(digits_data, train=digits_train_set)
    return torch_qat.apply(torch_digits, data, {"epochs": 1, "progress": False, "scheme": "tensorrt"})


def _learned_scales(program) -> set[float]:
    """Every per-tensor activation scale of the quantized torch program, rounded to float32."""
    return {float(np.float32(n.args[1])) for n in program.graph.nodes
            if n.op == "call_function" and "quantize_per_tensor" in str(n.target) and isinstance(n.args[1], float)}


def test_the_onnx_file_keeps_the_learned_symmetric_qdq(tensorrt_qat, torch_digits, digits_data, jetson, tmp_path):
    import onnx
    from onnx import numpy_helper

    model, record = tensorrt_qat
    assert record.params["scheme"] == "tensorrt" and record.metrics["quantized_ops"]["conv2d"] == 3
    art = FORMATS.get("onnx")(model, jetson, ExportConfig(precision="int8"), tmp_path)  # no calibration needed
    qdq = art.details["qdq"]
    assert qdq["calibration"] == "learned" and qdq["asymmetric"] == 0 and qdq["int8_initializers"] >= 5
    assert qdq["quantized_ops"] == {"Conv": 3, "Gemm": 2}, qdq
    proto = onnx.load(str(art.path))
    values = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    values.update({n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in proto.graph.node if n.op_type == "Constant"})
    scales = {float(np.float32(values[n.input[1]])) for n in proto.graph.node
              if n.op_type == "QuantizeLinear" and values[n.input[1]].size == 1}
    assert scales and scales <= _learned_scales(model.handle), (scales, _learned_scales(model.handle))
    weights = [values[n.input[0]] for n in proto.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in values
               and values[n.input[0]].dtype == np.int8 and values[n.input[0]].ndim > 1]
    assert len(weights) == 5 and all(int(np.abs(w).max()) <= 127 for w in weights)  # narrow range, per channel
    ours = verify(art, model, digits_data.eval)  # against the quantized program: the file adds no error
    assert ours.passed and ours.fidelity.top1_agreement >= 0.99, ours.fidelity
    float_ref = verify(art, torch_digits, digits_data.eval)
    assert float_ref.passed, float_ref.reason


def test_a_quantized_program_is_refused_at_a_float_precision(tensorrt_qat, jetson, tmp_path):
    with pytest.raises(ConfigError, match="already quantized .* export it at int8, not float16"):
        FORMATS.get("onnx")(tensorrt_qat[0], jetson, ExportConfig(precision="float16"), tmp_path)


def test_xnnpack_qat_has_zero_points_tensorrt_refuses(torch_digits, digits_data, digits_train_set, jetson, tmp_path):
    data = dataclasses.replace(digits_data, train=digits_train_set)
    model, _ = torch_qat.apply(torch_digits, data, {"epochs": 1, "progress": False})  # scheme xnnpack
    with pytest.raises(ExportError, match="nonzero zero point, which TensorRT does not take; .*scheme: tensorrt"):
        FORMATS.get("onnx")(model, jetson, ExportConfig(precision="int8"), tmp_path)
