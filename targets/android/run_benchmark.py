#!/usr/bin/env python3
"""edge-sdk Android benchmark harness: push the model and a benchmark binary over adb, run it with the
profile's threads and delegate, print the results as one JSON object.

    python3 harness/run_benchmark.py [--serial SERIAL] [--binary PATH] [--runs 50] [--warmup 5]
                                     [--input input_0.bin:1,8,8,1 ...]

Binary: TFLite's `benchmark_model` for .tflite (--binary or env BENCHMARK_MODEL), ExecuTorch's
`executor_runner` for .pte (--binary or env EXECUTOR_RUNNER), built for the phone's ABI (arm64-v8a).
Defaults (model, threads, delegate) come from config.json beside this file. Needs Python 3.8+ and adb.
Inputs: random (benchmark_model) or all ones (executor_runner), or real ones with `--input FILE:SHAPE`
per model input in its order: raw tensor bytes (C order, the input's dtype, quantized for integer
inputs), pushed and passed as benchmark_model's `--input_layer=input_0,..`, `--input_layer_shape=1,8,8,1:..`
and `--input_layer_value_files=input_0:/data/local/tmp/edge-sdk/input_0.bin,..` (the names are ours: the
tool matches inputs by position) or executor_runner's `--inputs=FILE,FILE` (ExecuTorch 1.0+).
`edge-sdk bench OUT/<profile> --device adb[:SERIAL]` uses this same file, so both parse the same way.

Output parsing follows the tools' documented log formats:
  benchmark_model  "count=50 first=.. curr=.. min=.. max=.. avg=.. std=.. [p5=.. median=.. p95=..]" (us),
                   "Inference timings in us: Init: .., First inference: .., Warmup (avg): .., Inference (avg): ..",
                   "... memory footprint ... (MB): init=.. overall=.." / "Overall peak memory footprint (MB) ...: .."
  executor_runner  "Model executed successfully N time(s) in X ms.", "Setting up planned buffer I, size N."
With --op-profile-runs N (.tflite), a second benchmark_model run with --enable_op_profiling=true gives
per-operator times: its "Operator-wise Profiling Info for Regular Benchmark Runs" Run Order table (the
layout of TensorFlow's StatsCalculator: tab-separated [node type] [start] [first] [avg ms] [%] [cdf%]
[mem KB] [times called] [Name]), kept apart from the timed runs so they carry no profiling overhead.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

REMOTE_DIR = "/data/local/tmp/edge-sdk"
ENV_BINARY = {"tflite": "BENCHMARK_MODEL", "pte": "EXECUTOR_RUNNER"}
DELEGATE_FLAGS = {"xnnpack": ["--use_xnnpack=true"], "gpu": ["--use_gpu=true"], "nnapi": ["--use_nnapi=true"],
                  "cpu": ["--use_xnnpack=false"]}
_COUNT = re.compile(r"count=(\d+) first=(\d+) curr=(\d+) min=(\d+) max=(\d+) avg=([\d.e+-]+) std=(\d+)"
                    r"(?: p5=(\d+) median=(\d+) p95=(\d+))?")
_TIMINGS = re.compile(r"Inference timings in us: Init: ([\d.e+-]+), First inference: ([\d.e+-]+), "
                      r"Warmup \(avg\): ([\d.e+-]+), Inference \(avg\): ([\d.e+-]+)")
_MEM_PEAK = re.compile(r"Overall peak memory footprint \(MB\)[^:]*: ([\d.]+)")
_MEM_FOOTPRINT = re.compile(r"(?:Peak memory footprint|Memory footprint delta from the start of the tool) \(MB\): "
                            r"init=([\d.]+) overall=([\d.]+)")
_ET_DONE = re.compile(r"Model executed successfully (\d+) time\(s\) in ([\d.]+) ms")
_ET_BUFFER = re.compile(r"Setting up (?:CPU )?planned buffer (\d+), size (\d+)")  # "CPU " since ExecuTorch 1.4
_OP_PROFILE_TITLE = "Operator-wise Profiling Info for Regular Benchmark Runs"
MB = 1024 * 1024


class AndroidError(Exception):
    """adb or the device failed; the message says which step."""


def kind_of(model: str) -> str:
    if model.endswith(".pte"):
        return "pte"
    if model.endswith(".tflite"):
        return "tflite"
    raise AndroidError(f"{model}: the Android harness benchmarks .tflite (benchmark_model) or .pte (executor_runner)")


def find_binary(kind: str, binary: str | None) -> str:
    path = binary or os.environ.get(ENV_BINARY[kind])
    if not path:
        tool = "benchmark_model" if kind == "tflite" else "executor_runner"
        raise AndroidError(f"no {tool} binary: pass --binary PATH or set {ENV_BINARY[kind]} (an arm64-v8a build)")
    if not Path(path).is_file():
        raise AndroidError(f"benchmark binary {path} does not exist")
    return path


def adb_base(adb: str, serial: str | None) -> list[str]:
    return [adb, "-s", serial] if serial else [adb]


def setup_steps(base: list[str], model: str, binary: str, inputs=()) -> list[tuple[str, list[str]]]:
    """(what, argv) for each adb call before the benchmark; `inputs`: (raw file, shape) per model input."""
    remote_binary = f"{REMOTE_DIR}/{Path(binary).name}"
    return [
        ("creating the work dir", base + ["shell", "mkdir", "-p", REMOTE_DIR]),
        ("pushing the model", base + ["push", model, f"{REMOTE_DIR}/{Path(model).name}"]),
        ("pushing the benchmark binary", base + ["push", binary, remote_binary]),
        ("making the binary executable", base + ["shell", "chmod", "755", remote_binary]),
    ] + [(f"pushing input {i}", base + ["push", path, remote_input(i)]) for i, (path, _) in enumerate(inputs)]


def remote_input(index: int) -> str:
    return f"{REMOTE_DIR}/input_{index}.bin"


def input_flags(kind: str, inputs) -> list[str]:
    """The tool's own flags feeding the pushed raw files (none: its random / all-ones inputs)."""
    if not inputs:
        return []
    if kind == "pte":
        return ["--inputs=" + ",".join(remote_input(i) for i in range(len(inputs)))]
    names = [f"input_{i}" for i in range(len(inputs))]
    return ["--input_layer=" + ",".join(names),
            "--input_layer_shape=" + ":".join(",".join(str(int(d)) for d in shape) for _, shape in inputs),
            "--input_layer_value_files=" + ",".join(f"{n}:{remote_input(i)}" for i, n in enumerate(names))]


def benchmark_argv(base: list[str], kind: str, model: str, binary: str, runs: int, warmup: int, threads: int,
                   delegate: str, inputs=(), op_profile: bool = False) -> list[str]:
    remote_model, remote_binary = f"{REMOTE_DIR}/{Path(model).name}", f"{REMOTE_DIR}/{Path(binary).name}"
    if kind == "tflite":
        flags = [f"--graph={remote_model}", f"--num_threads={threads}", f"--num_runs={runs}",
                 f"--warmup_runs={warmup}", "--min_secs=0", "--warmup_min_secs=0",
                 *DELEGATE_FLAGS.get(delegate, DELEGATE_FLAGS["xnnpack"]),
                 *(["--enable_op_profiling=true"] if op_profile else [])]
    else:  # executor_runner times `runs` executions in one process (no separate warm-up flag)
        flags = [f"--model_path={remote_model}", f"--num_executions={runs}", f"--cpu_threads={threads}"]
    return base + ["shell", remote_binary, *flags, *input_flags(kind, inputs)]


def parse_input(arg: str):
    """`--input FILE:1,8,8,1` (the shape may be left out for executor_runner) -> (file, shape)."""
    path, _, dims = arg.rpartition(":") if re.fullmatch(r".*:[\d,]+", arg) else (arg, "", "")
    if not Path(path).is_file():
        raise AndroidError(f"--input {arg}: {path} does not exist (a raw tensor file, then :SHAPE)")
    return path, [int(d) for d in dims.split(",") if d]


def parse_benchmark_model(text: str) -> dict:
    """benchmark_model's log -> runs, latency (ms), peak memory; the last `count=` line is the timed phase."""
    counts = [m for m in _COUNT.finditer(text)]
    timings = _TIMINGS.search(text)
    result: dict = {"tool": "benchmark_model", "complete": bool(timings) and len(counts) >= 2, "runs": 0, "latency_ms": {}}
    if counts and (len(counts) >= 2 or timings):
        m = counts[-1]
        us = lambda i: float(m.group(i)) / 1000.0  # noqa: E731
        result["runs"] = int(m.group(1))
        result["latency_ms"] = {"mean": us(6), "min": us(4), "max": us(5), "std": us(7), "first": us(2)}
        if m.group(9):
            result["latency_ms"].update({"p5": us(8), "p50": us(9), "p95": us(10)})
    if counts:
        w = counts[0]
        result["warmup"] = {"runs": int(w.group(1)), "avg_ms": float(w.group(6)) / 1000.0}
    if timings:
        result["init_ms"] = float(timings.group(1)) / 1000.0
    peak, footprint = _MEM_PEAK.search(text), _MEM_FOOTPRINT.search(text)
    if peak:
        result["peak_memory_bytes"] = int(float(peak.group(1)) * MB)
    elif footprint:
        result["peak_memory_bytes"] = int(float(footprint.group(2)) * MB)
    return result


def parse_op_profile(text: str) -> list:
    """The Run Order table after benchmark_model's operator-wise header -> [{name, node, ms, stat, runs}]:
    `name` is the node type (CONV_2D, or an XNNPACK op such as "Convolution (NHWC, F32) IGEMM"), `node`
    the tensor it names, `ms` its average per run."""
    start = text.find(_OP_PROFILE_TITLE)
    if start < 0:
        return []
    ops, in_table = [], False
    for line in text[start:].splitlines()[1:]:
        if "Run Order" in line:
            in_table = True
            continue
        if not in_table or "[node type]" in line:
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) < 10:  # the blank line (or next title) that ends the table
            break
        ops.append({"name": fields[1], "node": fields[9], "ms": float(fields[4]), "stat": "avg",
                    "runs": int(float(fields[8]))})
    return ops


def parse_executor_runner(text: str) -> dict:
    """executor_runner's log -> runs and mean latency (it reports only the total), planned memory."""
    done = _ET_DONE.search(text)
    buffers = [int(m.group(2)) for m in _ET_BUFFER.finditer(text)]
    result: dict = {"tool": "executor_runner", "complete": bool(done), "runs": 0, "latency_ms": {}}
    if done:
        runs, total = int(done.group(1)), float(done.group(2))
        result.update(runs=runs, latency_ms={"mean": total / max(runs, 1)})
    if buffers:
        result["arena_bytes"] = sum(buffers)
    return result


def parse(kind: str, text: str) -> dict:
    return parse_benchmark_model(text) if kind == "tflite" else parse_executor_runner(text)


def _call(argv: list[str], what: str, timeout_s: float) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise AndroidError(f"{argv[0]} not found; install Android platform-tools and put adb on PATH") from None
    except subprocess.TimeoutExpired:
        raise AndroidError(f"{what} timed out after {timeout_s:g} s") from None
    if done.returncode != 0:
        err = (done.stderr.strip() or done.stdout.strip() or f"exit status {done.returncode}").splitlines()[-1]
        raise AndroidError(f"{what} failed: {err}")
    return done.stdout + done.stderr


def main(argv=None) -> int:
    here = Path(__file__).resolve().parent
    config = json.loads((here / "config.json").read_text()) if (here / "config.json").is_file() else {}
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(here / config["model"]) if config.get("model") else None)
    p.add_argument("--serial", default=None, help="adb device serial (default: the only device)")
    p.add_argument("--binary", default=None, help="benchmark_model / executor_runner (else env BENCHMARK_MODEL / EXECUTOR_RUNNER)")
    p.add_argument("--runs", type=int, default=config.get("runs", 50))
    p.add_argument("--warmup", type=int, default=config.get("warmup", 5))
    p.add_argument("--threads", type=int, default=config.get("threads", 1))
    p.add_argument("--delegate", choices=sorted(DELEGATE_FLAGS), default=config.get("delegate", "xnnpack"))
    p.add_argument("--adb", default="adb")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds for the benchmark run")
    p.add_argument("--input", action="append", default=[], metavar="FILE:SHAPE",
                   help="raw tensor file for the next model input, e.g. input_0.bin:1,8,8,1 (default: the tool's own)")
    p.add_argument("--op-profile-runs", type=int, default=0,
                   help=".tflite: then this many runs with benchmark_model's op profiling, for per-operator times")
    args = p.parse_args(argv)
    try:
        if not args.model:
            raise AndroidError("no --model and no config.json beside this script")
        kind = kind_of(args.model)
        binary = find_binary(kind, args.binary)
        inputs = [parse_input(a) for a in args.input]
        if kind == "tflite" and any(not shape for _, shape in inputs):
            raise AndroidError("--input for benchmark_model needs the shape: FILE:1,8,8,1")
        base = adb_base(args.adb, args.serial)
        for what, step in setup_steps(base, args.model, binary, inputs):
            _call(step, what, 120.0)
        text = _call(benchmark_argv(base, kind, args.model, binary, args.runs, args.warmup, args.threads, args.delegate,
                                    inputs), "running the benchmark", args.timeout)
        result = parse(kind, text)
        result["inputs"] = [Path(path).name for path, _ in inputs] or ("random" if kind == "tflite" else "ones")
        if kind == "tflite" and args.op_profile_runs > 0:
            profiled = _call(benchmark_argv(base, kind, args.model, binary, args.op_profile_runs, 1, args.threads,
                                            args.delegate, inputs, op_profile=True), "profiling the operators", args.timeout)
            result["op_profile"] = parse_op_profile(profiled)
        print(json.dumps(result, indent=2))
    except AndroidError as exc:
        print(json.dumps({"error": str(exc)}))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
