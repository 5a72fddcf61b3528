"""`adb[:SERIAL]`: benchmark on an Android device with TFLite's `benchmark_model` (.tflite) or
ExecuTorch's `executor_runner` (.pte), pushed over adb and run with the profile's threads/delegate.
A sample (`--inputs`, devices/inputs.py) is pushed as raw tensor files and passed with the tool's own
flags (benchmark_model: --input_layer/--input_layer_shape/--input_layer_value_files; executor_runner:
--inputs); without one the tools feed random data (benchmark_model) or all ones (executor_runner).

The commands and the output parsers are those of the emitted harness script
(targets/android/run_benchmark.py, loaded from that one file); this module adds the device check,
bounded timeouts and partial results.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from types import ModuleType

from edge_sdk.devices.address import Address
from edge_sdk.devices.base import BenchConfig, interrupted, register_runner
from edge_sdk.devices.discover import parse_adb_devices
from edge_sdk.devices.harness import ANDROID_SCRIPT, script_module
from edge_sdk.devices.inputs import fed, raw_input_files, sample_arrays
from edge_sdk.devices.process import LineProcess, StreamTimeout
from edge_sdk.errors import DeviceError
from edge_sdk.contracts.records import Artifact, BenchResult

ADB = "adb"
STEP_TIMEOUT_S = 120.0


@lru_cache(maxsize=1)
def android_script() -> ModuleType:
    return script_module(ANDROID_SCRIPT, "edge_sdk_android_harness")


def _call(argv: list[str], what: str, timeout_s: float, address: Address) -> str:
    try:
        return android_script()._call(argv, what, timeout_s)
    except android_script().AndroidError as exc:
        raise DeviceError(f"{address}: {exc}") from None


def _check_device(address: Address, config: BenchConfig) -> str:
    """The serial to use: the one given, or the only attached device."""
    listing = _call([ADB, "devices", "-l"], "listing devices", config.connect_timeout_s + 10, address)
    devices = {d.address.split(":", 1)[1]: d.state for d in parse_adb_devices(listing)}
    if address.serial is None:
        ready = [s for s, state in devices.items() if state == "ready"]
        if len(ready) != 1:
            found = ", ".join(f"{s} ({st})" for s, st in devices.items()) or "none"
            raise DeviceError(f"adb: expected exactly one ready device, found {found}; pass --device adb:SERIAL")
        return ready[0]
    state = devices.get(address.serial)
    if state != "ready":
        hint = {"unauthorized": "accept the USB debugging prompt on the phone", "offline": "reconnect the cable"}
        raise DeviceError(f"{address}: device {'not attached' if state is None else state}; "
                          f"{hint.get(state or '', 'check `adb devices`')}")
    return address.serial


def _result(parsed: dict, serial: str, artifact: Artifact, config: BenchConfig, complete: bool, error: str = "") -> BenchResult:
    return BenchResult(
        device=f"adb:{serial}", runner="adb", artifact=artifact.path.name, runs=parsed.get("runs", 0),
        warmup=config.warmup, latency_ms=parsed.get("latency_ms", {}),
        peak_memory_bytes=parsed.get("peak_memory_bytes"), arena_bytes=parsed.get("arena_bytes"),
        complete=complete, error=error,
        raw={**{k: v for k, v in parsed.items() if k not in ("latency_ms",)},
             "inputs": fed(config, "random" if parsed.get("tool") == "benchmark_model" else "ones")},
    )


@register_runner("adb")
def run(artifact: Artifact, address: Address, config: BenchConfig) -> BenchResult:
    script = android_script()
    values = [value for _, value in sample_arrays(artifact, config)] if config.inputs else []  # no device needed
    try:
        kind = script.kind_of(artifact.path.name)
        binary = script.find_binary(kind, str(config.binary) if config.binary else None)
    except script.AndroidError as exc:
        raise DeviceError(f"{address}: {exc}") from None
    serial = _check_device(address, config)
    base = script.adb_base(ADB, serial)
    with raw_input_files(values) as files:
        inputs = [(str(path), list(value.shape)) for path, value in zip(files, values)]
        for what, step in script.setup_steps(base, str(artifact.path), binary, inputs):
            _call(step, what, max(STEP_TIMEOUT_S, config.connect_timeout_s), address)
    argv = script.benchmark_argv(base, kind, str(artifact.path), binary, config.runs, config.warmup,
                                 config.threads, config.delegate, inputs)
    proc = LineProcess(argv)
    lines: list[str] = []
    try:  # benchmark_model is silent during a phase: only the overall timeout applies
        lines.extend(proc.lines(config.timeout_s, config.timeout_s))
    except StreamTimeout as exc:
        proc.kill()
        parsed = script.parse(kind, "\n".join(lines))
        raise interrupted(_result(parsed, serial, artifact, config, False), f"adb:{serial}: the benchmark {exc}") from None
    rc = proc.finish()
    parsed = script.parse(kind, "\n".join(lines + list(proc.stderr_tail)))
    if rc != 0 or not parsed["complete"]:
        err = proc.stderr_text() or (lines[-1] if lines else "")
        if config.inputs and "unknown command line flag 'inputs'" in err:
            raise DeviceError(f"adb:{serial}: this executor_runner has no --inputs (ExecuTorch before 1.0); "
                              "build executor_runner from ExecuTorch 1.0 or newer, or drop --inputs")
        raise interrupted(_result(parsed, serial, artifact, config, False),
                          f"adb:{serial}: the benchmark ended early (exit status {rc}): {err[-300:]}")
    result = _result(parsed, serial, artifact, config, True)
    if kind == "tflite" and config.op_profile_runs:
        result = _with_op_profile(result, base, kind, artifact, binary, config, inputs, address)
    return result


def _with_op_profile(result: BenchResult, base: list[str], kind: str, artifact: Artifact, binary: str,
                     config: BenchConfig, inputs: list, address: Address) -> BenchResult:
    """A second benchmark_model run with op profiling (the timed runs above carry none); its failure
    leaves the measurement standing and says why in raw.op_profile_error."""
    script = android_script()
    argv = script.benchmark_argv(base, kind, str(artifact.path), binary, config.op_profile_runs, 1, config.threads,
                                 config.delegate, inputs, op_profile=True)
    try:
        ops = script.parse_op_profile(_call(argv, "profiling the operators", config.timeout_s, address))
    except DeviceError as exc:
        return replace(result, raw={**result.raw, "op_profile_error": str(exc)})
    return replace(result, op_profile=ops or None)
