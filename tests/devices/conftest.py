"""Shared bench fixtures: real artifacts of the bundled digits model, built once per session.

- tflite: digits quantized to full int8 (int8 I/O) with edge_sdk.frameworks.keras.techniques.ptq.convert_to_tflite.
- tflm: the same flatbuffer as a TFLM artifact (model.tflite + model_data.cc/.h + op_resolver.h from the
  TFLM exporter's own source generators, arena measured by its TFLM runner).
- pte: the bundled torch digits CNN through the ExecuTorch exporter (XNNPACK partitioner).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CALIBRATION = ROOT / "calibration_data" / "digits_calibration.npz"


@pytest.fixture(scope="session")
def int8_flatbuffer(digits_loaded) -> bytes:
    from edge_sdk.frameworks.keras.techniques.ptq import QuantSpec, convert_to_tflite
    from edge_sdk.data import load_dataset

    calibration = load_dataset(CALIBRATION, digits_loaded.inputs, purpose="calibration")
    flatbuffer, _ = convert_to_tflite(digits_loaded.handle, QuantSpec("int8", io_dtype="int8", max_samples=50), calibration)
    return flatbuffer


def put_standin_first_on_path(tmp_path: Path, monkeypatch, name: str, script: str) -> Path:
    """An executable stand-in for a device tool (adb, xcodebuild) in tmp_path/bin, first on PATH."""
    import os

    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    tool = bindir / name
    tool.write_text(script)
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return tool


def _artifact(fmt: str, out: Path, main: str, files: list[str], arena=None):
    from edge_sdk.formats.common.atomic import make_artifact

    return make_artifact(fmt, out / main, [out / f for f in files], "int8", (), arena=arena)


@pytest.fixture(scope="session")
def tflite_artifact(tmp_path_factory, int8_flatbuffer):
    out = tmp_path_factory.mktemp("tflite")
    (out / "model.tflite").write_bytes(int8_flatbuffer)
    return _artifact("tflite", out, "model.tflite", ["model.tflite"])


@pytest.fixture(scope="session")
def tflm_artifact(tmp_path_factory, int8_flatbuffer):
    from edge_sdk.formats.common.flatbuffer import read_graph
    from edge_sdk.formats.tflm.exporter import arena_for_harness, model_data_files, op_resolver_file
    from edge_sdk.formats.tflm.runner import measure_arena
    from edge_sdk.contracts.records import ArenaInfo

    out = tmp_path_factory.mktemp("tflm")
    measured = measure_arena(int8_flatbuffer)["arena_total_bytes"]
    arena = ArenaInfo(arena_for_harness(measured, 0.10), measured, True, 0.10)
    files = model_data_files(int8_flatbuffer, "digits", "// test fixture\n", arena)
    files["op_resolver.h"] = op_resolver_file(read_graph(int8_flatbuffer).op_names(), "// test fixture\n")
    (out / "model.tflite").write_bytes(int8_flatbuffer)
    for name, text in files.items():
        (out / name).write_text(text)
    return _artifact("tflm", out, "model.tflite", ["model.tflite", *files], arena)


@pytest.fixture(scope="session")
def pte_artifact(tmp_path_factory):
    """The bundled torch digits CNN exported by the project's ExecuTorch exporter (XNNPACK partitioner)."""
    from edge_sdk import get_profile, load_model
    from edge_sdk.formats import FORMATS, ExportConfig

    out = tmp_path_factory.mktemp("pte")
    model = load_model(ROOT / "examples" / "torch_digits" / "model.pt2")
    return FORMATS.get("pte")(model, get_profile("pixel-8"), ExportConfig(), out)


def copy_out(artifact, dest: Path) -> Path:
    """A fresh OUT/<profile>-like dir holding the artifact's files (tests write bench.json there)."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in artifact.files or (artifact.path,):
        shutil.copy2(f, dest / Path(f).name)
    return dest
