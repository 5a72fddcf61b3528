"""Emitted harnesses: every family renders from targets/<family>/ with the profile's settings; the
Cortex-M model_data.cc is compiled for real with Debian's arm-none-eabi-gcc for the profile's CPU and
its flash footprint (arm-none-eabi-size) compared with the artifact and the planner's estimate; main.cc
builds against TFLite Micro only where TFLM_DIR points at a TFLM tree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from edge_sdk.devices.harness import ANDROID_SCRIPT, PYTHON_RUNNER, arm_flags, emit
from edge_sdk.profiles import get_profile

from .conftest import copy_out

ARM_GCC = shutil.which("arm-none-eabi-g++")
ARM_SIZE = shutil.which("arm-none-eabi-size")


def _rendered(harness: Path) -> list[Path]:
    files = [p for p in harness.rglob("*") if p.is_file()]
    for p in files:
        assert not p.name.endswith(".tmpl")
        assert "{{" not in p.read_text(errors="replace"), p
    return files


def test_jetson_harness_ships_the_runner_edge_sdk_bench_uses(tflite_artifact, tmp_path):
    out = copy_out(tflite_artifact, tmp_path / "jetson-orin-nano")
    harness = emit(get_profile("jetson-orin-nano"), tflite_artifact, out)
    _rendered(harness)
    assert (harness / "bench_runner.py").read_bytes() == PYTHON_RUNNER.read_bytes()
    config = json.loads((harness / "config.json").read_text())
    assert config["threads"] == 6 and config["kind"] == "tflite" and config["model"] == "../model.tflite"
    # the emitted runner runs on its own from config.json defaults, as on the board
    done = subprocess.run([sys.executable, str(harness / "bench_runner.py"), "--runs", "3", "--warmup", "0"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    events = [json.loads(l)["event"] for l in done.stdout.splitlines()]
    assert events == ["start", "run", "run", "run", "done"], done.stderr[-500:]


def test_android_harness_has_script_readme_and_profile_settings(tflite_artifact, tmp_path):
    harness = emit(get_profile("pixel-8"), tflite_artifact, copy_out(tflite_artifact, tmp_path / "pixel-8"))
    _rendered(harness)
    assert (harness / "run_benchmark.py").read_bytes() == ANDROID_SCRIPT.read_bytes()
    readme = (harness / "README.md").read_text()
    assert "pixel-8" in readme and "BENCHMARK_MODEL" in readme and "xnnpack" in readme
    config = json.loads((harness / "config.json").read_text())
    assert (config["threads"], config["delegate"]) == (1, "xnnpack")
    assert "compute_units" not in config and "arena_bytes" not in config  # Core ML's and TFLM's settings


def test_ios_harness_is_a_swift_package_with_the_profile_compute_units(tmp_path):
    from edge_sdk.contracts.records import Artifact

    out = tmp_path / "iphone-15-pro"
    (out / "model.mlpackage").mkdir(parents=True)
    artifact = Artifact("coreml", out / "model.mlpackage", 1, 1, "0" * 64, precision="float16")
    harness = emit(get_profile("iphone-15-pro"), artifact, out)
    _rendered(harness)
    for rel in ("Package.swift", "Sources/EdgeBench/main.swift", "Sources/EdgeBenchKit/Benchmark.swift",
                "Tests/EdgeBenchTests/EdgeBenchTests.swift", "README.md"):
        assert (harness / rel).is_file(), rel
    swift = (harness / "Sources/EdgeBenchKit/Benchmark.swift").read_text()
    assert 'computeUnits = "ALL"' in swift and "model.prediction" in swift
    link = harness / "Sources/EdgeBenchKit/model.mlpackage"
    assert link.is_symlink() and link.resolve() == (out / "model.mlpackage").resolve()
    assert "xcodebuild test" in (harness / "README.md").read_text()
    config = json.loads((harness / "config.json").read_text())  # Core ML takes compute units, no delegate
    assert config["compute_units"] == "ALL" and not {"delegate", "threads", "arena_bytes"} & set(config)


@pytest.mark.parametrize("name,mcpu", [("stm32f746-disco", "-mcpu=cortex-m7"), ("nrf52840-dk", "-mcpu=cortex-m4")])
def test_cortex_m_harness_renders_the_profile_cpu(tflm_artifact, tmp_path, name, mcpu):
    profile = get_profile(name)
    harness = emit(profile, tflm_artifact, copy_out(tflm_artifact, tmp_path / name))
    _rendered(harness)
    cmake = (harness / "CMakeLists.txt").read_text()
    assert mcpu in cmake and f"EDGE_SDK_CPU_HZ {profile.compute.clock_hz}" in cmake and "TFLM_DIR" in cmake
    main = (harness / "main.cc").read_text()
    assert "kTensorArenaSize" in main and "EDGE_SDK_MODEL_DATA" in main and "DWT" in main and "RegisterOps" in main
    # --inputs over UART: the receiver ships beside main.cc, which keeps a copy of the model's 64 input bytes
    assert '#include "uart_inputs.h"' in main and (harness / "uart_inputs.h").is_file()
    assert "set(EDGE_SDK_INPUT_BYTES 64 " in cmake and "EDGE_SDK_INPUT_BYTES=${EDGE_SDK_INPUT_BYTES}" in cmake
    config = json.loads((harness / "config.json").read_text())  # TFLM: an arena, no threads or delegate
    assert config["arena_bytes"] == tflm_artifact.arena.bytes and not {"delegate", "threads", "compute_units"} & set(config)


@pytest.mark.needs_tool
@pytest.mark.skipif(ARM_GCC is None or ARM_SIZE is None,
                    reason="needs arm-none-eabi-g++ and arm-none-eabi-size (scripts/ci_system_deps.sh installs them)")
@pytest.mark.parametrize("name", ["stm32f746-disco", "nrf52840-dk"])
def test_model_data_compiles_for_the_profile_cpu_and_fits_the_flash_estimate(tflm_artifact, digits_loaded, tmp_path, name):
    from edge_sdk.model import analyze
    from edge_sdk.planner.memory import estimate_artifact_bytes

    profile = get_profile(name)
    obj = tmp_path / "model_data.o"
    subprocess.run([ARM_GCC, *arm_flags(profile), "-Os", "-std=c++17", "-c", str(tflm_artifact.path.parent / "model_data.cc"),
                    "-o", str(obj)], check=True, capture_output=True, timeout=300)
    size = subprocess.run([ARM_SIZE, str(obj)], check=True, capture_output=True, text=True, timeout=60).stdout
    text, data = (int(v) for v in size.splitlines()[1].split()[:2])
    flash = text + data
    model_bytes = tflm_artifact.path.stat().st_size
    # the const array lands in flash (.rodata -> text), plus the 4-byte length: nothing else
    assert model_bytes <= flash <= model_bytes + 64
    estimate = estimate_artifact_bytes(analyze(digits_loaded), "tflm", "int8")
    print(f"{name}: model {model_bytes} B, compiled text+data {flash} B, planner estimate {estimate} B")
    assert 0.5 < flash / estimate < 2.0, f"planner flash estimate {estimate} vs compiled {flash}"
    assert flash <= profile.memory.flash_budget_bytes


@pytest.mark.skipif(not os.environ.get("TFLM_DIR"),
                    reason="TFLM_DIR is not set: TFLite Micro sources come from no registry; point TFLM_DIR at a "
                           "create_tflm_tree.py tree to build main.cc")
def test_main_cc_builds_against_tflite_micro(tflm_artifact, tmp_path):
    out = copy_out(tflm_artifact, tmp_path / "stm32f746-disco")
    harness = emit(get_profile("stm32f746-disco"), tflm_artifact, out)
    build = tmp_path / "build"
    subprocess.run(["cmake", "-S", str(harness), "-B", str(build), f"-DTFLM_DIR={os.environ['TFLM_DIR']}"],
                   check=True, timeout=600)
    subprocess.run(["cmake", "--build", str(build), "-j", "2"], check=True, timeout=3000)
    size = subprocess.run([ARM_SIZE or "arm-none-eabi-size", str(build / "edge_sdk_bench.elf")], check=True,
                          capture_output=True, text=True).stdout
    text, data, bss = (int(v) for v in size.splitlines()[1].split()[:3])
    assert text + data >= tflm_artifact.path.stat().st_size and bss >= tflm_artifact.arena.bytes


def test_emit_replaces_an_old_harness(tflite_artifact, tmp_path):
    out = copy_out(tflite_artifact, tmp_path / "p")
    (out / "harness").mkdir()
    (out / "harness" / "stale.txt").write_text("old")
    emit(get_profile("pixel-8"), replace(tflite_artifact), out)
    assert not (out / "harness" / "stale.txt").exists()


@pytest.mark.needs_tool
@pytest.mark.skipif(ARM_GCC is None, reason="needs arm-none-eabi-g++ (scripts/ci_system_deps.sh installs it)")
def test_model_data_h_states_each_io_tensors_dims_scale_and_zero_point(tflm_artifact, tmp_path):
    """Issue 16, point 8: firmware quantizes inputs and reads outputs from model_data.h alone. The
    compiler checks every constant against the flatbuffer's own quantization (static_assert)."""
    from edge_sdk.formats.common.flatbuffer import read_graph

    graph = read_graph(tflm_artifact.path.read_bytes())
    checks = [f"static_assert(kInputCount == {len(graph.inputs)} && kOutputCount == {len(graph.outputs)});"]
    for role, indices in (("Input", graph.inputs), ("Output", graph.outputs)):
        for i, index in enumerate(indices):
            t = graph.tensors[index]
            assert t.dtype == "int8" and t.scales, t  # the digits TFLM artifact has int8 I/O: real scales
            checks += [f"static_assert(k{role}{i}Rank == {len(t.shape)});",
                       *(f"static_assert(k{role}{i}Dims[{d}] == {n});" for d, n in enumerate(t.shape)),
                       f"static_assert(k{role}{i}ZeroPoint == {t.zero_points[0]});",
                       f"static_assert(k{role}{i}Scale > {t.scales[0]} * 0.999999 && k{role}{i}Scale < {t.scales[0]} * 1.000001);"]
    source = tmp_path / "check.cc"
    source.write_text('#include "model_data.h"\n' + "\n".join(checks) + "\n")
    proc = subprocess.run([ARM_GCC, "-std=c++17", "-fsyntax-only", "-I", str(tflm_artifact.path.parent), str(source)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.needs_tool
@pytest.mark.skipif(ARM_GCC is None, reason="needs arm-none-eabi-g++ (scripts/ci_system_deps.sh installs it)")
def test_model_data_h_labels_and_normalisation_compile(int8_flatbuffer, tmp_path):
    """--labels / --input-mean / --input-std reach model_data.h as C++ constants, quotes escaped."""
    from edge_sdk.artifact_metadata import ArtifactMetadata
    from edge_sdk.formats.tflm.exporter import model_data_files
    from edge_sdk.contracts.records import ArenaInfo

    metadata = ArtifactMetadata(labels=('say "hi"', "back\\slash", "plain"), input_mean=(0.0, 127.5), input_std=(1.0, 127.5))
    files = model_data_files(int8_flatbuffer, "digits", "// test\n", ArenaInfo(4096, 4000, True, 0.1), metadata)
    (tmp_path / "model_data.h").write_text(files["model_data.h"])
    (tmp_path / "check.cc").write_text(
        '#include "model_data.h"\nstatic_assert(kLabelCount == 3);\n'
        "static_assert(sizeof(kInputMean) / sizeof(float) == 2 && kInputStd[1] == 127.5f && kInputMean[0] == 0.0f);\n"
        "constexpr bool same(const char* a, const char* b) { return *a == *b && (*a == 0 || same(a + 1, b + 1)); }\n"
        'static_assert(same(kLabels[0], "say \\"hi\\"") && same(kLabels[1], "back\\\\slash"));\n')
    proc = subprocess.run([ARM_GCC, "-std=c++17", "-fsyntax-only", "-I", str(tmp_path), str(tmp_path / "check.cc")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
