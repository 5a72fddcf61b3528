"""Host runner on every format with the real runtimes (LiteRT, TFLite Micro, ExecuTorch), and the
`edge-sdk bench` command end to end: bench.json, the estimate ratio and the report.json `bench` key."""

from __future__ import annotations

import json

import pytest

from edge_sdk.devices import BenchConfig, parse_address
from edge_sdk.devices.artifact import resolve_target
from edge_sdk.devices.host import run as host_run
from edge_sdk.cli import main
from edge_sdk.errors import DeviceError

from .conftest import copy_out


def _check_stats(result, runs):
    lat = result.latency_ms
    assert result.complete and result.runs == runs
    assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert result.peak_memory_bytes and result.peak_memory_bytes > 1 << 20


def test_bench_command_tflite_with_report(tflite_artifact, tmp_path, capsys):
    out = copy_out(tflite_artifact, tmp_path / "pixel-8")
    report = {"profile": {"name": "pixel-8", "family": "android"},
              "artifacts": [{"format": "tflite", "path": "model.tflite", "precision": "int8", "details": {}}],
              "estimates": {"best_unit": "cpu", "latency_ms": {"cpu": 0.05, "gpu": 0.4}}}
    (out / "report.json").write_text(json.dumps(report))
    assert main(["bench", str(out), "--device", "host", "--runs", "30", "--warmup", "3", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    lat = doc["bench"]["latency_ms"]
    assert set(lat) >= {"p50", "p90", "p99", "mean", "min", "max"}
    assert doc["bench"]["runs"] == 30 and doc["bench"]["complete"] is True
    assert doc["bench"]["raw"]["start"]["threads"] == 1  # pixel-8 benches single-threaded
    cmp = doc["latency_vs_estimate"]
    assert cmp["unit"] == "cpu" and cmp["estimated_ms"] == 0.05
    assert cmp["ratio"] == pytest.approx(lat["p50"] / 0.05, rel=1e-3)
    assert json.loads((out / "bench.json").read_text()) == doc
    updated = json.loads((out / "report.json").read_text())
    assert updated["bench"]["latency_ms"] == lat and updated["profile"]["name"] == "pixel-8"
    assert updated["bench"]["on_device"] is False  # the host is not the pixel-8: report summaries skip it
    assert 'id="bench-chart"' in (out / "report.html").read_text()  # the page is re-rendered with the bench
    from edge_sdk.report.summary import latency_ms

    assert latency_ms(updated) == (0.05, "estimate")


def _bench_json(out, capsys, *args) -> dict:
    assert main(["bench", str(out), "--device", "host", "--json", *args]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert json.loads((out / "bench.json").read_text()) == doc
    return doc


def test_host_tflm_reports_the_arena_tflm_allocates(tflm_artifact, tmp_path, capsys):
    out = copy_out(tflm_artifact, tmp_path / "stm32f746-disco")
    assert resolve_target(out).artifact.format == "tflm"
    result = host_run(tflm_artifact, parse_address("host"), BenchConfig(runs=10, warmup=1))
    _check_stats(result, 10)
    assert result.raw["start"]["runtime"] == "tflm"
    # allocated with the harness arena (measured + margin); the recording allocator reports what it used
    assert result.arena_bytes == tflm_artifact.arena.basis_bytes
    doc = _bench_json(out, capsys, "--runs", "10")  # the CLI path: format inferred from model_data.cc
    assert doc["artifact"]["format"] == "tflm" and doc["bench"]["raw"]["start"]["runtime"] == "tflm"
    assert doc["bench"]["arena_bytes"] > 0 and doc["bench"]["latency_ms"]["p99"] > 0


@pytest.mark.slow
def test_host_pte_runs_on_executorch(pte_artifact, tmp_path, capsys):
    out = copy_out(pte_artifact, tmp_path / "pixel-8")
    doc = _bench_json(out, capsys, "--runs", "10", "--warmup", "2", "--timeout", "240")
    bench = doc["bench"]
    assert doc["artifact"]["format"] == "pte" and bench["raw"]["start"]["runtime"] == "executorch"
    assert bench["complete"] and bench["runs"] == 10
    assert 0 < bench["latency_ms"]["p50"] <= bench["latency_ms"]["p90"] <= bench["latency_ms"]["p99"]
    assert bench["peak_memory_bytes"] > 1 << 20
    # per-operator times from ExecuTorch's event tracer: XNNPACK's own ops, each of a known kind
    from edge_sdk.planner.cost_model import traced_kinds

    kinds = {traced_kinds(op["name"]) for op in bench["op_profile"]}
    assert {("conv", "pointwise"), ("dense",)} <= kinds, bench["op_profile"]
    assert all(op["runs"] == 10 and op["ms"] >= 0 and op["stat"] == "p50" for op in bench["op_profile"])
    assert sum(op["ms"] for op in bench["op_profile"]) > 0
    _traced_bench_calibrates_a_row_per_op_kind(out, doc, tmp_path, capsys)


def _traced_bench_calibrates_a_row_per_op_kind(out, doc, tmp_path, capsys):
    """`edge-sdk calibrate` on a traced bench.json: one fit row per kind the model runs, not one per model
    (the bench ran on this machine, so it is relabelled as a board's before calibrating; run inside the
    test above to reuse its bench)."""
    import os

    from .conftest import ROOT

    doc["bench"]["runner"] = "ssh"  # as on a board
    (out / "bench.json").write_text(json.dumps(doc))
    assert doc["artifact"]["precision"] == "unknown"  # no report.json: calibrate must refuse, not crash
    assert main(["calibrate", str(out / "bench.json"), "--profile", "pixel-8", "--out", str(tmp_path / "x.yaml")]) == 2
    assert "precision is 'unknown'" in capsys.readouterr().err
    doc["artifact"]["precision"] = "float32"  # as in a build output
    (out / "bench.json").write_text(json.dumps(doc))
    # what calibrate reads of the build's report.json: the model the .pte was built from, the rung's steps
    report = {"model": {"path": os.path.relpath(ROOT / "examples" / "torch_digits" / "model.pt2", out)},
              "plan": {"name": "fp32", "steps": [{"technique": "export", "params": {"format": "pte"}}]}}
    (out / "report.json").write_text(json.dumps(report))
    overlay = tmp_path / "profiles" / "board.yaml"
    calibrate = ["calibrate", str(out / "bench.json"), "--profile", "pixel-8", "--out", str(overlay), "--json"]
    assert main(calibrate) == 0
    rows = json.loads(capsys.readouterr().out)["errors"]
    assert {name.split(":")[1] for name in rows} >= {"conv+pointwise", "dense"}, rows
    assert overlay.is_file()
    overlay.unlink()
    report["plan"] = {"name": "distill0.5-fp32", "steps": [{"technique": "distill", "params": {"width": 0.5}}]}
    (out / "report.json").write_text(json.dumps(report))
    assert main(calibrate) == 2  # a student's work per kind is not the source model's
    assert "changed the architecture (distill)" in capsys.readouterr().err and not overlay.exists()


def test_artifact_kind_is_inferred_from_files(tflite_artifact, tflm_artifact, tmp_path):
    assert resolve_target(tflite_artifact.path).artifact.format == "tflite"
    assert resolve_target(tflm_artifact.path).artifact.format == "tflm"
    (tmp_path / "emotion_cnn.pte").write_bytes(b"x")  # artifacts are named after their model
    assert resolve_target(tmp_path).artifact.format == "pte"
    with pytest.raises(DeviceError, match="holds no"):
        resolve_target(tmp_path / "..")
    with pytest.raises(DeviceError, match="does not exist"):
        resolve_target(tmp_path / "missing.tflite")


def test_host_refuses_core_ml_with_a_hint(tmp_path):
    pkg = tmp_path / "model.mlpackage"
    pkg.mkdir()
    (pkg / "Manifest.json").write_text("{}")
    target = resolve_target(tmp_path)
    with pytest.raises(DeviceError, match="ios"):
        host_run(target.artifact, parse_address("host"), BenchConfig())


def test_a_runtime_error_on_the_device_is_a_clear_device_error(tmp_path):
    (tmp_path / "model.tflite").write_bytes(b"not a flatbuffer")
    target = resolve_target(tmp_path)
    with pytest.raises(DeviceError, match="the device reported"):
        host_run(target.artifact, parse_address("host"), BenchConfig(runs=2))


def test_bench_feeds_real_inputs_from_a_file_or_the_builds_eval_data(tflite_artifact, tmp_path, capsys):
    """`--inputs FILE.npz` feeds its first sample (float data quantized with the input's scale for an
    int8-I/O model); without it, a build dir's report.json eval data is used; a sample of the wrong size
    is refused naming the input (on the device for the Python runner, before any device for the others)."""
    import numpy as np

    from .conftest import ROOT

    eval_npz = ROOT / "calibration_data" / "digits_eval.npz"
    out = copy_out(tflite_artifact, tmp_path / "pixel-8")
    doc = _bench_json(out, capsys, "--runs", "3", "--warmup", "0", "--inputs", str(eval_npz))
    assert doc["bench"]["raw"]["start"]["inputs"] == "digits_eval_sample0.npz"
    assert _bench_json(out, capsys, "--runs", "3", "--warmup", "0")["bench"]["raw"]["start"]["inputs"] == "random"

    report = {"profile": {"name": "pixel-8"}, "data": {"eval": {"source": str(eval_npz), "samples": 360}},
              "artifacts": [{"format": "tflite", "path": "model.tflite", "precision": "int8", "details": {}}]}
    (out / "report.json").write_text(json.dumps(report))
    assert _bench_json(out, capsys, "--runs", "3", "--warmup", "0")["bench"]["raw"]["start"]["inputs"] == "digits_eval_sample0.npz"

    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, x=np.zeros((2, 5), np.float32))
    assert main(["bench", str(out), "--device", "host", "--runs", "3", "--inputs", str(wrong)]) == 2
    assert "input_0 has 5 values; the model's input 0 takes 64 (1x8x8x1)" in capsys.readouterr().err
    assert main(["bench", str(out), "--device", "adb", "--inputs", str(wrong)]) == 2
    assert f"--inputs {wrong}: input_0 has 5 values; the model's input 0 takes 64 (1x8x8x1)" in capsys.readouterr().err


@pytest.mark.slow
def test_a_named_sample_reaches_each_input_of_a_two_input_tflm_model(tmp_path, capsys):
    """The converter orders a multi-input model's inputs by name (`a_meta` before `z_image`); an .npz
    whose arrays are named after the model's inputs in the model's order reaches each input by name
    (the zoo's two-input model on cortex-m: 'input_0 has 3072 values; the model's input 0 takes 8')."""
    import numpy as np

    from edge_sdk import deps
    from edge_sdk.data import load_dataset
    from edge_sdk.formats import FORMATS, ExportConfig
    from edge_sdk.model import load_model
    from edge_sdk.profiles import get_profile

    keras = deps.tf_keras()
    image, meta = keras.Input((6, 6, 3), name="z_image"), keras.Input((4,), name="a_meta")
    x = keras.layers.Concatenate()([keras.layers.Flatten()(image), meta])
    loaded = load_model(keras.Model([image, meta], keras.layers.Dense(2, activation="softmax")(x)))
    rng = np.random.default_rng(0)
    arrays = {"z_image": rng.normal(size=(8, 6, 6, 3)).astype(np.float32), "a_meta": rng.normal(size=(8, 4)).astype(np.float32)}
    data = load_dataset(arrays, loaded.inputs)
    artifact = FORMATS.get("tflm")(loaded, get_profile("cortex-m"), ExportConfig(precision="int8", io_dtype="int8", calibration=data),
                                   tmp_path / "export")
    out = copy_out(artifact, tmp_path / "stm32f746-disco")
    sample = tmp_path / "eval.npz"
    np.savez(sample, **arrays)  # the model's order: z_image, a_meta
    doc = _bench_json(out, capsys, "--runs", "2", "--warmup", "0", "--inputs", str(sample))
    assert doc["bench"]["raw"]["start"]["inputs"] == "eval_sample0.npz" and doc["bench"]["runs"] == 2
