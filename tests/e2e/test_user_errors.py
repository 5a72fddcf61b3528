"""Issue 16's user errors: each is exit 2 with one line naming the flag, file or field, no traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edge_sdk.cli import main

from ..conftest import DIGITS_CALIBRATION, DIGITS_EVAL, DIGITS_MODEL

FIXTURES = Path(__file__).resolve().parent.parent / "report" / "fixtures"


def _one_line_error(capsys, *fragments: str) -> str:
    err = capsys.readouterr().err.strip()
    last = err.splitlines()[-1] if err else ""
    assert "Traceback" not in err and last.startswith("error") and all(f in err for f in fragments), err
    return last


def _build(tmp_path, *extra: str, calibration: str | Path = DIGITS_CALIBRATION) -> int:
    return main(["build", "--model", str(DIGITS_MODEL), "--calibration", str(calibration), "--target", "android",
                 "--out", str(tmp_path / "out"), *extra])


def test_a_negative_seed(tmp_path, capsys):
    assert _build(tmp_path, "--seed", "-1") == 2
    _one_line_error(capsys, "--seed -1")
    assert not (tmp_path / "out").exists()


def test_the_same_profile_under_two_names(tmp_path, capsys):
    assert _build(tmp_path, "--target", "pixel-8") == 2
    _one_line_error(capsys, "'android' and 'pixel-8' are the same profile")


@pytest.mark.parametrize("value", ["nan", "inf", "0"])
def test_a_bench_timeout_that_is_not_a_positive_number(tmp_path, capsys, value):
    artifact_dir = tmp_path / "pixel-8"
    artifact_dir.mkdir()
    (artifact_dir / "model.tflite").write_bytes(b"TFL3")
    assert main(["bench", str(artifact_dir), "--device", "host", "--timeout", value]) == 2
    _one_line_error(capsys, f"--timeout {float(value)}")


def test_compare_junit_to_an_unwritable_path(tmp_path, capsys):
    report = FIXTURES / "report_android.json"
    assert main(["compare", str(report), str(report), "--junit", "/proc/edge-sdk/compare.xml"]) == 2
    _one_line_error(capsys, "--junit /proc/edge-sdk/compare.xml")


def test_a_calibration_callable_that_returns_no_batches(tmp_path, capsys):
    assert _build(tmp_path, calibration="os:getcwd") == 2
    _one_line_error(capsys, "'os:getcwd' returned a str")


@pytest.mark.slow
@pytest.mark.parametrize("labels, said", [
    (lambda y: y + 100, "has 10 classes"),
    (lambda y: y * 0 - 1, "negative class index"),
    (lambda y: y + 0.5, "class indices (integers)"),
])
def test_eval_labels_the_model_cannot_mean(tmp_path, capsys, labels, said):
    data = dict(np.load(DIGITS_EVAL))
    data["y"] = labels(data["y"].astype(np.float32) if said.startswith("class") else data["y"])
    bad = tmp_path / "eval.npz"
    np.savez(bad, **data)
    assert _build(tmp_path, "--eval-data", str(bad)) == 2
    _one_line_error(capsys, str(bad), said)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flag, value, said", [
    ("--max-accuracy-drop", "nan", "max_accuracy_drop"),
    ("--max-accuracy-drop", "200", "max_accuracy_drop"),
    ("--latency-budget", "nan", "latency_ms"),
    ("--latency-budget", "inf", "latency_ms"),
])
def test_a_budget_flag_that_is_not_a_usable_number(tmp_path, capsys, flag, value, said):
    assert _build(tmp_path, flag, value, "--eval-data", str(DIGITS_EVAL)) == 2
    _one_line_error(capsys, said)
    assert not (tmp_path / "out").exists()


def test_a_plan_file_of_binary_garbage(tmp_path, capsys):
    garbage = tmp_path / "plan.json"
    garbage.write_bytes(bytes(range(256)) * 16)
    assert _build(tmp_path, "--plan", str(garbage)) == 2
    _one_line_error(capsys, str(garbage))


@pytest.mark.slow
def test_a_tflite_model_given_to_build(tmp_path, capsys):
    from edge_sdk import deps

    tflite = tmp_path / "model.tflite"
    model = deps.tf_keras().models.load_model(DIGITS_MODEL, compile=False)
    tflite.write_bytes(deps.tensorflow().lite.TFLiteConverter.from_keras_model(model).convert())
    assert main(["build", "--model", str(tflite), "--calibration", str(DIGITS_CALIBRATION), "--target", "android",
                 "--out", str(tmp_path / "out")]) == 2
    _one_line_error(capsys, "a .tflite is already converted")


def test_a_project_listing_a_target_twice(tmp_path, capsys, monkeypatch):
    (tmp_path / "edge-sdk.yaml").write_text(
        f"model: {DIGITS_MODEL}\ncalibration: {DIGITS_CALIBRATION}\ntargets:\n  - target: android\n  - target: android\n")
    monkeypatch.chdir(tmp_path)
    assert main(["build"]) == 2
    _one_line_error(capsys, "edge-sdk.yaml", "listed twice")


@pytest.mark.parametrize("targets", [1, 2])
def test_build_json_is_one_object_whatever_the_number_of_targets(tmp_path, capsys, monkeypatch, targets):
    """It printed a report for one target and a list for two: a pipeline parsing it had to guess."""
    import json
    from types import SimpleNamespace

    import edge_sdk.api

    def fake_build(**kwargs):
        return [SimpleNamespace(report={"target": t}, profile=SimpleNamespace(name=t), out_dir=tmp_path, feasible=True,
                                internal_errors=[]) for t in kwargs["targets"]]

    monkeypatch.setattr(edge_sdk.api, "build", fake_build)
    extra = ["--target", "ios"] if targets == 2 else []
    assert _build(tmp_path, "--json", *extra) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc) == ["targets"] and [r["target"] for r in doc["targets"]] == ["android", "ios"][:targets]
