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


def test_android_and_jetson_get_verified_pte(cli, tmp_path):
    proc = cli("build", "--model", str(MODEL), "--calibration", str(CAL), "--eval-data", str(EVAL),
               "--target", "android", "--target", "jetson", "--out", str(tmp_path), "--quiet")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reports = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("*/report.json"))]
    assert {r["profile"]["family"] for r in reports} == {"android", "jetson"}
    for report in reports:
        (artifact,) = report["artifacts"]
        assert artifact["format"] == "pte" and (tmp_path / report["profile"]["name"] / "model.pte").is_file()
        assert report["verification"]["runtime"] == "executorch" and report["verification"]["method"] == "executed"
        assert report["verification"]["accuracy"]["drop"] <= 1.0
        assert artifact["details"]["delegation"]["delegated_nodes"] > 0, "XNNPACK took part of the graph"
        assert report["model"]["framework"] == "torch"


def test_tight_flash_budget_quantizes_the_torch_model_to_int8(cli, tmp_path):
    proc = cli("build", "--model", str(MODEL), "--calibration", str(CAL), "--eval-data", str(EVAL),
               "--target", "android", "--flash-budget", "80KiB", "--out", str(tmp_path), "--quiet")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (report,) = [json.loads(p.read_text()) for p in tmp_path.glob("*/report.json")]
    assert report["artifacts"][0]["precision"] in ("int8", "dynamic-int8")
    assert report["artifacts"][0]["bytes"] <= 80 * 1024
    fp32 = next(a for a in report["attempts"] if a["name"] == "fp32")
    assert fp32["status"] in ("discarded", "rejected") and "flash_bytes" in fp32["reason"]
