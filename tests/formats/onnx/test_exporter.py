"""The `onnx` format (issue 15 points 1-3): Keras (tf2onnx) and PyTorch (torch.onnx dynamo) programs to a
checked `.onnx` at the profile's opset, byte-identical on re-export, verified on ONNX Runtime; int8 as
explicit Q/DQ in TensorRT's layout (int8 weight initializers per channel behind a DequantizeLinear,
symmetric, Q/DQ on the inputs of Conv/Gemm/MatMul)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_sdk.errors import ConfigError
from edge_sdk.formats import FORMATS, ExportConfig
from edge_sdk.verify import verify

pytest.importorskip("onnxruntime", reason="the onnx extra (onnx, onnxruntime, tf2onnx, onnxscript) is not installed")
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
MODELS = {"keras": ROOT / "examples" / "digits" / "model.keras", "torch": ROOT / "examples" / "torch_digits" / "model.pt2"}


@pytest.fixture(scope="module", params=sorted(MODELS))
def digits(request):
    from edge_sdk.data import load_dataset
    from edge_sdk.model import load_model

    model = load_model(MODELS[request.param])
    data = ROOT / "calibration_data"
    return (model, load_dataset(data / "digits_calibration.npz", model.inputs),
            load_dataset(data / "digits_eval.npz", model.inputs, purpose="eval"))


@pytest.fixture(scope="module")
def jetson():
    from edge_sdk import get_profile

    return get_profile("jetson")


def test_float32_onnx_is_checked_reproducible_and_matches_the_model_on_onnx_runtime(digits, jetson, tmp_path):
    import onnx

    model, _, evaluation = digits
    first = FORMATS.get("onnx")(model, jetson, ExportConfig(precision="float32"), tmp_path / "a")
    again = FORMATS.get("onnx")(model, jetson, ExportConfig(precision="float32"), tmp_path / "b")
    assert first.sha256 == again.sha256
    proto = onnx.load(str(first.path))
    onnx.checker.check_model(proto, full_check=True)
    assert [o.version for o in proto.opset_import if o.domain == ""] == [17] == [first.details["opset"]]
    assert any("timed on the board" in note for note in first.details["notes"])  # the report says where it runs
    v = verify(first, model, evaluation)
    assert (v.runtime, v.method, v.passed) == ("onnxruntime", "executed", True), v.reason
    assert v.fidelity.top1_agreement == 1.0 and v.fidelity.max_abs_error < 1e-4, v.fidelity


def test_int8_is_explicit_qdq_with_int8_weights_in_tensorrts_layout(digits, jetson, tmp_path):
    import onnx
    from onnx import numpy_helper

    model, calibration, evaluation = digits
    fp32 = FORMATS.get("onnx")(model, jetson, ExportConfig(precision="float32"), tmp_path / "fp32")
    art = FORMATS.get("onnx")(model, jetson, ExportConfig(precision="int8", calibration=calibration), tmp_path / "int8")
    again = FORMATS.get("onnx")(model, jetson, ExportConfig(precision="int8", calibration=calibration), tmp_path / "again")
    assert art.precision == "int8" and art.details["engine_flags"] == ["--int8"] and art.sha256 == again.sha256
    proto = onnx.load(str(art.path))
    inits = {t.name: t for t in proto.graph.initializer}
    producers = {out: n for n in proto.graph.node for out in n.output}
    weighted = [n for n in proto.graph.node if n.op_type in ("Conv", "Gemm", "MatMul")]
    assert len(weighted) == 5 and sum(art.details["qdq"]["quantized_ops"].values()) == 5, art.details["qdq"]
    for node in weighted:
        act, weight = (producers[i] for i in node.input[:2])
        assert act.op_type == weight.op_type == "DequantizeLinear"  # Q/DQ on both inputs
        assert producers[act.input[0]].op_type == "QuantizeLinear"
        stored = inits[weight.input[0]]
        assert stored.data_type == onnx.TensorProto.INT8  # int8 initializer, not fake-quantized float32
        scale, zero = numpy_helper.to_array(inits[weight.input[1]]), numpy_helper.to_array(inits[weight.input[2]])
        assert scale.size > 1 and not zero.any()  # per channel, symmetric
    assert art.bytes <= 0.4 * fp32.bytes, (art.bytes, fp32.bytes)
    v = verify(art, model, evaluation)
    assert v.passed and v.fidelity.top1_agreement >= 0.99, v.fidelity


def test_bad_precision_and_missing_calibration_name_the_fix(digits, jetson, tmp_path):
    model, _, _ = digits
    with pytest.raises(ConfigError, match="onnx precision 'dynamic-int8' is not supported; valid: float32, float16, int8"):
        FORMATS.get("onnx")(model, jetson, ExportConfig(precision="dynamic-int8"), tmp_path)
    with pytest.raises(ConfigError, match="needs calibration data; pass --calibration"):
        FORMATS.get("onnx")(model, jetson, ExportConfig(precision="int8"), tmp_path)
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_float16_is_the_float32_file_built_fp16_and_verified_with_float16_rounding(digits, jetson, tmp_path):
    """The file is the float32 one (TensorRT converts at engine build, keeping fp32 where fp16 cannot);
    verification emulates --fp16 on ONNX Runtime: close to the model, but not bit-equal as float32 is."""
    model, _, evaluation = digits
    fp32 = FORMATS.get("onnx")(model, jetson, ExportConfig(precision="float32"), tmp_path / "fp32")
    fp16 = FORMATS.get("onnx")(model, jetson, ExportConfig(precision="float16"), tmp_path / "fp16")
    assert fp16.sha256 == fp32.sha256 and fp16.details["engine_flags"] == ["--fp16"]
    v16, v32 = verify(fp16, model, evaluation), verify(fp32, model, evaluation)
    assert v16.passed and v16.fidelity.top1_agreement >= 0.99, v16.fidelity
    assert v32.fidelity.max_abs_error < v16.fidelity.max_abs_error < 0.05, (v32.fidelity, v16.fidelity)


def test_tf2onnx_output_is_canonical_across_conversions():
    """tf2onnx alone gave three different files for three conversions of one MobileNetV2 (node order from
    its optimizers' sets, merged constants named after whichever copy came first, a process-wide name
    counter); canonical.py makes them one."""
    from edge_sdk import deps
    from edge_sdk.formats.onnx.exporter import checked, from_keras
    from edge_sdk.model import load_model

    keras = deps.tf_keras()
    keras.utils.set_random_seed(0)
    model = load_model(keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None))
    files = {checked(from_keras(model, 17)).SerializeToString(deterministic=True) for _ in range(3)}
    assert len(files) == 1
