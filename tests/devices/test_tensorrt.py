"""TensorRT runner for `.onnx` artifacts. There is no GPU here: trtexec is a STAND-IN (standin_trtexec.py,
copied as `trtexec` into a dir first on PATH) that checks its options like the real tool and prints the
real tool's report format; over ssh it runs in the sessions of a REAL OpenSSH server on 127.0.0.1 (the
Sshd of test_ssh.py), so the probe, the copy, the remote command and the clean-up are the real ones.
The TensorRT Python fallback (targets/jetson/trt_runner.py) is tested up to the import of tensorrt."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_sdk.cli import main
from edge_sdk.devices import BenchConfig, bench, tensorrt
from edge_sdk.devices.harness import TRT_RUNNER
from edge_sdk.errors import DeviceError

from .test_ssh import SSHD, Sshd

STANDIN = Path(__file__).with_name("standin_trtexec.py")
NO_OPENSSH = SSHD is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None


def over_ssh(test):
    """A test against the real sshd: marked needs_tool, skipped with the reason where OpenSSH is absent."""
    skip = pytest.mark.skipif(NO_OPENSSH, reason="needs OpenSSH sshd, ssh and ssh-keygen (scripts/ci_system_deps.sh installs them)")
    return pytest.mark.needs_tool(skip(test))


def write_model(path: Path, custom_op: bool = False) -> Path:
    """x[batch, 64] -> MatMul -> Add -> Relu (or an op outside the ONNX domain: no TensorRT importer)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.standard_normal((64, 10)).astype(np.float32), "w"),
               numpy_helper.from_array(np.zeros(10, np.float32), "b")]
    last = helper.make_node("EdgeSdkTestOp", ["z"], ["y"], name="custom", domain="com.example.edge_sdk") if custom_op \
        else helper.make_node("Relu", ["z"], ["y"], name="relu")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="matmul"), helper.make_node("Add", ["h", "b"], ["z"], name="add"), last]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 10])], weights)
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid("com.example.edge_sdk", 1)] if custom_op else [])
    path.write_bytes(helper.make_model(graph, opset_imports=opsets, producer_name="edge-sdk-tests").SerializeToString())
    return path


def onnx_out(dest: Path, precision: str = "float32", flags: list[str] | None = None, custom_op: bool = False) -> Path:
    """OUT/<profile> as `edge-sdk build` leaves it for an onnx artifact: model.onnx + report.json."""
    dest.mkdir(parents=True)
    write_model(dest / "model.onnx", custom_op)
    details = {"opset": 17} if flags is None else {"opset": 17, "engine_flags": flags}
    report = {"profile": {"name": "test-jetson"},
              "artifacts": [{"format": "onnx", "path": "model.onnx", "precision": precision, "details": details}],
              "estimates": {"best_unit": "gpu", "latency_ms": {"gpu": 0.05}}}
    (dest / "report.json").write_text(json.dumps(report))
    return dest


@pytest.fixture
def standin(tmp_path):
    """bin/trtexec (the stand-in) with its standin.json, calls.jsonl, reads.jsonl and stats.json."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tool = bindir / "trtexec"
    tool.write_text(f"#!{sys.executable}\n" + STANDIN.read_text().split("\n", 1)[1])
    tool.chmod(0o755)

    class Standin:
        dir, path = bindir, tool

        def configure(self, **conf):
            (bindir / "standin.json").write_text(json.dumps(conf))

        def jsonl(self, name):
            f = bindir / name
            return [json.loads(l) for l in f.read_text().splitlines()] if f.exists() else []

        def stats(self):
            return json.loads((bindir / "stats.json").read_text())

    return Standin()


@pytest.fixture
def board(tmp_path, standin):
    """A real sshd whose sessions find the stand-in trtexec first on PATH."""
    server = Sshd(tmp_path, path_prefix=standin.dir)
    yield server
    if server.proc.poll() is None:
        server.kill()


def _ssh_cli(board) -> list[str]:
    config = board.config()
    return ["--device", board.address, "--identity", str(config.identity), "--remote-python", sys.executable,
            *[a for o in config.ssh_options for a in ("-o", o)]]


@over_ssh
def test_trtexec_over_ssh_builds_the_engine_on_the_board_and_times_it(board, standin, tmp_path):
    out = onnx_out(tmp_path / "out" / "test-jetson")
    result, doc = bench(out, board.address, board.config(runs=30, warmup=2))
    (call,) = standin.jsonl("calls.jsonl")
    assert call["argv"][:3] == ["--onnx=model.onnx", "--saveEngine=model.engine", "--timingCacheFile=timing.cache"]
    assert {"--iterations=30", "--duration=0", "--warmUp=200", "--avgRuns=1", "--percentile=90,95,99"} <= set(call["argv"])
    assert Path(call["cwd"]).parent == tmp_path / "remote_tmp"  # built in the run's temp dir on the board ...
    assert not list((tmp_path / "remote_tmp").iterdir())  # ... which is gone: no engine is kept or shipped
    stats = standin.stats()
    latency, gpu = stats["summary"]["Latency"], stats["summary"]["GPU Compute Time"]
    assert result.complete and result.runner == "ssh" and result.runs == 30 == stats["runs"]
    assert result.warmup == stats["warmups"] > 0
    assert result.latency_ms == {"p50": latency["median"], "p90": latency["percentile(90%)"], "p95": latency["percentile(95%)"],
                                 "p99": latency["percentile(99%)"], "mean": latency["mean"], "min": latency["min"],
                                 "max": latency["max"]}
    raw = result.raw
    assert raw["gpu_compute_ms"]["p50"] == gpu["median"] and raw["gpu_compute_ms"]["p99"] == gpu["percentile(99%)"]
    assert raw["samples_ms"] == stats["host_ms"] and len(raw["gpu_samples_ms"]) == 30
    assert (raw["tool"], raw["trtexec"], raw["tensorrt_version"], raw["gpu"]) == ("trtexec", str(standin.path), "10.3.0", "Orin")
    assert raw["engine_build_s"] == stats["build_s"] and raw["throughput_qps"] == stats["throughput"]
    assert raw["engine_flags"] == [] and raw["precision"] == "FP32" and raw["inputs"] == "random"
    saved = json.loads((out / "bench.json").read_text())
    assert saved == doc and saved["bench"]["raw"]["command"][0] == "trtexec"
    assert doc["latency_vs_estimate"]["measured_ms"] == latency["median"]
    report = json.loads((out / "report.json").read_text())
    assert report["bench"]["on_device"] is True and report["bench"]["latency_ms"]["p90"] == latency["percentile(90%)"]


@over_ssh
@pytest.mark.parametrize("precision,recorded,expected,shown", [
    ("float32", [], [], "FP32"),
    ("float16", ["--fp16"], ["--fp16"], "FP32+FP16"),
    ("int8", ["--int8"], ["--int8"], "FP32+INT8"),
    ("float16", None, ["--fp16"], "FP32+FP16"),  # a report from before engine_flags: the precision's flag
])
def test_engine_flags_follow_the_artifacts_precision(board, standin, tmp_path, precision, recorded, expected, shown):
    out = onnx_out(tmp_path / "out" / "test-jetson", precision, recorded)
    result, _ = bench(out, board.address, board.config(runs=5))
    (call,) = standin.jsonl("calls.jsonl")
    flags = [a for a in call["argv"] if a in ("--fp16", "--int8", "--best")]
    assert flags == expected == result.raw["engine_flags"] and result.raw["precision"] == shown
    assert result.complete and result.runs == 5


@over_ssh
def test_unsupported_op_is_one_line_with_trtexecs_own_error_exit_2(board, standin, tmp_path, capsys):
    out = onnx_out(tmp_path / "out" / "test-jetson", custom_op=True)
    code = main(["bench", str(out), *_ssh_cli(board)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert err.startswith(f"error: {board.address}: trtexec failed building the engine (exit status 1): ")
    assert 'While parsing node number 2 [EdgeSdkTestOp -> "y"]' in err
    assert '[6] creator && "Plugin not found, are the plugin name, version, and namespace correct?"' in err
    assert "Engine set up failed" not in err and "op_type" not in err  # the generic lines and the node dump are left out
    assert not (out / "bench.json").exists() and not list((tmp_path / "remote_tmp").iterdir())


@over_ssh
def test_tensorrt_11_refuses_the_precision_flag_in_its_own_words(board, standin, tmp_path):
    standin.configure(version="11.1.0")
    out = onnx_out(tmp_path / "out" / "test-jetson", "float16", ["--fp16"])
    with pytest.raises(DeviceError) as info:
        bench(out, board.address, board.config(runs=5))
    message = str(info.value)
    assert "trtexec failed building the engine (exit status 1): Unknown option: --fp16" in message
    assert "TensorRT 11 builds strongly typed networks only" in message and "\n" not in message


@over_ssh
def test_trtexec_where_jetpack_installs_it(tmp_path, standin, monkeypatch):
    server = Sshd(tmp_path)  # no stand-in on PATH: only at the (patched) JetPack location
    try:
        monkeypatch.setattr(tensorrt, "JETPACK_TRTEXEC", str(standin.path))
        result, _ = bench(onnx_out(tmp_path / "out" / "b"), server.address, server.config(runs=4))
        assert result.raw["trtexec"] == str(standin.path) and result.runs == 4
    finally:
        server.kill()


@over_ssh
def test_without_trtexec_the_python_fallback_says_tensorrt_is_missing(tmp_path, capsys):
    server = Sshd(tmp_path)  # nothing named trtexec on the sessions' PATH nor at JetPack's location
    try:
        out = onnx_out(tmp_path / "out" / "test-jetson", "int8", ["--int8"])
        code = main(["bench", str(out), *_ssh_cli(server)])
    finally:
        server.kill()
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert f"error: {server.address}: the device reported: tensorrt is not importable (No module named 'tensorrt'); " in err
    assert "python3-libnvinfer" in err and "nothing was saved" in err
    assert not (out / "bench.json").exists() and not list((tmp_path / "remote_tmp").iterdir())


def test_trt_runner_parses_its_args_then_stops_at_the_tensorrt_import(tmp_path):
    model = write_model(tmp_path / "model.onnx")
    done = subprocess.run([sys.executable, str(TRT_RUNNER), str(model), "--runs", "3", "--int8", "--inputs", "s.npz"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 1
    (line,) = done.stdout.splitlines()
    event = json.loads(line)
    assert event["event"] == "error" and event["message"].startswith("tensorrt is not importable (No module named 'tensorrt'); ")
    bad = subprocess.run([sys.executable, str(TRT_RUNNER), str(model), "--fp32"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unrecognized arguments: --fp32" in bad.stderr and bad.stdout == ""
    runs = subprocess.run([sys.executable, str(TRT_RUNNER), str(model), "--runs", "0"], capture_output=True, text=True, timeout=60)
    assert runs.returncode == 2 and "--runs must be >= 1" in runs.stderr


def test_host_with_trtexec_feeds_the_sample_through_load_inputs(standin, tmp_path, monkeypatch):
    """--device host runs the local trtexec; the sample (float32, dynamic batch -> 1, as trtexec sets it)
    reaches it as a raw file named for the model's input; a sample that does not fit never reaches it."""
    monkeypatch.setenv("PATH", f"{standin.dir}:{Path(sys.executable).parent}:/usr/bin:/bin")
    out = onnx_out(tmp_path / "out" / "test-jetson", "float16", ["--fp16"])
    x = np.random.default_rng(1).random((3, 64), dtype=np.float32)
    np.savez(tmp_path / "eval.npz", x=x)
    result, _ = bench(out, "host", BenchConfig(runs=7, inputs=tmp_path / "eval.npz"))
    (read,) = standin.jsonl("reads.jsonl")
    assert read["name"] == "x" and read["hex"] == x[:1].astype("<f4").tobytes().hex()
    assert result.runner == "host" and result.runs == 7 and result.raw["inputs"] == "eval_sample0.npz"
    assert any(a.startswith("--loadInputs=x:") and a.endswith("input_0.bin") for a in standin.jsonl("calls.jsonl")[0]["argv"])
    np.savez(tmp_path / "wrong.npz", x=np.zeros((2, 5), np.float32))
    with pytest.raises(DeviceError, match=r"wrong.npz: input_0 has 5 values; the model's input 0 takes 64 \(1x64\)"):
        bench(out, "host", BenchConfig(runs=7, inputs=tmp_path / "wrong.npz"))
    assert len(standin.jsonl("calls.jsonl")) == 1


@pytest.mark.skipif(tensorrt.local_trtexec() is not None, reason="this machine has trtexec: it would really run")
def test_host_without_trtexec_falls_back_and_exits_2(tmp_path, capsys):
    out = onnx_out(tmp_path / "out" / "test-jetson")
    assert main(["bench", str(out), "--device", "host"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: host: the device reported: tensorrt is not importable") and "\n" not in err


REPORT_10 = """\
&&&& RUNNING TensorRT.trtexec [TensorRT v100300] # /usr/src/tensorrt/bin/trtexec --onnx=model.onnx --fp16
[01/02/2025-10:00:00] [I] Precision: FP32+FP16
[01/02/2025-10:00:00] [I] Selected Device: Orin
[01/02/2025-10:00:00] [I] TensorRT version: 10.3.0
[01/02/2025-10:00:09] [I] [TRT] Engine generation completed in 8.91 seconds.
[01/02/2025-10:00:09] [I] Engine built in 9.0273 sec.
[01/02/2025-10:00:09] [I] Created engine with size: 1.25 MiB
[01/02/2025-10:00:12] [I] Warmup completed 41 queries over 200 ms
[01/02/2025-10:00:12] [I] Timing trace has 5 queries over 0.0244 s
[01/02/2025-10:00:12] [I] Trace averages of 10 runs:
[01/02/2025-10:00:12] [I] === Performance summary ===
[01/02/2025-10:00:12] [I] Throughput: 204.918 qps
[01/02/2025-10:00:12] [I] Latency: min = 4.5 ms, max = 5.25 ms, mean = 4.88 ms, median = 4.875 ms, percentile(90%) = 5.25 ms, percentile(99.9%) = 5.25 ms
[01/02/2025-10:00:12] [I] GPU Compute Time: min = 3.25 ms, max = 4 ms, mean = 3.6 ms, median = 3.5 ms, percentile(90%) = 4 ms, percentile(99.9%) = 4 ms
&&&& PASSED TensorRT.trtexec [TensorRT v100300] # /usr/src/tensorrt/bin/trtexec --onnx=model.onnx --fp16
"""


def test_parse_reads_the_summary_build_time_and_version():
    parsed = tensorrt.parse(REPORT_10)
    assert parsed["latency_ms"] == {"min": 4.5, "max": 5.25, "mean": 4.88, "p50": 4.875, "p90": 5.25, "p99.9": 5.25}
    assert parsed["gpu_compute_ms"]["p50"] == 3.5 and parsed["gpu_compute_ms"]["max"] == 4.0
    assert (parsed["runs"], parsed["warmup_runs"], parsed["status"]) == (5, 41, "PASSED")
    assert (parsed["engine_build_s"], parsed["engine_mib"], parsed["throughput_qps"]) == (9.0273, 1.25, 204.918)
    assert "samples_ms" not in parsed  # averages of 10 runs, not per-run latencies
    # TensorRT 8.5 prints no "Engine built in": the builder's own line; the version also from the frame
    old = "\n".join(l for l in REPORT_10.splitlines() if "Engine built in" not in l and "TensorRT version" not in l)
    parsed = tensorrt.parse(old.replace("v100300", "v8502"))
    assert parsed["engine_build_s"] == 8.91 and parsed["tensorrt_version"] == "8.5.2"


def test_a_build_dir_benches_the_artifact_its_report_names(tmp_path):
    from edge_sdk.devices.artifact import resolve_target

    out = onnx_out(tmp_path / "out" / "test-jetson", "int8", ["--int8"])
    (out / "model.tflite").write_bytes(b"stale: from an earlier build of this dir")
    target = resolve_target(out)
    assert (target.artifact.path.name, target.artifact.format, tensorrt.engine_flags(target.artifact)) == ("model.onnx", "onnx", ["--int8"])
    (out / "report.json").unlink()
    (out / "model.tflite").unlink()
    assert resolve_target(out).artifact.format == "onnx" and tensorrt.engine_flags(resolve_target(out).artifact) == []


def test_error_line_leaves_out_the_node_dump_of_tensorrt_8_6():
    """TensorRT 8.6's trtexec prints the node's lines as [E] messages between Begin/End node."""
    text = """\
[07/18/2024-14:17:05] [E] [TRT] ModelImporter.cpp:726: While parsing node number 7 [GridSample -> "out"]:
[07/18/2024-14:17:05] [E] [TRT] ModelImporter.cpp:727: --- Begin node ---
[07/18/2024-14:17:05] [E] [TRT] ModelImporter.cpp:728: input: "a"
    op_type: "GridSample"
[07/18/2024-14:17:05] [E] [TRT] ModelImporter.cpp:729: --- End node ---
[07/18/2024-14:17:05] [E] [TRT] ModelImporter.cpp:732: ERROR: builtin_op_importers.cpp:5428 In function importFallbackPluginImporter:
[8] Assertion failed: creator && "Plugin not found"
[07/18/2024-14:17:05] [E] Failed to parse onnx file
[07/18/2024-14:17:05] [E] Engine set up failed
&&&& FAILED TensorRT.trtexec [TensorRT v8601] # trtexec --onnx=model.onnx"""
    assert tensorrt.error_line(text) == ('While parsing node number 7 [GridSample -> "out"]: | ERROR: builtin_op_importers.cpp:5428 '
                                         'In function importFallbackPluginImporter: [8] Assertion failed: creator && "Plugin not found"')
