"""`ios[:UDID]`: benchmark a Core ML model on an iPhone/iPad (macOS with Xcode only).

Runs the emitted Swift package's XCTest on the device with `xcodebuild test` and reads the JSON lines it
prints; elsewhere it fails with a DeviceError saying how to run the harness on a Mac.

A sample (`--inputs`, devices/inputs.py) is copied into the package's bundle resources first
(Sources/EdgeBenchKit/inputs/: manifest.json + one raw file per model input, in the input's Core ML
dtype); Benchmark.swift predicts on it instead of random data when the manifest is there.
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
from edge_sdk.devices.inputs import cannot_feed, sample_arrays, write_raw
from edge_sdk.formats.coreml.interface import image_inputs, pixels
from edge_sdk.devices.process import run_and_collect
from edge_sdk.devices.protocol import RunCollector
from edge_sdk.errors import DeviceError
from edge_sdk.contracts.records import Artifact, BenchResult

INPUTS_DIR = Path("Sources") / "EdgeBenchKit" / "inputs"  # a `.copy("inputs")` resource of Package.swift


def _mac_with_xcode() -> bool:
    return sys.platform == "darwin" and shutil.which("xcrun") is not None and shutil.which("xcodebuild") is not None


def stage_inputs(harness: Path, artifact: Artifact, config: BenchConfig) -> str:
    """Put the sample into the harness bundle, or clear an earlier one; returns what the run is fed (the
    sample's file name, or "random": Benchmark.swift's own inputs). An image input gets the sample's
    uint8 pixels, which Core ML normalises back to the sample."""
    dest = harness / INPUTS_DIR
    for old in [*dest.glob("input_*.bin"), dest / "manifest.json"]:
        old.unlink(missing_ok=True)
    if not config.inputs:
        return "random"
    if '.copy("inputs")' not in (harness / "Package.swift").read_text():
        cannot_feed(config, f"{harness} was emitted before iOS took inputs; rebuild it with `edge-sdk build "
                            "--target ios`, or drop --inputs")
        return "random"
    images = image_inputs(artifact.path)
    pairs = [(spec, pixels(value[0], images[spec.name]) if spec.name in images else value)
             for spec, value in sample_arrays(artifact, config)]
    files = write_raw([value for _, value in pairs], dest)
    manifest = {"source": config.inputs.name, "inputs": [
        {"name": spec.name, "file": path.name, "dtype": str(value.dtype), "shape": list(value.shape),
         "bytes": path.stat().st_size} for (spec, value), path in zip(pairs, files)]}
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return config.inputs.name


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
    if not _mac_with_xcode():
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
    staged = stage_inputs(harness, artifact, config)
    collector = RunCollector(str(address), "ios", artifact.path.name, config)
    result = run_and_collect(cmd, collector, config, str(address), env=env, cwd=harness)
    ran = result.raw["start"].setdefault("inputs", "random")
    if ran != staged:
        raise DeviceError(f"{address}: the harness ran inputs {ran!r}, not {staged!r} staged in {harness / INPUTS_DIR}; "
                          "rebuild it with `edge-sdk build --target ios`")
    return result
