"""The runner contract and what every runner shares.

    @register_runner("ssh")
    def run(artifact: Artifact, address: Address, config: BenchConfig) -> BenchResult

A runner has bounded timeouts everywhere. When the device side goes away mid-run it raises
`BenchInterrupted` (a `DeviceError`) carrying the runs that finished as a `BenchResult` with
`complete=False`, so the caller can save them before reporting the error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from edge_sdk.errors import DeviceError
from edge_sdk.contracts.records import Artifact, BenchResult
from edge_sdk.registry import Registry

if TYPE_CHECKING:
    from edge_sdk.devices.address import Address

Runner = Callable[[Artifact, "Address", "BenchConfig"], BenchResult]
RUNNERS: Registry[Runner] = Registry("runner")
register_runner = RUNNERS.register
DELEGATES = ("xnnpack", "gpu", "nnapi", "cpu")


@dataclass(frozen=True)
class BenchConfig:
    runs: int = 50
    warmup: int = 5
    threads: int = 1
    delegate: str = "xnnpack"  # adb: xnnpack (LiteRT's default CPU path) | gpu | nnapi | cpu (builtin kernels)
    timeout_s: float = 300.0  # the whole benchmark, connection included
    idle_timeout_s: float = 60.0  # longest silence between two lines from the device
    connect_timeout_s: float = 10.0
    binary: Path | None = None  # adb: benchmark_model / executor_runner to push
    remote_python: str = "python3"  # ssh: the board's Python
    ssh_options: tuple[str, ...] = ()  # ssh: extra `-o Key=Value` options
    identity: Path | None = None  # ssh: private key
    arena_bytes: int | None = None  # TFLM: arena to allocate (default: the artifact's measured arena)
    run_delay_s: float = 0.0
    inputs: Path | None = None  # one sample: input_0, input_1, ... (.npz, devices/inputs.py) instead of random data
    inputs_source: Path | None = None  # the file that sample came from (--inputs, or the build's eval data)
    inputs_required: bool = False  # --inputs asked for it: a device side that cannot take it is an error
    op_profile_runs: int = 10  # runs after the timed ones with operator profiling (host/ssh .pte, adb .tflite)

    def __post_init__(self) -> None:
        if self.runs < 1:
            raise DeviceError(f"--runs {self.runs}: need at least 1 timed run")
        if self.warmup < 0:
            raise DeviceError(f"--warmup {self.warmup}: must be 0 or more")
        if self.op_profile_runs < 0:
            raise DeviceError(f"--op-profile-runs {self.op_profile_runs}: must be 0 (none) or more")
        if self.delegate not in DELEGATES:
            raise DeviceError(f"--delegate {self.delegate!r}: valid: {', '.join(DELEGATES)}")
        for flag, seconds in (("--timeout", self.timeout_s), ("--idle-timeout", self.idle_timeout_s)):
            if not math.isfinite(seconds) or seconds <= 0:
                raise DeviceError(f"{flag} {seconds}: must be a positive, finite number of seconds")


class BenchInterrupted(DeviceError):
    """The device disconnected or timed out mid-run; `partial` holds the runs that finished."""

    def __init__(self, message: str, partial: BenchResult) -> None:
        super().__init__(message)
        self.partial = partial


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), without numpy."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = (len(sorted_values) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summarize(samples_ms: list[float]) -> dict[str, float]:
    """p50/p90/p99/mean/min/max of per-run latencies in ms (empty when no run finished)."""
    if not samples_ms:
        return {}
    s = sorted(samples_ms)
    return {
        "p50": round(percentile(s, 50), 4),
        "p90": round(percentile(s, 90), 4),
        "p99": round(percentile(s, 99), 4),
        "mean": round(sum(s) / len(s), 4),
        "min": round(s[0], 4),
        "max": round(s[-1], 4),
    }


def interrupted(result: BenchResult, message: str) -> BenchInterrupted:
    """A BenchInterrupted whose partial result records the error."""
    return BenchInterrupted(message, replace(result, complete=False, error=message))
