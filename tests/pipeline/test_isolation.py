"""Every candidate is an isolated task: a segfault, a bug or a hang in one rung ends that rung as
`failed` (signal, traceback or timeout in report.json), the next rung is accepted, and the other target
of the same build is still built. A bug makes the CLI exit 1 after writing everything (README)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.e2e.conftest import run_cli

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _rung(name: str, technique: str | None) -> dict:
    steps = [{"technique": technique, "params": {}}] if technique else []
    return {"name": name, "fmt": "tflite", "precision": "float32", "framework": "keras", "steps": steps}


@pytest.mark.slow
def test_crash_bug_and_hang_each_fail_one_rung_only(tmp_path, digits_paths, monkeypatch):
    plan = {"plan_version": 2, "targets": {"pixel-8": [
        _rung("segfaults", "test-segfault"), _rung("has-a-bug", "test-bug"), _rung("hangs", "test-hang"),
        _rung("fp32", None),
    ]}}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    monkeypatch.setenv("EDGE_SDK_PLUGINS", "faulty_techniques")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    out = tmp_path / "out"
    result = run_cli(
        "build", "--model", str(digits_paths["model"]), "--calibration", str(digits_paths["calibration"]),
        "--target", "android", "--target", "cortex-m", "--plan", str(tmp_path / "plan.json"),
        "--out", str(out), "--candidate-timeout", "20", "--no-cache",
    )
    assert result.returncode == 1, result.stderr  # a bug happened: exit 1, after writing every target
    assert "internal error in 1 candidate(s) (pixel-8/has-a-bug)" in result.stderr
    assert "Traceback" not in result.stderr  # the traceback is in report.json and build.log, not the terminal

    report = json.loads((out / "pixel-8" / "report.json").read_text())
    attempts = {a["name"]: a for a in report["attempts"]}
    crash, bug, hang = attempts["segfaults"], attempts["has-a-bug"], attempts["hangs"]
    assert crash["status"] == "failed" and crash["error"]["kind"] == "signal" and crash["error"]["type"] == "SIGSEGV"
    assert "about to crash natively" in crash["error"]["log_tail"]
    assert bug["status"] == "failed" and bug["error"]["internal"] and bug["error"]["type"] == "KeyError"
    assert "faulty_techniques.py" in bug["error"]["traceback"] and "a key our own code forgot" in bug["error"]["traceback"]
    assert hang["status"] == "failed" and hang["error"]["kind"] == "timeout" and "20 s" in hang["reason"]
    assert attempts["fp32"]["status"] == "accepted" and report["feasible"]
    assert (out / "pixel-8" / "model.tflite").is_file()

    mcu = json.loads((out / "stm32f746-disco" / "report.json").read_text())
    assert mcu["feasible"] and (out / "stm32f746-disco" / "model_data.cc").is_file()
    assert "a key our own code forgot" in (out / "build.log").read_text()  # the traceback reached build.log too
