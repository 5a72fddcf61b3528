"""adb runner against a STAND-IN `adb` executable (a script placed first on PATH): we have no phone.

The stand-in answers `devices -l`, `push` and `shell` the way the real adb client does and replays
output in the documented formats of the real tools, recorded from their sources and docs:
TFLite benchmark_model (tensorflow/lite/tools/benchmark/benchmark_model.cc: `Stat::OutputToStream`
"count=.. first=.. curr=.. min=.. max=.. avg=.. std=.. p5=.. median=.. p95=..", "Inference timings in
us: ..", memory footprint lines) and ExecuTorch executor_runner (executor_runner.cpp ET_LOG lines:
"Setting up [CPU ]planned buffer 0, size N.", "Model executed successfully N time(s) in X ms."). It records
every invocation so the tests can check the flags the runner passed, and, like the real tools, reads the
input files those flags name from the stand-in device (benchmark_model's --input_layer_value_files:
benchmark_tflite_model.cc LoadInputTensorData; executor_runner's --inputs: load_input_files), recording
the bytes it read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from edge_sdk.cli import main
from edge_sdk.devices import BenchConfig, BenchInterrupted, bench, parse_address
from edge_sdk.devices.adb import run as adb_run
from edge_sdk.devices.harness import ANDROID_SCRIPT
from edge_sdk.errors import DeviceError

from .conftest import ROOT, copy_out, put_standin_first_on_path

STANDIN_ADB = textwrap.dedent('''\
    #!{python}
    """STAND-IN for the adb client (tests only): replays documented adb/benchmark_model/executor_runner output."""
    import json, os, re, shutil, sys
    args = sys.argv[1:]
    with open(os.environ["STANDIN_ADB_LOG"], "a") as log:
        log.write(json.dumps(args) + "\\n")
    serial = None
    if args[:1] == ["-s"]:
        serial, args = args[1], args[2:]
    devices = dict(d.split("=") for d in os.environ.get("STANDIN_ADB_DEVICES", "emulator-5554=device").split(","))
    root = os.environ["STANDIN_ADB_ROOT"]
    if args[0] == "devices":
        print("List of devices attached")
        for s, state in devices.items():
            print(f"{{s}}\\t{{state}} product:sdk_gphone64_arm64 model:sdk_gphone64_arm64 device:emu64a transport_id:1")
        sys.exit(0)
    if serial is None and len(devices) == 1:  # like adb: no -s with a single device means that one
        serial = next(iter(devices))
    if serial not in devices or devices[serial] != "device":
        print(f"error: device '{{serial}}' not found", file=sys.stderr)
        sys.exit(1)
    if args[0] == "push":
        dst = root + args[2]
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy(args[1], dst)
        print(f"{{args[1]}}: 1 file pushed, 0 skipped. 31.2 MB/s ({{os.path.getsize(args[1])}} bytes in 0.002s)")
        sys.exit(0)
    cmd = args[1:]
    if cmd[0] in ("mkdir", "chmod"):
        sys.exit(0)
    flags = dict(a[2:].split("=", 1) for a in cmd[1:] if a.startswith("--"))
    mode = os.environ.get("STANDIN_ADB_MODE", "ok")

    def read_on_device(name, remote):  # what the tool loads: the file on the device, not the host's copy
        if not os.path.isfile(root + remote):
            return None
        with open(root + remote, "rb") as f, open(os.environ["STANDIN_ADB_READ"], "a") as rec:
            rec.write(json.dumps({{"name": name, "path": remote, "hex": f.read().hex()}}) + "\\n")
        return True
    if cmd[0].endswith("benchmark_model"):
        runs, warmup = int(flags["num_runs"]), int(flags["warmup_runs"])
        print("INFO: STARTING!")
        print(f"INFO: Num threads: [{{flags['num_threads']}}]")
        print(f"INFO: Graph: [{{flags['graph']}}]")
        if "input_layer" in flags:  # LogParams prints the flags given on the command line
            print(f"INFO: Input layers: [{{flags['input_layer']}}]")
            print(f"INFO: Input shapes: [{{flags['input_layer_shape']}}]")
            print(f"INFO: Input value files: [{{flags['input_layer_value_files']}}]")
            names = flags["input_layer"].split(",")
            if len(flags["input_layer_shape"].split(":")) != len(names):
                print("ERROR: The number of items in --input_layer_shape must match --input_layer", file=sys.stderr)
                sys.exit(1)
            for item in flags.get("input_layer_value_files", "").split(","):
                name, path = item.split(":", 1)
                if name not in names or not read_on_device(name, path):
                    print(f"ERROR: Failed to read the input_layer_value_file:{{path}}", file=sys.stderr)
                    sys.exit(1)
        print(f"INFO: Loaded model {{flags['graph']}}")
        print("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.")
        print("INFO: The input model file size (MB): 0.050048")
        print("INFO: Initialized session in 12.345ms.")
        print(f"INFO: Running benchmark for at least {{warmup}} iterations and at least 0 seconds but terminate if exceeding 150 seconds.")
        print(f"INFO: count={{warmup}} first=812 curr=301 min=298 max=812 avg=402.4 std=204 p5=298 median=301 p95=812")
        print("")
        sys.stdout.flush()
        if mode == "drop":
            print("error: closed", file=sys.stderr)
            sys.exit(255)
        print(f"INFO: Running benchmark for at least {{runs}} iterations and at least 0 seconds but terminate if exceeding 150 seconds.")
        print(f"INFO: count={{runs}} first=305 curr=299 min=290 max=420 avg=301.2 std=18 p5=291 median=298 p95=330")
        print("")
        print("INFO: Inference timings in us: Init: 12345, First inference: 812, Warmup (avg): 402.4, Inference (avg): 301.2")
        print("INFO: Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.")
        print("INFO: Memory footprint delta from the start of the tool (MB): init=2.85156 overall=3.10547")
        print("INFO: Overall peak memory footprint (MB) via periodic monitoring: 9.77734")
        if flags.get("enable_op_profiling") == "true":  # StatsCalculator's table (tensorflow/core/util/stats_calculator.cc)
            print("INFO: Operator-wise Profiling Info for Regular Benchmark Runs:")
            print("============================== Run Order ==============================")
            print("\t             [node type]\t          [start]\t  [first]\t [avg ms]\t     [%]\t  [cdf%]\t  [mem KB]\t[times called]\t[Name]")
            for node, ms, name in (("CONV_2D", 0.120, "conv1"), ("MAX_POOL_2D", 0.010, "pool"),
                                   ("FULLY_CONNECTED", 0.050, "fc"), ("SOFTMAX", 0.005, "probs")):
                print(f"\t{{node:>24}}\t{{0.0:17.3f}}\t{{ms:9.3f}}\t{{ms:9.3f}}\t{{10.0:7.3f}}%\t{{50.0:7.3f}}%\t{{0.0:10.3f}}\t{{1:9d}}\t[{{name}}]:0")
            print("")
        sys.exit(0)
    if cmd[0].endswith("executor_runner"):
        n = int(flags["num_executions"])
        if "inputs" in flags and mode == "et_0_7":  # gflags of an executor_runner without --inputs
            print("ERROR: unknown command line flag 'inputs'", file=sys.stderr)
            sys.exit(1)
        if "inputs" in flags:
            print("I 00:00:00.000300 executorch:executor_runner.cpp:244] Loading inputs from input file(s).")
            for i, path in enumerate(flags["inputs"].split(",")):
                if not read_on_device(f"input_{{i}}", path):
                    print(f"E 00:00:00.000310 executorch:executor_runner.cpp:132] Failed to open input file: {{path}}")
                    sys.exit(1)
        print(f"I 00:00:00.000412 executorch:executor_runner.cpp:188] Resetting threadpool with num threads = {{flags['cpu_threads']}}")
        print(f"I 00:00:00.001520 executorch:executor_runner.cpp:265] Model file {{flags['model_path']}} is loaded.")
        print("I 00:00:00.001533 executorch:executor_runner.cpp:274] Using method forward")
        print("I 00:00:00.001601 executorch:executor_runner.cpp:321] Setting up planned buffer 0, size 368.")
        print("I 00:00:00.001620 executorch:executor_runner.cpp:321] Setting up CPU planned buffer 1, size 1024.")
        print("I 00:00:00.004000 executorch:executor_runner.cpp:385] Inputs prepared.")
        print(f"I 00:00:00.084000 executorch:executor_runner.cpp:414] Model executed successfully {{n}} time(s) in {{0.25 * n:f}} ms.")
        print("I 00:00:00.084100 executorch:executor_runner.cpp:418] 1 outputs: ")
        print("Output 0: tensor(sizes=[1, 10], [0.1, 0.2, ...])")
        sys.exit(0)
    print(f"/system/bin/sh: {{cmd[0]}}: not found", file=sys.stderr)
    sys.exit(127)
    ''')


@pytest.fixture
def standin_adb(tmp_path, monkeypatch):
    put_standin_first_on_path(tmp_path, monkeypatch, "adb", STANDIN_ADB.format(python=sys.executable))
    log, root, read = tmp_path / "adb.log", tmp_path / "device", tmp_path / "read.jsonl"
    monkeypatch.setenv("STANDIN_ADB_LOG", str(log))
    monkeypatch.setenv("STANDIN_ADB_READ", str(read))
    monkeypatch.setenv("STANDIN_ADB_ROOT", str(root))
    binary = tmp_path / "benchmark_model"  # never executed: the stand-in device only "runs" it
    binary.write_bytes(b"\x7fELF stand-in")
    runner = tmp_path / "executor_runner"
    runner.write_bytes(b"\x7fELF stand-in")

    def calls() -> list[list[str]]:
        return [json.loads(l) for l in log.read_text().splitlines()] if log.exists() else []

    def device_read() -> list[dict]:
        return [json.loads(l) for l in read.read_text().splitlines()] if read.exists() else []

    return {"calls": calls, "root": root, "benchmark_model": binary, "executor_runner": runner, "read": device_read}


def test_adb_tflite_parses_benchmark_model_and_passes_profile_flags(standin_adb, tflite_artifact):
    config = BenchConfig(runs=40, warmup=4, threads=4, delegate="gpu", binary=standin_adb["benchmark_model"])
    result = adb_run(tflite_artifact, parse_address("adb"), config)
    assert result.complete and result.runs == 40 and result.device == "adb:emulator-5554"
    assert result.latency_ms["p50"] == pytest.approx(0.298) and result.latency_ms["mean"] == pytest.approx(0.3012)
    assert result.latency_ms["min"] == pytest.approx(0.290) and result.latency_ms["max"] == pytest.approx(0.420)
    assert result.peak_memory_bytes == int(9.77734 * 1024 * 1024)
    shell = _tool_call(standin_adb, "benchmark_model")
    assert {"--num_threads=4", "--num_runs=40", "--warmup_runs=4", "--use_gpu=true"} <= set(shell)
    pushed = standin_adb["root"] / "data/local/tmp/edge-sdk/model.tflite"
    assert pushed.read_bytes() == tflite_artifact.path.read_bytes()


def test_adb_tflite_profiles_operators_in_a_second_run(standin_adb, tflite_artifact):
    """benchmark_model's op profiling runs apart from the timed runs, and its Run Order table becomes the
    op_profile calibrate reads (node types mapped to op kinds)."""
    from edge_sdk.planner.cost_model import traced_kinds

    result = adb_run(tflite_artifact, parse_address("adb"),
                     BenchConfig(runs=40, warmup=4, binary=standin_adb["benchmark_model"], op_profile_runs=5))
    tool_calls = [c for c in standin_adb["calls"]() if "shell" in c and any("benchmark_model" in a for a in c)]
    timed, profiled = tool_calls[-2:]
    assert "--enable_op_profiling=true" not in timed and "--num_runs=40" in timed
    assert "--enable_op_profiling=true" in profiled and "--num_runs=5" in profiled
    assert result.latency_ms["p50"] == 0.298  # the timed run's figures, not the profiled one's
    assert [(op["name"], op["ms"], op["stat"]) for op in result.op_profile] == [
        ("CONV_2D", 0.12, "avg"), ("MAX_POOL_2D", 0.01, "avg"), ("FULLY_CONNECTED", 0.05, "avg"), ("SOFTMAX", 0.005, "avg")]
    assert [traced_kinds(op["name"]) for op in result.op_profile] == [
        ("conv", "pointwise"), ("pooling",), ("dense",), ("activation",)]
    unprofiled = adb_run(tflite_artifact, parse_address("adb"),
                         BenchConfig(runs=4, binary=standin_adb["benchmark_model"], op_profile_runs=0))
    assert unprofiled.op_profile is None


def test_adb_pte_parses_executor_runner(standin_adb, tmp_path):
    from edge_sdk.devices.artifact import resolve_target

    (tmp_path / "pte").mkdir()
    (tmp_path / "pte" / "model.pte").write_bytes(b"PTE stand-in")
    artifact = resolve_target(tmp_path / "pte").artifact
    config = BenchConfig(runs=20, threads=2, binary=standin_adb["executor_runner"])
    result = adb_run(artifact, parse_address("adb:emulator-5554"), config)
    assert result.complete and result.runs == 20
    assert result.latency_ms == {"mean": pytest.approx(0.25)}  # executor_runner reports only the total
    assert result.arena_bytes == 368 + 1024
    shell = [c for c in standin_adb["calls"]() if any("executor_runner" in a for a in c) and "shell" in c][-1]
    assert {"--num_executions=20", "--cpu_threads=2"} <= set(shell)


def test_adb_disconnect_mid_run_keeps_partial_results(standin_adb, tflite_artifact, tmp_path, monkeypatch):
    monkeypatch.setenv("STANDIN_ADB_MODE", "drop")
    out = copy_out(tflite_artifact, tmp_path / "pixel-8")
    with pytest.raises(BenchInterrupted, match="ended early") as info:
        bench(out, "adb", BenchConfig(binary=standin_adb["benchmark_model"], timeout_s=60))
    partial = info.value.partial
    assert not partial.complete and partial.raw["warmup"]["runs"] == 5
    saved = json.loads((out / "bench.json").read_text())["bench"]
    assert saved["complete"] is False and "ended early" in saved["error"]


def test_adb_unauthorized_device_is_a_clear_error(standin_adb, tflite_artifact, monkeypatch):
    monkeypatch.setenv("STANDIN_ADB_DEVICES", "R58N12345=unauthorized")
    with pytest.raises(DeviceError, match="unauthorized; accept the USB debugging prompt"):
        adb_run(tflite_artifact, parse_address("adb:R58N12345"), BenchConfig(binary=standin_adb["benchmark_model"]))
    with pytest.raises(DeviceError, match="exactly one ready device"):
        adb_run(tflite_artifact, parse_address("adb"), BenchConfig(binary=standin_adb["benchmark_model"]))


def test_adb_without_a_binary_says_how_to_provide_one(standin_adb, tflite_artifact, monkeypatch):
    monkeypatch.delenv("BENCHMARK_MODEL", raising=False)
    with pytest.raises(DeviceError, match="BENCHMARK_MODEL"):
        adb_run(tflite_artifact, parse_address("adb"), BenchConfig())


def test_emitted_android_script_runs_on_its_own(standin_adb, tflite_artifact, tmp_path):
    from edge_sdk.devices.harness import emit
    from edge_sdk.profiles import get_profile

    out = copy_out(tflite_artifact, tmp_path / "pixel-8")
    harness = emit(get_profile("pixel-8"), tflite_artifact, out)
    assert (harness / "run_benchmark.py").read_bytes() == ANDROID_SCRIPT.read_bytes()
    done = subprocess.run([sys.executable, str(harness / "run_benchmark.py"), "--runs", "7"],
                          env={**os.environ, "BENCHMARK_MODEL": str(standin_adb["benchmark_model"])},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["runs"] == 7 and result["complete"] and result["latency_ms"]["p50"] == pytest.approx(0.298)
    shell = [c for c in standin_adb["calls"]() if "shell" in c and any("benchmark_model" in a for a in c)][-1]
    assert {"--num_threads=1", "--use_xnnpack=true"} <= set(shell)


EVAL_NPZ = ROOT / "calibration_data" / "digits_eval.npz"


def _tool_call(standin_adb, tool: str) -> list[str]:
    """The last timed run of `tool` (not the op-profiling run after it)."""
    return [c for c in standin_adb["calls"]() if "shell" in c and any(tool in a for a in c)
            and "--enable_op_profiling=true" not in c][-1]


def test_adb_tflite_feeds_the_sample_through_benchmark_models_input_flags(standin_adb, tflite_artifact, tmp_path):
    """--inputs: the first sample, quantized with the model input's scale and zero point (int8 I/O), is
    pushed as a raw file and named with benchmark_model's own flags; the tool reads those exact bytes on
    the device. Without --inputs the build's eval data is the default; without both, the tool's random data.
    (No op-profiling run here: it would read the inputs a second time.)"""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    out = copy_out(tflite_artifact, tmp_path / "pixel-8")
    config = BenchConfig(runs=5, warmup=1, binary=standin_adb["benchmark_model"], op_profile_runs=0, inputs=EVAL_NPZ)
    result, doc = bench(out, "adb", config)
    shell = _tool_call(standin_adb, "benchmark_model")
    assert {"--input_layer=input_0", "--input_layer_shape=1,8,8,1",
            "--input_layer_value_files=input_0:/data/local/tmp/edge-sdk/input_0.bin"} <= set(shell)
    detail = Interpreter(model_path=str(tflite_artifact.path)).get_input_details()[0]  # LiteRT's own view
    scale, zero_point = detail["quantization"]
    x = np.load(EVAL_NPZ)["x"][:1]
    expected = np.clip(np.round(x / scale) + zero_point, -128, 127).astype(np.int8)
    assert detail["dtype"] == np.int8 and expected.size == 64
    (read,) = standin_adb["read"]()
    assert read == {"name": "input_0", "path": "/data/local/tmp/edge-sdk/input_0.bin", "hex": expected.tobytes().hex()}
    assert result.complete and result.raw["inputs"] == doc["bench"]["raw"]["inputs"] == "digits_eval_sample0.npz"

    report = {"profile": {"name": "pixel-8"}, "data": {"eval": {"source": str(EVAL_NPZ)}},
              "artifacts": [{"format": "tflite", "path": "model.tflite", "precision": "int8", "details": {}}]}
    (out / "report.json").write_text(json.dumps(report))
    result, _ = bench(out, "adb", BenchConfig(runs=5, binary=standin_adb["benchmark_model"], op_profile_runs=0))
    assert result.raw["inputs"] == "digits_eval_sample0.npz" and len(standin_adb["read"]()) == 2
    (out / "report.json").unlink()
    result, _ = bench(out, "adb", BenchConfig(runs=5, binary=standin_adb["benchmark_model"], op_profile_runs=0))
    assert result.raw["inputs"] == "random" and not any(a.startswith("--input") for a in _tool_call(standin_adb, "benchmark_model"))


def test_adb_bad_inputs_are_one_line_naming_the_file_before_anything_is_pushed(standin_adb, tflite_artifact, tmp_path, capsys):
    import numpy as np

    out = copy_out(tflite_artifact, tmp_path / "pixel-8")
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, x=np.zeros((2, 5), np.float32))
    code = main(["bench", str(out), "--device", "adb", "--binary", str(standin_adb["benchmark_model"]), "--inputs", str(wrong)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert err.startswith(f"error: --inputs {wrong}: input_0 has 5 values; the model's input 0 takes 64 (1x8x8x1); pass ")
    assert standin_adb["calls"]() == []  # refused on the host: nothing reached the phone


def test_emitted_android_script_takes_raw_inputs(standin_adb, tflite_artifact, tmp_path):
    raw = tmp_path / "input_0.bin"
    raw.write_bytes(bytes(range(64)))
    done = subprocess.run([sys.executable, str(ANDROID_SCRIPT), "--model", str(tflite_artifact.path), "--runs", "3",
                           "--binary", str(standin_adb["benchmark_model"]), "--input", f"{raw}:1,8,8,1"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["inputs"] == ["input_0.bin"]
    assert "--input_layer_shape=1,8,8,1" in _tool_call(standin_adb, "benchmark_model")
    assert standin_adb["read"]()[0]["hex"] == bytes(range(64)).hex()


@pytest.mark.slow
def test_adb_pte_feeds_the_sample_through_executor_runners_inputs_flag(standin_adb, pte_artifact, tmp_path, monkeypatch):
    """A .pte gets executor_runner's --inputs (ExecuTorch 1.0+): one raw file per input, the float32
    sample as it is; an executor_runner too old for the flag is one line saying which to build."""
    import numpy as np

    (spec,) = pte_artifact.details["inputs"]
    x = np.random.default_rng(0).random((3, *spec["shape"][1:]), dtype=np.float32)
    npz = tmp_path / "eval.npz"
    np.savez(npz, **{spec["name"]: x})
    out = copy_out(pte_artifact, tmp_path / "pixel-8")
    result, _ = bench(out, "adb", BenchConfig(runs=4, binary=standin_adb["executor_runner"], inputs=npz))
    assert "--inputs=/data/local/tmp/edge-sdk/input_0.bin" in _tool_call(standin_adb, "executor_runner")
    (read,) = standin_adb["read"]()
    assert read["hex"] == x[:1].astype("<f4").tobytes().hex() and result.raw["inputs"] == "eval_sample0.npz"
    monkeypatch.setenv("STANDIN_ADB_MODE", "et_0_7")
    with pytest.raises(DeviceError, match=r"this executor_runner has no --inputs \(ExecuTorch before 1.0\); build"):
        bench(out, "adb", BenchConfig(runs=4, binary=standin_adb["executor_runner"], inputs=npz))
    monkeypatch.setenv("STANDIN_ADB_MODE", "ok")
    result, _ = bench(out, "adb", BenchConfig(runs=4, binary=standin_adb["executor_runner"]))
    assert result.raw["inputs"] == "ones" and not any(a.startswith("--inputs") for a in _tool_call(standin_adb, "executor_runner"))
