"""Core ML exporter on the digits example. Core ML cannot predict on Linux: verification here is the
structural check of the saved package plus simulated numerics (the package's decompressed weights in
the Keras model), and the report says method "simulated"."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from edge_sdk.errors import ExportError
from edge_sdk.formats import FORMATS, ExportConfig
from edge_sdk.verify import check, verify

pytestmark = pytest.mark.slow


def _export(model, profile, out, **kw):
    return FORMATS.get("coreml")(model, profile, ExportConfig(precision="float16", **kw), out)


@pytest.fixture(scope="module")
def fp16(digits_loaded, ios_profile, tmp_path_factory):
    return _export(digits_loaded, ios_profile, tmp_path_factory.mktemp("fp16"))


@pytest.fixture(scope="module")
def pal4(digits_loaded, ios_profile, tmp_path_factory):
    return _export(digits_loaded, ios_profile, tmp_path_factory.mktemp("pal4"), coreml_compression="palettize4")


def test_fp16_structural_and_simulated(fp16, digits_loaded, digits_eval, ios_profile):
    assert fp16.path.name == "model.mlpackage" and (fp16.path / "Manifest.json").is_file()
    v = check(verify(fp16, digits_loaded, digits_eval))
    assert v.runtime == "coreml" and v.method == ("executed" if sys.platform == "darwin" else "simulated")
    c = v.checks
    assert c["loads"] and c["problems"] == [] and c["model_type"] == "mlProgram"
    assert c["inputs"] == {"image": [1, 8, 8, 1]} and c["outputs"] == ["probs"]
    assert {"conv", "linear", "softmax"} <= set(c["op_types"])
    target = ios_profile.runtime.constraints.get("minimum_deployment_target", "iOS16")
    assert c["deployment_target"] == target and fp16.details["minimum_deployment_target"] == target
    assert v.fidelity.top1_agreement >= 0.99 and v.fidelity.cosine >= 0.999
    assert v.fidelity.max_abs_error > 0  # the fp16 weight rounding really is in the simulation


def test_palettize4_structural_and_simulated(pal4, fp16, digits_loaded, digits_eval):
    v = check(verify(pal4, digits_loaded, digits_eval))
    assert "constexpr_lut_to_dense" in v.checks["op_types"]
    luts = {s for specs in v.checks["weight_storage"].values() for s in specs if s.startswith("lut")}
    assert luts == {"lut16:float16"}
    assert pal4.bytes < 0.6 * fp16.bytes
    assert v.fidelity.top1_agreement >= 0.85
    # 4-bit weights are measurably further from the original than fp16 ones
    fp16_v = verify(fp16, digits_loaded, digits_eval.head(120))
    assert verify(pal4, digits_loaded, digits_eval.head(120)).fidelity.sqnr_db < fp16_v.fidelity.sqnr_db


def test_numpy_decompression_matches_coremltools(pal4):
    """Our numpy decoding of the stored LUT weights equals coremltools' own constexpr evaluation."""
    from edge_sdk.formats.coreml.weights import load_program, program_values

    _, program = load_program(pal4.path)
    values, _ = program_values(program)
    checked = 0
    for op in program.functions["main"].operations:
        if op.op_type == "constexpr_lut_to_dense":
            ours = values[op.outputs[0].name]
            np.testing.assert_array_equal(ours, op.materialized_val_inference())
            checked += 1
    assert checked >= 2


def test_deterministic_package(fp16, digits_loaded, ios_profile, tmp_path):
    again = _export(digits_loaded, ios_profile, tmp_path)
    for rel in ("Data/com.apple.CoreML/model.mlmodel", "Data/com.apple.CoreML/weights/weight.bin", "Manifest.json"):
        assert (again.path / rel).read_bytes() == (fp16.path / rel).read_bytes(), rel
    assert again.sha256 == fp16.sha256


def test_joint_compression_needs_ios18(digits_loaded, ios_profile, tmp_path):
    if ios_profile.runtime.constraints.get("minimum_deployment_target", "iOS16") in ("iOS18", "iOS26"):
        pytest.skip("the iOS profile already targets iOS18+")
    with pytest.raises(ExportError, match="iOS18"):
        _export(digits_loaded, ios_profile, tmp_path, coreml_compression="sparse-palettize4")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def ios18_profile(ios_profile):
    """The iOS profile with its deployment target raised to iOS18 (joint compression needs it)."""
    constraints = {**ios_profile.runtime.constraints, "minimum_deployment_target": "iOS18"}
    return ios_profile.model_copy(update={"runtime": ios_profile.runtime.model_copy(update={"constraints": constraints})})


@pytest.mark.parametrize("compression,profile_name,marker", [
    ("linear8", "ios_profile", "constexpr_affine_dequantize"),
    ("sparse-palettize4", "ios18_profile", "constexpr_lut_to_sparse"),
])
def test_other_compressions_decode_like_coremltools(compression, profile_name, marker, digits_loaded, digits_eval, request, tmp_path):
    """Affine int8 (iOS16/17 ops) and joint sparse+LUT (iOS18 ops): our numpy decoding equals coremltools'
    and the simulated verification passes."""
    from edge_sdk.formats.coreml.weights import load_program, program_values

    profile = request.getfixturevalue(profile_name)
    artifact = _export(digits_loaded, profile, tmp_path, coreml_compression=compression)
    _, program = load_program(artifact.path)
    values, _ = program_values(program)
    decoded = [op for op in program.functions["main"].operations if op.op_type.startswith("constexpr")]
    assert any(op.op_type == marker for op in decoded)
    for op in decoded:
        theirs = op.materialized_val_inference()
        for out, want in zip(op.outputs, theirs if isinstance(theirs, tuple) else (theirs,)):
            np.testing.assert_allclose(np.asarray(values[out.name], np.float32), np.asarray(want, np.float32), rtol=1e-3, atol=1e-4)
    v = verify(artifact, digits_loaded, digits_eval.head(120))
    assert v.passed, v.reason
    assert v.checks["problems"] == []


def test_conv1d_kernels_map_back_from_core_ml_layout():
    """A 1-D conv keyword spotter (issue 12's zoo): Core ML stores a Conv1D kernel (Cout, Cin, K); the
    simulation transposed every conv weight as 4-D and raised (`axes don't match array`, exit 1)."""
    from edge_sdk import deps
    from edge_sdk.formats.coreml.runner import _keras_kernel
    from edge_sdk.formats.coreml.weights import WeightOp

    keras = deps.tf_keras()
    conv = keras.layers.Conv1D(16, 3)
    conv.build((None, 49, 10))
    kernel = np.arange(3 * 10 * 16, dtype=np.float32).reshape(3, 10, 16)  # Keras (K, Cin, Cout)
    stored = WeightOp("conv", "conv", kernel.transpose(2, 1, 0), None, 1, None)  # Core ML (Cout, Cin, K)
    attr, value = _keras_kernel(conv, stored, keras)
    assert attr == "kernel" and np.array_equal(value, kernel)


def test_weights_whose_op_names_no_layer_map_back_in_program_order(ios_profile, tmp_path):
    """MobileNetV3's squeeze-excite: coremltools fuses the hard-sigmoid's `x + 3` into the conv's bias and
    names the op after the add (`add_add`, which matches an Add layer that holds no weight), and a
    classifier conv gets `conv_0`: the simulation refused such packages (MobileNetV3 on ios: no fidelity,
    infeasible). They go, in program order, to the first weightless layer of their size."""
    from edge_sdk import deps
    from edge_sdk.model import load_model

    L = deps.tf_keras().layers
    inp = L.Input((8, 8, 4), name="image")
    x = L.Conv2D(8, 3, padding="same", activation="relu", name="stem")(inp)
    s = L.Conv2D(4, 1, activation="relu", name="se_reduce")(L.GlobalAveragePooling2D(keepdims=True, name="se_pool")(x))
    s = L.Conv2D(8, 1, name="se_expand")(s)
    gate = L.ReLU(6.0, name="se_relu6")(s + 3.0) * (1 / 6)  # keras.applications' hard_sigmoid
    x = L.Multiply(name="se_mul")([x, gate])
    y = L.Conv2D(5, 1, name="head")(L.GlobalAveragePooling2D(keepdims=True, name="pool")(x))
    model = deps.tf_keras().Model(inp, L.Softmax(name="probs")(L.Flatten(name="flat")(y)))
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in layer.get_weights()])
    loaded = load_model(model)
    from edge_sdk.data import Dataset

    data = Dataset({"image": rng.uniform(0, 1, (32, 8, 8, 4)).astype("float32")}, None, "test")
    v = check(verify(_export(loaded, ios_profile, tmp_path), loaded, data))
    assert v.method == ("executed" if sys.platform == "darwin" else "simulated")
    assert v.fidelity.top1_agreement >= 0.95 and v.fidelity.cosine >= 0.999
