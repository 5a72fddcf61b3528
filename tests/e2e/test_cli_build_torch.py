"""`edge-sdk build` with a PyTorch .pt2: android and jetson get .pte files verified on the ExecuTorch runtime."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "examples/torch_digits/model.pt2"
CAL = ROOT / "calibration_data/digits_calibration.npz"
EVAL = ROOT / "calibration_data/digits_eval.npz"

pytestmark = pytest.mark.slow


def test_android_gets_a_verified_pte_and_jetson_an_onnx_for_its_gpu(cli, tmp_path):
    """Android runs the .pte on XNNPACK; the Jetson's GPU takes every op of this CNN (TensorRT's parser),
    so its build is an .onnx verified on ONNX Runtime."""
    proc = cli("build", "--model", str(MODEL), "--calibration", str(CAL), "--eval-data", str(EVAL),
               "--target", "android", "--target", "jetson", "--out", str(tmp_path), "--quiet")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reports = {r["profile"]["family"]: r for r in (json.loads(p.read_text()) for p in tmp_path.glob("*/report.json"))}
    assert set(reports) == {"android", "jetson"}
    expected = {"android": ("pte", "executorch"), "jetson": ("onnx", "onnxruntime")}
    for family, report in reports.items():
        (artifact,) = report["artifacts"]
        fmt, runtime = expected[family]
        assert artifact["format"] == fmt and (tmp_path / report["profile"]["name"] / f"model.{fmt}").is_file()
        assert report["verification"]["runtime"] == runtime and report["verification"]["method"] == "executed"
        assert report["verification"]["accuracy"]["drop"] <= 1.0
        assert report["model"]["framework"] == "torch"
    assert reports["android"]["artifacts"][0]["details"]["delegation"]["delegated_nodes"] > 0, "XNNPACK took part"


def test_tight_flash_budget_quantizes_the_torch_model_to_int8(cli, tmp_path):
    proc = cli("build", "--model", str(MODEL), "--calibration", str(CAL), "--eval-data", str(EVAL),
               "--target", "android", "--flash-budget", "80KiB", "--out", str(tmp_path), "--quiet")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (report,) = [json.loads(p.read_text()) for p in tmp_path.glob("*/report.json")]
    assert report["artifacts"][0]["precision"] in ("int8", "dynamic-int8")
    assert report["artifacts"][0]["bytes"] <= 80 * 1024
    fp32 = next(a for a in report["attempts"] if a["name"] == "fp32")
    assert fp32["status"] in ("discarded", "rejected") and "flash_bytes" in fp32["reason"]
