"""TensorRT on a Jetson's GPU for `.onnx` artifacts (`--device ssh:...`, and `--device host` on a machine
with TensorRT): the engine is built on the device itself, from the ONNX file, and timed there.

With trtexec on the device (on PATH, or JetPack's /usr/src/tensorrt/bin/trtexec) one invocation in a
fresh temp dir builds the engine with the artifact's engine flags and times it:

    trtexec --onnx=model.onnx --saveEngine=model.engine --timingCacheFile=timing.cache [--fp16 | --int8]
            --iterations=N --duration=0 --warmUp=200 --avgRuns=1 --percentile=90,95,99
            [--loadInputs=NAME:input_0.bin,...]

and its report is parsed: "Latency: min = .. ms, max = .. ms, mean = .. ms, median = .. ms,
percentile(90%) = .. ms, ...", the same for "GPU Compute Time", "Enqueue Time", "H2D/D2H Latency",
"Throughput: .. qps", "Engine built in .. sec." (TensorRT 10; 8.x: the builder's "Engine generation
completed in .. seconds."), "TensorRT version: ..". trtexec prints it all at the end, so it is only
bounded by --timeout (a large model can build for minutes without a line).

Without trtexec, targets/jetson/trt_runner.py builds and times the engine with TensorRT's Python API and
speaks the harness protocol (JSON lines). Engines are specific to the GPU and the TensorRT version that
built them: nothing built here is kept, cached or shipped (the temp dir is removed).
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from edge_sdk.contracts.records import Artifact, BenchResult
from edge_sdk.devices.address import Address
from edge_sdk.devices.base import BenchConfig, interrupted
from edge_sdk.devices.harness import PYTHON_RUNNER, TRT_RUNNER
from edge_sdk.devices.inputs import fed, raw_input_files, sample_arrays
from edge_sdk.devices.process import LineProcess, StreamTimeout, run_and_collect
from edge_sdk.devices.protocol import RunCollector
from edge_sdk.errors import DeviceError

JETPACK_TRTEXEC = "/usr/src/tensorrt/bin/trtexec"  # where JetPack installs it (not on PATH)
ENGINE, TIMING_CACHE = "model.engine", "timing.cache"  # in the run's temp dir, removed with it
WARMUP_MS = 200  # trtexec warms up for a time, not a count (its own default); the count is recorded
PERCENTILES = (90, 95, 99)
PRECISION_FLAGS = {"float16": ["--fp16"], "int8": ["--int8"]}  # for an artifact that records no engine_flags
_MERGED = 'exec "$0" "$@" 2>&1'  # trtexec's errors (stderr) in order with its report (stdout)

_STAMP = re.compile(r"^\[\d\d/\d\d/\d{4}-\d\d:\d\d:\d\d\] ")
_NUM = r"([-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|inf))"
_METRICS = {"Latency": "latency_ms", "GPU Compute Time": "gpu_compute_ms", "Enqueue Time": "enqueue_ms",
            "H2D Latency": "h2d_ms", "D2H Latency": "d2h_ms"}
_METRIC = re.compile(r"^\[I\] (" + "|".join(_METRICS) + r"): (min = .*)$")
_STAT = re.compile(r"(min|max|mean|median|percentile\(([\d.]+)%\)) = " + _NUM + " ms")
_AVERAGE = re.compile(r"^\[I\] Average on (\d+) runs - GPU latency: " + _NUM + " ms - Host latency: " + _NUM + " ms")
_FIELDS = {  # parsed key: (pattern on a line without its time stamp, converter)
    "tensorrt_version": (re.compile(r"^\[I\] TensorRT version: ([\d.]+)"), str),
    "gpu": (re.compile(r"^\[I\] Selected Device: (.+)$"), str),
    "precision": (re.compile(r"^\[I\] Precision: (.+)$"), str),
    "engine_build_s": (re.compile(r"^\[I\] Engine built in " + _NUM + " sec"), float),
    "engine_generation_s": (re.compile(r"^\[I\] \[TRT\] Engine generation completed in " + _NUM + " seconds"), float),
    "engine_mib": (re.compile(r"^\[I\] Created engine with size: " + _NUM + " MiB"), float),
    "throughput_qps": (re.compile(r"^\[I\] Throughput: " + _NUM + " qps"), float),
    "host_walltime_s": (re.compile(r"^\[I\] Total Host Walltime: " + _NUM + " s"), float),
}
_WARMUP = re.compile(r"^\[I\] Warmup completed (\d+) queries over " + _NUM + " ms")
_TRACE = re.compile(r"^\[I\] Timing trace has (\d+) queries over " + _NUM + " s")
_STATUS = re.compile(r"^&&&& (PASSED|FAILED) TensorRT\.trtexec(?: \[TensorRT v(\d+)\])?")
_GENERIC = ("Failed to parse onnx file", "Parsing model failed", "Failed to create engine from model or file.",
            "Engine creation failed", "Engine set up failed", "Error occurred during inference",
            "--- Begin node ---", "--- End node ---")


def engine_flags(artifact: Artifact) -> list[str]:
    """The trtexec builder flags the artifact records (`details.engine_flags`), else its precision's."""
    flags = artifact.details.get("engine_flags")
    return [str(f) for f in flags] if isinstance(flags, list) else PRECISION_FLAGS.get(artifact.precision, [])


def trtexec_args(model: str, flags: list[str], config: BenchConfig, inputs: list[tuple[str, str]]) -> list[str]:
    """Build + time in one trtexec call: exactly `runs` timed queries (--duration=0), every one printed."""
    args = [f"--onnx={model}", f"--saveEngine={ENGINE}", f"--timingCacheFile={TIMING_CACHE}", *flags,
            f"--iterations={config.runs}", "--duration=0", f"--warmUp={WARMUP_MS if config.warmup else 0}",
            "--avgRuns=1", f"--percentile={','.join(map(str, PERCENTILES))}"]
    if inputs:
        args.append("--loadInputs=" + ",".join(f"{name}:{file}" for name, file in inputs))
    return args


def fallback_args(model: str, flags: list[str], config: BenchConfig, sample: str | None) -> list[str]:
    """Arguments of targets/jetson/trt_runner.py (it takes the engine flags under trtexec's names)."""
    return [model, "--runs", str(config.runs), "--warmup", str(config.warmup), *flags, "--save-engine", ENGINE,
            "--timing-cache", TIMING_CACHE, *(["--inputs", sample] if sample else [])]


def _stats(text: str) -> dict[str, float]:
    out = {}
    for name, pct, value in _STAT.findall(text):
        key = "p50" if name == "median" else f"p{float(pct):g}" if pct else name
        out[key] = float(value)
    return out


def _lines(text: str) -> list[str]:
    return [_STAMP.sub("", line.rstrip()) for line in text.splitlines()]


def parse(text: str) -> dict:
    """What a trtexec run printed: versions, build time, the run counts, each metric's statistics (ms;
    p50 = median), the per-run latencies when every run was printed, and PASSED / FAILED."""
    parsed: dict = {}
    host, gpu, averaged = [], [], 1
    for line in _lines(text):
        for key, (pattern, convert) in _FIELDS.items():
            if key not in parsed and (found := pattern.match(line)):
                parsed[key] = convert(found.group(1))
        if found := _METRIC.match(line):
            parsed[_METRICS[found.group(1)]] = _stats(found.group(2))
        elif found := _AVERAGE.match(line):
            averaged = int(found.group(1))
            gpu.append(float(found.group(2)))
            host.append(float(found.group(3)))
        elif found := _WARMUP.match(line):
            parsed.update(warmup_runs=int(found.group(1)), warmup_ms=float(found.group(2)))
        elif found := _TRACE.match(line):
            parsed.update(runs=int(found.group(1)), timed_s=float(found.group(2)))
        elif found := _STATUS.match(line):
            parsed["status"] = found.group(1)
            if "tensorrt_version" not in parsed and found.group(2):  # NV_TENSORRT_VERSION: 100300 or 8502
                v = int(found.group(2))
                parsed["tensorrt_version"] = f"{v // 10000}.{v // 100 % 100}.{v % 100}" if v >= 10000 else \
                    f"{v // 1000}.{v // 100 % 10}.{v % 100}"
    if "engine_build_s" not in parsed and "engine_generation_s" in parsed:
        parsed["engine_build_s"] = parsed["engine_generation_s"]
    parsed.pop("engine_generation_s", None)
    if averaged == 1 and host and len(host) == parsed.get("runs"):  # per-run lines, none omitted
        parsed.update(samples_ms=host, gpu_samples_ms=gpu)
    return parsed


def error_line(text: str) -> str:
    """trtexec's own reason on one line: its specific [E] messages (with the lines they continue on, like
    the parser's "[6] reason"), without the generic ones that follow them; else whatever it printed last."""
    messages: list[str] = []
    in_node = False  # the parser's dump of a node (TensorRT 8.6 prints its lines as [E] messages too)
    for raw in text.splitlines():
        line = _STAMP.sub("", raw.strip())
        if line.startswith("[E] "):
            message = re.sub(r"^\[E\] (?:\[TRT\] )?(?:[\w.]+\.cpp:\d+: )?", "", line).strip()
            in_node = message.startswith("--- Begin node ---") or in_node and not message.startswith("--- End node ---")
            messages.append("--- Begin node ---" if in_node else message)
        elif messages and raw.strip() and not _STAMP.match(raw) and not raw.startswith("&&&&"):
            messages[-1] += " " + raw.strip()
    specific = [m for m in messages if not m.startswith(_GENERIC)]
    chosen = specific or messages or [l for l in _lines(text) if l.strip()][-2:]
    return " | ".join(chosen)[:400]


def _hint(reason: str) -> str:
    if re.search(r"Unknown option: --(fp16|int8)\b", reason):
        return ("; this trtexec has no precision flags (TensorRT 11 builds strongly typed networks only: "
                "the precision comes from the model's own types)")
    return ""


def _result(parsed: dict, device: str, runner: str, artifact: Artifact, head: dict,
            complete: bool, error: str = "") -> BenchResult:
    extra = {k: v for k, v in parsed.items() if k not in ("latency_ms", "runs", "warmup_runs", "status")}
    return BenchResult(device=device, runner=runner, artifact=artifact.path.name, runs=parsed.get("runs", 0),
                       warmup=parsed.get("warmup_runs", 0), latency_ms=parsed.get("latency_ms", {}),
                       complete=complete, error=error, raw={**head, **extra})


def _drive(cmd: list[str], device: str, runner: str, artifact: Artifact, config: BenchConfig, head: dict,
           cwd: str | None = None) -> BenchResult:
    """Run trtexec (stdout and stderr merged), parse its report; a failure is one line with its reason."""
    proc, lines = LineProcess(cmd, cwd=cwd), []
    try:
        for line in proc.lines(config.timeout_s, config.timeout_s):
            lines.append(line)
    except StreamTimeout as exc:
        proc.kill()
        partial = _result(parse("\n".join(lines)), device, runner, artifact, head, False)
        raise interrupted(partial, f"{device}: trtexec {exc}") from None
    rc = proc.finish()
    parsed = parse("\n".join(lines))
    if parsed.get("status") == "PASSED" and rc == 0 and parsed.get("latency_ms"):
        return _result(parsed, device, runner, artifact, head, True)
    if parsed.get("status") == "FAILED" or (rc not in (None, 255) and not proc.stderr_text()):  # not the link
        reason = error_line("\n".join(lines))
        phase = "timing the engine" if "engine_build_s" in parsed or "engine_mib" in parsed else "building the engine"
        raise DeviceError(f"{device}: trtexec failed {phase} (exit status {rc}): {reason}{_hint(reason)}")
    err = proc.stderr_text() or (lines[-1][:200] if lines else "")
    partial = _result(parsed, device, runner, artifact, head, False)
    raise interrupted(partial, f"{device}: connection closed before trtexec finished (exit status {rc})"
                               + (f": {err}" if err else ""))


@contextmanager
def _sample_files(artifact: Artifact, config: BenchConfig) -> Iterator[list[tuple[str, Path]]]:
    """The sample as --loadInputs takes it: (model input name, raw file) per input, converted here, so a
    sample that does not fit the model fails before anything reaches the device."""
    if not config.inputs:
        yield []
        return
    pairs = sample_arrays(artifact, config)
    with raw_input_files([value for _, value in pairs]) as files:
        yield [(spec.name, path) for (spec, _), path in zip(pairs, files)]


def local_trtexec() -> str | None:
    return shutil.which("trtexec") or (JETPACK_TRTEXEC if Path(JETPACK_TRTEXEC).is_file() else None)


def _head(tool: str, args: list[str], flags: list[str], config: BenchConfig) -> dict:
    return {"tool": "trtexec", "trtexec": tool, "command": [Path(tool).name, *args], "engine_flags": flags,
            "inputs": fed(config)}


def run_host(artifact: Artifact, config: BenchConfig) -> BenchResult:
    flags, tool = engine_flags(artifact), local_trtexec()
    with _sample_files(artifact, config) as samples, tempfile.TemporaryDirectory(prefix="edge-sdk-trt-") as tmp:
        if tool:
            args = trtexec_args(str(artifact.path.resolve()), flags, config, [(n, str(p)) for n, p in samples])
            head = _head(tool, args, flags, config)
            return _drive(["sh", "-c", _MERGED, tool, *args], "host", "host", artifact, config, head, cwd=tmp)
        sample = str(config.inputs) if config.inputs else None
        cmd = [sys.executable, "-u", str(TRT_RUNNER), *fallback_args(str(artifact.path.resolve()), flags, config, sample)]
        return run_and_collect(cmd, RunCollector("host", "host", artifact.path.name, config), config, "host runner", cwd=Path(tmp))


def probe_command() -> str:
    jetpack = shlex.quote(JETPACK_TRTEXEC)
    return f"command -v trtexec || {{ test -x {jetpack} && echo {jetpack}; }} || true"


def run_ssh(artifact: Artifact, address: Address, config: BenchConfig) -> BenchResult:
    from edge_sdk.devices.ssh import remote_text, remote_workdir, ssh_command

    flags, where, quote = engine_flags(artifact), str(address), shlex.quote
    with _sample_files(artifact, config) as samples:
        found = remote_text(address, config, probe_command(), "looking for trtexec").strip().splitlines()
        tool = found[-1].strip() if found else ""
        if tool:
            args = trtexec_args(artifact.path.name, flags, config, [(n, p.name) for n, p in samples])
            with remote_workdir(address, config, [str(artifact.path), *(str(p) for _, p in samples)]) as remote_dir:
                remote = f"cd {quote(remote_dir)} && {quote(tool)} {' '.join(map(quote, args))} 2>&1"
                return _drive(ssh_command(address, config, remote), where, "ssh", artifact, config,
                              _head(tool, args, flags, config))
        files = [str(artifact.path), str(TRT_RUNNER), str(PYTHON_RUNNER), *([str(config.inputs)] if config.inputs else [])]
        args = fallback_args(artifact.path.name, flags, config, config.inputs.name if config.inputs else None)
        with remote_workdir(address, config, files) as remote_dir:
            remote = (f"cd {quote(remote_dir)} && {quote(config.remote_python)} -u {TRT_RUNNER.name} "
                      + " ".join(map(quote, args)))
            collector = RunCollector(where, "ssh", artifact.path.name, config)
            return run_and_collect(ssh_command(address, config, remote), collector, config, where)
