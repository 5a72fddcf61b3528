"""`--jobs 2` gives the same artifacts, byte for byte, as `--jobs 1`: tasks are self-contained, every
decision is made in ladder order, and a worker's earlier tasks leave nothing behind that a later one
could see."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.e2e.conftest import run_cli


def _rung(name, fmt, precision, steps=()):
    return {"name": name, "fmt": fmt, "precision": precision, "framework": "keras", "steps": list(steps)}


QAT = {"technique": "qat", "params": {"epochs": 2}}
PLAN = {"plan_version": 2, "targets": {
    "pixel-8": [_rung("fp32", "tflite", "float32"), _rung("dynamic-int8", "tflite", "dynamic-int8"),
                _rung("int8", "tflite", "int8"), _rung("qat-int8", "tflite", "int8", [QAT])],
    "stm32f746-disco": [_rung("int8", "tflm", "int8"), _rung("qat-int8", "tflm", "int8", [QAT])],
}}


def _artifact_hashes(out) -> dict[str, str]:
    found = {}
    for report_path in sorted(out.glob("*/report.json")):
        report = json.loads(report_path.read_text())
        for attempt in report["attempts"]:
            if attempt["artifact"]:
                found[f"{report['profile']['name']}/{attempt['name']}"] = attempt["artifact"]["sha256"]
        for path in sorted(report_path.parent.rglob("*")):
            if path.is_file() and path.name not in ("report.json", "report.html"):
                found[str(path.relative_to(out))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.mark.slow
def test_jobs_2_pareto_build_is_byte_identical_to_jobs_1(tmp_path, digits_paths):
    (tmp_path / "plan.json").write_text(json.dumps(PLAN))
    hashes = {}
    for jobs in (1, 2):
        out = tmp_path / f"out{jobs}"
        result = run_cli(
            "build", "--model", str(digits_paths["model"]), "--calibration", str(digits_paths["calibration"]),
            "--target", "android", "--target", "cortex-m", "--plan", str(tmp_path / "plan.json"),
            "--search", "pareto", "--jobs", str(jobs), "--no-cache", "--out", str(out), "--quiet",
        )
        assert result.returncode == 0, result.stderr
        hashes[jobs] = _artifact_hashes(out)
    assert len([k for k in hashes[1] if "/" in k and k.count("/") == 1]) >= 6  # every rung was built
    assert hashes[1] == hashes[2]
