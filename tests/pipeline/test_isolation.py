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


@pytest.mark.slow
def test_a_script_without_a_main_guard_can_build_with_worker_processes(tmp_path, digits_paths):
    """Workers are fresh interpreters, not multiprocessing's spawn: they never re-run the caller's script."""
    import subprocess
    import sys

    script = tmp_path / "release.py"
    script.write_text(
        "import edge_sdk\n"
        f"results = edge_sdk.build({str(digits_paths['model'])!r}, ['android'], calibration={str(digits_paths['calibration'])!r},\n"
        f"                         out={str(tmp_path / 'out')!r}, quiet=True)\n"
        "print('FEASIBLE', results[0].feasible)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("FEASIBLE True") == 1  # the script ran once, in this process only
    assert (tmp_path / "out" / "pixel-8" / "model.tflite").is_file()
