"""A rebuild judges the latency budget on what `edge-sdk bench` measured on the device for the same
artifact (builds are deterministic, so a rung rebuilt is the file that was benchmarked); a host
measurement is not the device's and is ignored."""

from __future__ import annotations

import json

import pytest

from edge_sdk.planner.measured import measured_latencies
from tests.e2e.conftest import run_cli

PLAN = {"plan_version": 2, "targets": {"stm32f746-disco": [
    {"name": "int8", "fmt": "tflm", "precision": "int8", "framework": "keras", "steps": []}]}}


def _build(tmp_path, digits_paths, out):
    return run_cli("build", "--model", str(digits_paths["model"]), "--calibration", str(digits_paths["calibration"]),
                   "--target", "cortex-m", "--plan", str(tmp_path / "plan.json"), "--out", str(out), "--json")


def _bench_json(folder, runner: str, p50: float, artifact: dict | None = None, profile="stm32f746-disco") -> None:
    if artifact is None:
        report = json.loads((folder / "report.json").read_text())
        artifact = next(a for a in report["attempts"] if a["name"] == "int8")["artifact"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bench.json").write_text(json.dumps({
        "bench": {"device": "board", "runner": runner, "artifact": "model.tflite", "runs": 10, "warmup": 2,
                  "latency_ms": {"p50": p50}, "complete": True, "error": ""},
        "artifact": {**artifact, "precision": "int8"}, "profile": profile}))


def test_only_measurements_on_the_profiles_device_count(tmp_path):
    folder = tmp_path / "stm32f746-disco"
    record = {"format": "tflm", "path": "model.tflite", "files": ["model.tflite"], "bytes": 1}
    _bench_json(folder, "serial", 12.5, {**record, "sha256": "a" * 64})
    _bench_json(folder / "pareto" / "int8-host", "host", 3.0, {**record, "sha256": "b" * 64})  # this machine
    _bench_json(folder / "pareto" / "other-board", "serial", 7.0, {**record, "sha256": "c" * 64}, profile="nrf52840-dk")
    (folder / "pareto" / "broken").mkdir(parents=True)
    (folder / "pareto" / "broken" / "bench.json").write_text("{")
    found, skipped = measured_latencies(folder, "stm32f746-disco")
    assert found == {"a" * 64: 12.5}
    assert len(skipped) == 1 and "broken" in skipped[0]


def _latency_check(result) -> dict:
    report = json.loads(result.stdout)["targets"][0]
    attempt = next(a for a in report["attempts"] if a["name"] == "int8")
    return attempt["budgets"]["latency_ms"], attempt


@pytest.mark.slow
def test_a_rebuild_checks_latency_on_the_device_measurement_of_the_same_artifact(tmp_path, digits_paths):
    (tmp_path / "plan.json").write_text(json.dumps(PLAN))
    out = tmp_path / "out"
    first = _build(tmp_path, digits_paths, out)
    assert first.returncode == 0, first.stderr
    check, _ = _latency_check(first)
    assert check["measured"] is None and check["estimate"] < 100

    _bench_json(out / "stm32f746-disco", "serial", 900.0)  # the board: 900 ms against a 100 ms budget
    rebuilt = _build(tmp_path, digits_paths, out)
    assert rebuilt.returncode == 3, rebuilt.stderr
    check, attempt = _latency_check(rebuilt)
    assert check["measured"] == 900.0 and check["status"] == "over" and attempt["measured"]["latency_ms"] == 900.0
    assert "latency_ms measured 900" in attempt["reason"]
