"""The Jetson profiles' GPU unit is the `onnx` (TensorRT) target (issue 15 point 4, the data).

Numbers and op lists are checked against the documents the profiles cite: the NVIDIA data sheets
(bandwidth), the JetPack release's TensorRT version, and onnx-tensorrt's docs/operators.md at the
matching release tag (release/10.1-GA for TensorRT 10.3, release/8.2-GA for TensorRT 8.2).
"""

from __future__ import annotations

import pytest

import edge_sdk
from edge_sdk.profiles import OP_NAMESPACE, Profile

JETSONS = ("jetson-orin-nano", "jetson-nano")
# operators every profile's ONNX list needs for conv nets and int8 Q/DQ engines
REQUIRED_ONNX = {"Conv", "Gemm", "MatMul", "Relu", "QuantizeLinear", "DequantizeLinear"}
# rows the matrix marks N at that TensorRT version (or, for 8.2, leaves out / marks experimental)
NOT_SUPPORTED = {
    "jetson-orin-nano": {"QLinearConv", "ConvInteger", "MatMulInteger", "DynamicQuantizeLinear", "Unique",
                         "BlackmanWindow", "STFT"},  # the last two only arrive in TensorRT 10.4 / 10.5
    "jetson-nano": {"QLinearConv", "Mod", "OneHot", "NonZero", "Reciprocal", "HardSwish", "NonMaxSuppression"},
}
EXPECTED = {
    # name: (TensorRT major.minor in runtime_version, opset, bandwidth bytes/s, op count)
    "jetson-orin-nano": ("TensorRT 10.3", 17, 68e9, 150),
    "jetson-nano": ("TensorRT 8.2", 13, 25.6e9, 128),
}


def _gpu(profile: Profile):
    return next(u for u in profile.compute.units if u.name == "gpu")


@pytest.fixture(params=JETSONS)
def profile(request) -> Profile:
    return edge_sdk.get_profile(request.param)


def test_profiles_load_and_the_family_default_is_the_orin():
    assert edge_sdk.get_profile("jetson").name == "jetson-orin-nano"
    for name in JETSONS:
        assert edge_sdk.get_profile(name).family == "jetson"


def test_gpu_unit_is_the_onnx_target_with_rates_bandwidth_and_version(profile):
    version, _, bandwidth, _ = EXPECTED[profile.name]
    gpu = _gpu(profile)
    assert gpu.formats == ("onnx",)
    assert gpu.runtime_version and gpu.runtime_version.startswith(version), gpu.runtime_version
    assert gpu.memory_bandwidth_bytes_per_s == bandwidth
    assert gpu.launch_overhead_s is not None and 1e-6 <= gpu.launch_overhead_s <= 1e-4
    assert gpu.dtypes["float16"] > gpu.dtypes["float32"]  # Tensor Cores / paired half2 FMA
    assert profile.units_for("onnx") == (gpu,)  # only the GPU runs the TensorRT engine
    assert gpu not in profile.units_for("pte") and gpu not in profile.units_for("tflite")
    assert "rationale" in gpu.source  # the launch overhead is not a measurement, and says so


def test_tensor_core_rates_follow_the_data_sheets():
    orin, nano = _gpu(edge_sdk.get_profile("jetson-orin-nano")), _gpu(edge_sdk.get_profile("jetson-nano"))
    assert orin.dtypes["int8"] == 20e12 / 2  # 20 dense int8 TOPS (40 sparse), 2 ops per MAC
    assert orin.dtypes["float16"] == orin.dtypes["int8"] / 2
    assert "DLA" in orin.source  # the Orin Nano has none; the source says so
    # Maxwell: no Tensor Cores, no DP4A - fp16 via half2 at 2x fp32, and no int8 entry at all
    assert "int8" not in nano.dtypes
    assert nano.dtypes["float16"] == 2 * nano.dtypes["float32"] == 128 * 2 * 921e6  # 472 GFLOPS fp16


def test_onnx_is_the_first_format_and_the_cpu_formats_stay_as_fallbacks(profile):
    assert profile.runtime.formats == ("onnx", "pte", "tflite")
    assert OP_NAMESPACE["onnx"] == "onnx"
    cpu = next(u for u in profile.compute.units if u.name == "cpu")
    assert profile.units_for("pte") == (cpu,) and profile.units_for("tflite") == (cpu,)


def test_onnx_opset_is_the_parsers_limit_capped_at_the_exporter_default(profile):
    from edge_sdk.formats.onnx.exporter import DEFAULT_OPSET, opset_for

    opset = profile.runtime.constraints["onnx_opset"]
    assert isinstance(opset, int) and not isinstance(opset, bool)
    assert 13 <= opset <= 17 == DEFAULT_OPSET
    assert opset == EXPECTED[profile.name][1]
    assert opset_for(profile) == opset


def test_onnx_op_list_is_the_tensorrt_matrix(profile):
    raw = profile.runtime.ops["onnx"]
    ops = profile.ops_for("onnx")
    assert list(raw) == sorted(raw) and len(raw) == len(ops) == EXPECTED[profile.name][3]
    assert REQUIRED_ONNX <= ops
    assert not (NOT_SUPPORTED[profile.name] & ops), NOT_SUPPORTED[profile.name] & ops
    assert all(op[0].isupper() and op.isalnum() for op in ops)  # ONNX op_type names, no domain prefix


def test_tensorrt_82_list_is_a_subset_of_the_103_one():
    old = edge_sdk.get_profile("jetson-nano").ops_for("onnx")
    new = edge_sdk.get_profile("jetson-orin-nano").ops_for("onnx")
    assert old < new
    assert {"LayerNormalization", "HardSwish", "GroupNormalization"} <= new - old
