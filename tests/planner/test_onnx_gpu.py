"""Jetson GPU planning (issue 15 point 4): the ladder for the `onnx` format (TensorRT's precisions), the
roofline cost model for a unit that states bandwidth and launch overhead, and the CLI choosing int8 Q/DQ
under a tight flash budget."""

from __future__ import annotations

import json

import pytest

from tests.conftest import DIGITS_CALIBRATION, DIGITS_EVAL, DIGITS_MODEL

pytest.importorskip("onnxruntime", reason="the onnx extra (onnx, onnxruntime, tf2onnx, onnxscript) is not installed")


@pytest.fixture(scope="module")
def digits_info():
    from edge_sdk import analyze, load_model

    return analyze(load_model(DIGITS_MODEL))


def test_the_orin_ladder_is_tensorrts_precisions_on_the_gpu(digits_info):
    from edge_sdk import get_profile
    from edge_sdk.planner.fit import check_fit
    from edge_sdk.planner.ladder import build_ladder

    orin = get_profile("jetson-orin-nano")
    assert check_fit(digits_info, orin).fmt == "onnx"
    ladder = build_ladder(digits_info, orin)
    assert [r.name for r in ladder][:4] == ["fp32", "fp16", "int8", "int8-tuned"] and {r.fmt for r in ladder} == {"onnx"}
    fp16 = ladder[1]
    assert fp16.precision == "float16" and fp16.params_scale == 2.0  # the file stays float32
    nano = get_profile("jetson-nano")  # Maxwell: no int8 rate on the GPU, so no int8 rung
    assert [r.name for r in build_ladder(digits_info, nano)] == ["fp32", "fp16"]


def test_gpu_latency_is_a_per_layer_roofline_plus_launches(digits_info, tmp_path):
    import yaml

    from edge_sdk import get_profile
    from edge_sdk.planner.estimate import estimate

    orin = get_profile("jetson-orin-nano")
    gpu = orin.units_for("onnx")[0]
    est = estimate(digits_info, orin, fmt="onnx", precision="int8")
    assert set(est.latency_ms) == {"gpu"}
    busy = [layer for layer in digits_info.layers if layer.macs + layer.other_ops > 0]
    by_hand = sum(max((layer.macs + layer.other_ops) / (gpu.dtypes["int8"] * gpu.efficiency),
                      (layer.params + layer.output_elems) / gpu.memory_bandwidth_bytes_per_s) for layer in busy)
    by_hand += len(busy) * gpu.launch_overhead_s
    assert est.latency_ms["gpu"] == pytest.approx(1000 * by_hand + 0.3, rel=1e-3)  # + one GPU submission
    # a board with a tenth of the bandwidth is slower (the small layers are memory-bound)
    units = [u.model_dump(mode="json", exclude_none=True) for u in orin.compute.units]
    for unit in units:
        if unit["name"] == "gpu":
            unit["memory_bandwidth_bytes_per_s"] /= 10
    raw = {"name": "slow-orin", "extends": "jetson-orin-nano", "compute": {"units": units}}
    (tmp_path / "slow-orin.yaml").write_text(yaml.safe_dump(raw))
    slow = estimate(digits_info, get_profile("slow-orin", tmp_path), fmt="onnx", precision="int8")
    assert slow.latency_ms["gpu"] > est.latency_ms["gpu"]


def test_a_tight_flash_budget_selects_int8_qdq_for_the_jetson_gpu(tmp_path):
    from edge_sdk.cli import main

    out = tmp_path / "out"
    code = main(["build", "--model", str(DIGITS_MODEL), "--calibration", str(DIGITS_CALIBRATION), "--eval-data",
                 str(DIGITS_EVAL), "--target", "jetson", "--flash-budget", "100KB", "--out", str(out), "--no-cache"])
    assert code == 0
    report = json.loads(next(out.glob("*/report.json")).read_text())
    assert report["plan"]["name"] == "int8" and report["artifacts"][0]["format"] == "onnx", report["attempts"]
    attempts = {a["name"]: a for a in report["attempts"]}
    assert attempts["fp32"]["status"] in ("discarded", "rejected") and "flash" in attempts["fp32"]["reason"]
    verification = report["verification"]
    assert verification["runtime"] == "onnxruntime" and verification["method"] == "executed"
