"""The base cost model against hand-computed values on a tiny hand-built ModelInfo and the digits model."""

from __future__ import annotations

from dataclasses import replace

import pytest

from edge_sdk import analyze
from edge_sdk.contracts.model import LayerInfo, ModelInfo
from edge_sdk.planner import estimate as cost
from edge_sdk.planner.estimate import estimate
from edge_sdk.planner.memory import estimate_arena_bytes, estimate_artifact_bytes
from tests.planner.profile_factory import make_profile

CONV = LayerInfo("conv", "Conv2D", "conv", ((1, 10, 10, 1),), ((1, 10, 10, 10),), 1000, 1_000_000, 0, 1000,
                 inputs=("x",), runtime_ops={"tflite": ("CONV_2D",)})
INPUT = LayerInfo("x", "InputLayer", "input", (), ((1, 10, 10, 1),), 0, 0, 0, 100)
TINY = ModelInfo("keras", (INPUT, CONV), (), (), params=1000, macs=1_000_000, other_ops=0, peak_activation_elems=1100,
                 input_names=("x",), output_names=("conv",))


@pytest.fixture(scope="module")
def digits_info(digits_loaded):
    return analyze(digits_loaded)


def test_latency_is_macs_over_rate_plus_op_overhead():
    est = estimate(TINY, make_profile("cortex-m"), fmt="tflm", precision="int8")
    # 1e6 MACs / (4e8 MAC/s * 0.5) = 5 ms; one op * 2000 cycles / 100 MHz = 0.02 ms
    assert est.latency_ms == {"cpu": pytest.approx(5.02)}
    assert est.best_unit == "cpu" and est.compute_dtype == "int8"
    half = estimate(TINY, make_profile("cortex-m"), fmt="tflm", precision="int8", macs_scale=0.5)
    assert half.latency_ms["cpu"] == pytest.approx(2.52)


def test_float16_falls_back_to_float32_and_picks_the_fastest_unit():
    est = estimate(TINY, make_profile("android"), fmt="tflite", precision="float16")
    # cpu has no float16: runs at its float32 rate 1e8 * 0.5 -> 20 ms; gpu float16 1e10 * 0.1 -> 1 ms + dispatch
    assert est.latency_ms["cpu"] == pytest.approx(20.02)
    assert est.latency_ms["gpu"] == pytest.approx(1.0 + 0.02 + cost.ACCEL_DISPATCH_MS)
    assert est.best_unit == "gpu"
    int8 = estimate(TINY, make_profile("android"), fmt="tflite", precision="int8")
    assert set(int8.latency_ms) == {"cpu"}  # the gpu unit has no int8 rate


def test_cortex_m_ram_is_the_arena(digits_info):
    profile = make_profile("cortex-m")
    est = estimate(digits_info, profile, fmt="tflm", precision="int8")
    assert est.arena_bytes == estimate_arena_bytes(digits_info, "int8") == est.ram_bytes
    assert est.flash_bytes == estimate_artifact_bytes(digits_info, "tflm", "int8")
    narrow = estimate(digits_info, profile, fmt="tflm", precision="int8", activation_scale=0.5)
    assert narrow.arena_bytes < est.arena_bytes


def test_phone_ram_is_weights_plus_activations_plus_runtime(digits_info):
    est = estimate(digits_info, make_profile("android"), fmt="tflite", precision="float32")
    assert est.arena_bytes is None
    expected = est.flash_bytes + digits_info.peak_activation_elems * 4 + cost.RUNTIME_OVERHEAD_BYTES["tflite"]
    assert est.ram_bytes == expected
    int8 = estimate(digits_info, make_profile("android"), fmt="tflite", precision="int8")
    assert int8.ram_bytes == int8.flash_bytes + digits_info.peak_activation_elems + cost.RUNTIME_OVERHEAD_BYTES["tflite"]


def _weight_part(info, fmt, precision):
    """Bytes of the artifact that scale with params (the rest is format overhead), per planner/memory.py."""
    return estimate_artifact_bytes(info, fmt, precision) - estimate_artifact_bytes(replace(info, params=0), fmt, precision)


def test_precision_and_width_scale_flash(digits_info):
    profile = make_profile("android")
    sizes = {p: estimate(digits_info, profile, fmt="tflite", precision=p).flash_bytes for p in ("float32", "float16", "int8")}
    assert sizes["float32"] == estimate_artifact_bytes(digits_info, "tflite", "float32")  # delegated, not copied
    assert sizes["float32"] > sizes["float16"] > sizes["int8"]
    quarter = estimate(digits_info, profile, fmt="tflite", precision="int8", params_scale=0.25)  # width 0.5
    assert quarter.flash_bytes == estimate_artifact_bytes(replace(digits_info, params=digits_info.params // 4), "tflite", "int8")
    assert quarter.flash_bytes < sizes["int8"]


def test_palettized_weights_cost_n_bits(digits_info):
    ios = make_profile("ios", formats=["coreml"])
    f16 = estimate(digits_info, ios, fmt="coreml", precision="float16")
    pal4 = estimate(digits_info, ios, fmt="coreml", precision="palettize4")
    pal6 = estimate(digits_info, ios, fmt="coreml", precision="palettize6")
    assert pal4.flash_bytes < pal6.flash_bytes < f16.flash_bytes
    four_bit = replace(digits_info, params=round(digits_info.params * 4 / 16))  # 4 of float16's 16 bits
    assert pal4.flash_bytes == estimate_artifact_bytes(four_bit, "coreml", "float16")
    assert pal4.compute_dtype == "float16"


def test_sparsity_shrinks_gzip_not_flash(digits_info):
    profile = make_profile("cortex-m")
    dense = estimate(digits_info, profile, fmt="tflm", precision="int8")
    sparse = estimate(digits_info, profile, fmt="tflm", precision="int8", sparsity=0.8)
    assert sparse.flash_bytes == dense.flash_bytes  # a flatbuffer stores zeros as bytes
    saved = _weight_part(digits_info, "tflm", "int8") * cost.GZIP_RATIO["int8"] * cost.K_ZERO * 0.8
    assert dense.flash_gzip_bytes - sparse.flash_gzip_bytes == pytest.approx(saved, abs=2)
    assert dense.flash_gzip_bytes < dense.flash_bytes


def test_int16x8_runs_at_half_the_int8_rate_without_an_int16_rate():
    est = estimate(TINY, make_profile("cortex-m"), fmt="tflm", precision="int16x8")
    assert est.compute_dtype == "int16"
    assert est.latency_ms["cpu"] == pytest.approx(1e6 / (2e8 * 0.5) * 1000 + 0.02)


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="unknown precision"):
        estimate(TINY, make_profile("android"), fmt="tflite", precision="int4")


def test_to_dict_is_plain_json():
    import json

    d = estimate(TINY, make_profile("android"), fmt="tflite", precision="float32").to_dict()
    assert json.loads(json.dumps(d))["latency_ms"]["cpu"] == pytest.approx(20.02)


def test_dynamic_int8_runs_its_quantized_layers_at_the_int8_rate():
    """dynamic-int8 quantizes activations on the fly and multiplies in int8 wherever it quantized the
    weights (a conv of >= 1024 weights here); charging it all at float32 discarded a rung that measured
    ~3x faster than fp32."""
    big = replace(CONV, weight_shapes=((3, 3, 16, 16),))
    info = replace(TINY, layers=(INPUT, big))
    profile = make_profile("android")
    dyn, fp32, int8 = (estimate(info, profile, fmt="tflite", precision=p) for p in ("dynamic-int8", "float32", "int8"))
    assert dyn.latency_ms["cpu"] == pytest.approx(int8.latency_ms["cpu"])
    assert dyn.latency_ms["cpu"] < fp32.latency_ms["cpu"] / 3
    assert "gpu" not in dyn.latency_ms  # the gpu unit has no int8 rate
    small = estimate(TINY, profile, fmt="tflite", precision="dynamic-int8")  # no weights recorded: stays float
    assert small.latency_ms["cpu"] == pytest.approx(fp32.latency_ms["cpu"])
