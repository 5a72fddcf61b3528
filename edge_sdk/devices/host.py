"""`host`: benchmark on this machine with the real runtime (LiteRT, TFLite Micro, ExecuTorch).

Runs the same Python runner that the Jetson/Linux harness ships (targets/jetson/bench_runner.py) in a
child process, so peak RSS is the runner's own and a hang is bounded by the timeouts. `.onnx` artifacts
go to TensorRT (devices/tensorrt.py) where this machine has it, as on a board.
"""

from __future__ import annotations

import sys
from pathlib import Path

from edge_sdk.devices.address import Address
from edge_sdk.devices.base import BenchConfig, register_runner
from edge_sdk.devices.harness import PYTHON_RUNNER
from edge_sdk.devices.process import run_and_collect
from edge_sdk.devices.protocol import RunCollector
from edge_sdk.errors import DeviceError
from edge_sdk.contracts.records import Artifact, BenchResult

RUNNER_KIND = {"tflite": "tflite", "tflm": "tflm", "pte": "pte"}


def runner_kind(artifact: Artifact, where: str) -> str:
    kind = RUNNER_KIND.get(artifact.format)
    if kind is None:
        hint = "use --device ios[:UDID] on a Mac" if artifact.format.endswith("coreml") else "rebuild for another format"
        raise DeviceError(f"{artifact.path.name}: {where} cannot run {artifact.format} artifacts; {hint}")
    return kind


def runner_args(artifact: Artifact, config: BenchConfig, model: str) -> list[str]:
    """Arguments of bench_runner.py for this artifact and config (host and ssh share them; `model` is
    the path the runner sees: absolute on the host, a name beside the runner on a board)."""
    kind = runner_kind(artifact, "the Python runner")
    args = [model, "--kind", kind, "--runs", str(config.runs), "--warmup", str(config.warmup),
            "--threads", str(config.threads)]
    arena = config.arena_bytes or (artifact.arena.bytes if artifact.arena else None)
    if kind == "tflm" and arena:
        args += ["--arena-bytes", str(int(arena))]
    if config.run_delay_s:
        args += ["--run-delay-s", str(config.run_delay_s)]
    if config.inputs:
        args += ["--inputs", str(config.inputs) if Path(model).is_absolute() else config.inputs.name]
    if kind == "pte" and config.op_profile_runs:
        args += ["--op-profile-runs", str(config.op_profile_runs)]
    return args


@register_runner("host")
def run(artifact: Artifact, address: Address, config: BenchConfig) -> BenchResult:
    if artifact.format == "onnx":  # TensorRT: trtexec, else the TensorRT Python API (a machine with an NVIDIA GPU)
        from edge_sdk.devices.tensorrt import run_host

        return run_host(artifact, config)
    collector = RunCollector("host", "host", artifact.path.name, config)
    cmd = [sys.executable, str(PYTHON_RUNNER), *runner_args(artifact, config, str(artifact.path))]
    return run_and_collect(cmd, collector, config, "host runner")
