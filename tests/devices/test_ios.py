"""ios runner up to the Xcode boundary (no Xcode on Linux): `--inputs` puts the sample into the emitted
Swift package's bundle resources (Sources/EdgeBenchKit/inputs/), Benchmark.swift reads it instead of
random data, and the runner checks the `start` it gets back names it. `xcodebuild` is a STAND-IN placed
first on PATH: it copies the `inputs` resource as SwiftPM's `.copy("inputs")` would into a bundle dir,
and prints the JSON lines Benchmark.swift prints, taking `inputs` from the bundled manifest as the Swift
code does. What the tests assert on is the bundle's bytes and the Swift and Package.swift text."""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap

import numpy as np
import pytest

from edge_sdk.cli import main
from edge_sdk.devices import BenchConfig, bench, ios
from edge_sdk.devices.artifact import resolve_target
from edge_sdk.devices.harness import emit
from edge_sdk.errors import DeviceError
from edge_sdk.profiles import get_profile

from .conftest import put_standin_first_on_path

STANDIN_XCODEBUILD = textwrap.dedent('''\
    #!{python}
    """STAND-IN for xcodebuild (tests only): `-list -json` and `test` of the EdgeBench package."""
    import json, os, shutil, sys
    args = sys.argv[1:]
    with open(os.environ["STANDIN_XCODE_LOG"], "a") as log:
        log.write(json.dumps({{"args": args, "cwd": os.getcwd()}}) + "\\n")
    if args[:2] == ["-list", "-json"]:
        print(json.dumps({{"workspace": {{"name": "EdgeBench", "schemes": ["EdgeBench", "EdgeBench-Package"]}}}}))
        sys.exit(0)
    bundle = os.environ["STANDIN_XCODE_BUNDLE"]  # the test bundle's resources: `.copy("inputs")` copies the dir
    shutil.rmtree(bundle, ignore_errors=True)
    shutil.copytree(os.path.join("Sources", "EdgeBenchKit", "inputs"), os.path.join(bundle, "inputs"))
    manifest = os.path.join(bundle, "inputs", "manifest.json")
    source = json.load(open(manifest))["source"] if os.path.isfile(manifest) else "random"
    runs = int(os.environ.get("TEST_RUNNER_EDGE_SDK_RUNS", "50"))
    print(json.dumps({{"event": "start", "protocol": 1, "kind": "coreml", "runtime": "coreml", "runs": runs,
                      "warmup": 0, "inputs": source}}))
    for i in range(runs):
        print(json.dumps({{"event": "run", "i": i, "us": 800.0 + i}}))
    print(json.dumps({{"event": "done", "runs": runs, "peak_rss_bytes": 52428800}}))
    ''')


@pytest.fixture
def standin_xcode(tmp_path, monkeypatch):
    put_standin_first_on_path(tmp_path, monkeypatch, "xcodebuild", STANDIN_XCODEBUILD.format(python=sys.executable))
    monkeypatch.setenv("STANDIN_XCODE_LOG", str(tmp_path / "xcode.log"))
    monkeypatch.setenv("STANDIN_XCODE_BUNDLE", str(tmp_path / "bundle"))
    monkeypatch.setattr(ios, "_mac_with_xcode", lambda: True)
    return tmp_path / "bundle"


def _ios_out(tmp_path):
    out = tmp_path / "iphone-15-pro"
    (out / "model.mlpackage").mkdir(parents=True)
    target = resolve_target(out)
    emit(get_profile("iphone-15-pro"), target.artifact, out)
    return out, target.artifact


def test_the_swift_harness_reads_the_bundled_sample_instead_of_random_inputs(tmp_path):
    out, _ = _ios_out(tmp_path)
    harness = out / "harness"
    package = (harness / "Package.swift").read_text()
    assert '.target(name: "EdgeBenchKit", resources: [.process("model.mlpackage"), .copy("inputs")])' in package
    assert (harness / "Sources/EdgeBenchKit/inputs/README.md").is_file()  # the resource dir always exists
    swift = (harness / "Sources/EdgeBenchKit/Benchmark.swift").read_text()
    assert 'Bundle.module.url(forResource: "inputs", withExtension: nil)' in swift
    assert 'dir.appendingPathComponent("manifest.json")' in swift and "dir.appendingPathComponent(entry.file)" in swift
    assert "let inputs = try sample?.features ?? randomInputs(model)" in swift  # random only without a sample
    assert '"inputs": sample?.source ?? "random"' in swift  # the start line names what was fed
    assert "guard bytes.count == expected, entry.bytes == expected" in swift  # sizes checked, nothing converted


def test_ios_without_a_sample_clears_an_earlier_one_and_runs_random(standin_xcode, tmp_path):
    out, _ = _ios_out(tmp_path)
    inputs = out / "harness" / ios.INPUTS_DIR
    (inputs / "manifest.json").write_text('{"source": "old.npz", "inputs": []}')
    (inputs / "input_0.bin").write_bytes(b"old")
    result, _ = bench(out, "ios:00008110-TEST", BenchConfig(runs=3))
    assert result.complete and result.raw["start"]["inputs"] == "random"
    assert sorted(p.name for p in (standin_xcode / "inputs").iterdir()) == ["README.md"]


def test_an_old_harness_refuses_inputs_with_the_fix(standin_xcode, tmp_path):
    out, _ = _ios_out(tmp_path)
    package = out / "harness" / "Package.swift"
    package.write_text(package.read_text().replace(', .copy("inputs")', ""))
    npz = tmp_path / "eval.npz"
    np.savez(npz, x=np.zeros((2, 8, 8, 1), np.float32))
    with pytest.raises(DeviceError, match=r"--inputs .*eval.npz: .*harness was emitted before iOS took inputs; rebuild it "
                                          r"with `edge-sdk build --target ios`"):
        bench(out, "ios:00008110-TEST", BenchConfig(runs=3, inputs=npz))


@pytest.fixture(scope="module")
def two_input_mlpackage(tmp_path_factory):
    """A real Core ML program with a float32 image and int32 token ids (coremltools converts on Linux)."""
    ct = pytest.importorskip("coremltools")
    from coremltools.converters.mil import Builder as mb
    from coremltools.converters.mil.mil import types

    @mb.program(input_specs=[mb.TensorSpec(shape=(1, 8, 8, 1)), mb.TensorSpec(shape=(1, 6), dtype=types.int32)],
                opset_version=ct.target.iOS16)
    def prog(image, ids):
        return mb.add(x=mb.reduce_sum(x=mb.cast(x=ids, dtype="fp32"), axes=[1]), y=mb.reduce_sum(x=image, axes=[1, 2, 3]))

    path = tmp_path_factory.mktemp("coreml") / "model.mlpackage"
    ct.convert(prog, convert_to="mlprogram", minimum_deployment_target=ct.target.iOS16,
               compute_precision=ct.precision.FLOAT32).save(str(path))
    return path


@pytest.mark.slow
def test_ios_copies_the_sample_into_the_bundle_in_each_inputs_core_ml_dtype(standin_xcode, two_input_mlpackage, tmp_path, capsys):
    """The first sample of each array goes into the bundle as the raw bytes of the Core ML input (float32
    image as it is, int64 token ids as the model's int32), with a manifest naming input, dtype and shape;
    the start line the harness prints names the file, and a wrong-sized sample is one line naming it."""
    out = tmp_path / "iphone-15-pro"
    out.mkdir()
    shutil.copytree(two_input_mlpackage, out / "model.mlpackage")
    emit(get_profile("iphone-15-pro"), resolve_target(out).artifact, out)
    rng = np.random.default_rng(0)
    image, ids = rng.random((4, 8, 8, 1), dtype=np.float32), rng.integers(0, 30000, (4, 6)).astype(np.int64)
    npz = tmp_path / "tokens.npz"
    np.savez(npz, image=image, ids=ids)
    result, doc = bench(out, "ios:00008110-TEST", BenchConfig(runs=3, inputs=npz))
    assert result.complete and doc["bench"]["raw"]["start"]["inputs"] == "tokens_sample0.npz"
    bundled = standin_xcode / "inputs"
    manifest = json.loads((bundled / "manifest.json").read_text())
    assert manifest == {"source": "tokens_sample0.npz", "inputs": [
        {"name": "image", "file": "input_0.bin", "dtype": "float32", "shape": [1, 8, 8, 1], "bytes": 256},
        {"name": "ids", "file": "input_1.bin", "dtype": "int32", "shape": [1, 6], "bytes": 24}]}
    assert (bundled / "input_0.bin").read_bytes() == image[:1].astype("<f4").tobytes()
    assert (bundled / "input_1.bin").read_bytes() == ids[:1].astype("<i4").tobytes()

    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, image=np.zeros((2, 5), np.float32), ids=ids)
    assert main(["bench", str(out), "--device", "ios:00008110-TEST", "--inputs", str(wrong)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: --inputs {wrong}: input_0 has 5 values; the model's input 0 takes 64 (1x8x8x1)")
    assert "\n" not in err
