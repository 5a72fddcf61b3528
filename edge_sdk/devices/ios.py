"""`ios[:UDID]`: benchmark a Core ML model on an iPhone/iPad (macOS with Xcode only).

Runs the emitted Swift package's XCTest on the device with `xcodebuild test` and reads the JSON lines it
prints; elsewhere it fails with a DeviceError saying how to run the harness on a Mac.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from edge_sdk.devices.address import Address
from edge_sdk.devices.base import BenchConfig, register_runner
from edge_sdk.devices.process import run_and_collect
from edge_sdk.devices.protocol import RunCollector
from edge_sdk.errors import DeviceError
from edge_sdk.contracts.records import Artifact, BenchResult


def _test_scheme(harness: Path, config: BenchConfig) -> str:
    """The scheme Xcode generated for the package that runs its tests ("EdgeBench-Package" when Xcode made
    one per product, else "EdgeBench"), read from `xcodebuild -list -json`."""
    try:
        done = subprocess.run(["xcodebuild", "-list", "-json"], cwd=harness, capture_output=True, text=True,
                              timeout=config.connect_timeout_s + 60, stdin=subprocess.DEVNULL)
        schemes = json.loads(done.stdout).get("workspace", {}).get("schemes", [])
    except (subprocess.TimeoutExpired, ValueError):
        raise DeviceError(f"{harness}: `xcodebuild -list` failed or timed out; open the package in Xcode once") from None
    return next((s for s in schemes if s.endswith("-Package")), "EdgeBench")


@register_runner("ios")
def run(artifact: Artifact, address: Address, config: BenchConfig) -> BenchResult:
    if sys.platform != "darwin" or shutil.which("xcrun") is None or shutil.which("xcodebuild") is None:
        raise DeviceError(
            f"{address}: benchmarking on iOS needs macOS with Xcode (xcodebuild, xcrun devicectl); this is "
            f"{sys.platform}. Copy the build output to a Mac and run `edge-sdk bench OUT/<profile> --device "
            "ios:UDID` there, or build harness/ (a Swift package) with Xcode"
        )
    if artifact.format != "coreml":
        raise DeviceError(f"{artifact.path.name}: the iOS harness runs Core ML .mlpackage artifacts, not {artifact.format}")
    harness = artifact.path.parent / "harness"
    if not (harness / "Package.swift").is_file():
        raise DeviceError(f"{harness}/Package.swift not found; rebuild with `edge-sdk build --target ios`")
    if address.udid is None:
        raise DeviceError("ios: pass the device as ios:UDID (list them with `edge-sdk devices`)")
    cmd = ["xcodebuild", "test", "-scheme", _test_scheme(harness, config), "-destination", f"platform=iOS,id={address.udid}",
           "-only-testing:EdgeBenchTests"]
    env = {**os.environ, "TEST_RUNNER_EDGE_SDK_RUNS": str(config.runs), "TEST_RUNNER_EDGE_SDK_WARMUP": str(config.warmup)}
    collector = RunCollector(str(address), "ios", artifact.path.name, config)
    return run_and_collect(cmd, collector, config, str(address), env=env, cwd=harness)
