"""When TFLM's host interpreter aborts on a model (seen with tflite-micro's pip build on a MobileNetV2),
the TFLM export still ships: the arena is estimated and labelled so, and verification runs the same
flatbuffer on LiteRT, reported as `simulated` with the reason. The crash is simulated here by making the
child-process probe report an abort: a real crashing model is 600 KB and takes minutes to make."""

from __future__ import annotations

import pytest

from edge_sdk import get_profile, load_dataset
from edge_sdk.formats import FORMATS, ExportConfig
from edge_sdk.formats.tflm import runner as tflm
from edge_sdk.verify import verify

pytestmark = pytest.mark.slow


@pytest.fixture
def tflm_crashes(monkeypatch):
    def crash(flatbuffer, arena_size):
        raise tflm.TFLMCrashed("TFLite Micro's host interpreter crashed (signal 6) loading this model (stand-in)")

    monkeypatch.setattr(tflm, "_survives_loading", crash)


def test_export_and_verify_fall_back_honestly(tflm_crashes, digits_loaded, digits_paths, tmp_path):
    cal = load_dataset(digits_paths["calibration"], digits_loaded.inputs)
    ev = load_dataset(digits_paths["eval"], digits_loaded.inputs)
    config = ExportConfig(precision="int8", io_dtype="int8", calibration=cal)
    artifact = FORMATS.get("tflm")(digits_loaded, get_profile("cortex-m"), config, tmp_path / "out")
    arena = artifact.arena
    assert not arena.measured and arena.basis_bytes > 0 and "crashed" in arena.note
    assert arena.bytes >= arena.basis_bytes
    header = (tmp_path / "out" / "model_data.h").read_text()
    assert "ESTIMATED" in header and "kTensorArenaEstimatedBytes" in header and "kTensorArenaMeasuredBytes" not in header
    verification = verify(artifact, digits_loaded, ev)
    assert verification.runtime == "litert-reference" and verification.method == "simulated"
    assert verification.passed and verification.fidelity.top1_agreement >= 0.98
    assert "crashed" in verification.reason and "litert" in verification.reason
