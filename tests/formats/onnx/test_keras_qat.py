"""A quantization-aware-trained Keras model (TFMOT-wrapped) to onnx: its own Q/DQ are kept, never
calibrated a second time on top; TFMOT learns activations with a zero point, which TensorRT's
explicit quantization does not take, so the export is refused with the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_sdk.errors import ExportError
from edge_sdk.formats import FORMATS, ExportConfig

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]


def test_a_tfmot_qat_model_is_refused_for_tensorrt_naming_the_fix(tmp_path):
    from edge_sdk import get_profile
    from edge_sdk.data import load_dataset
    from edge_sdk.frameworks.keras.techniques import qat
    from edge_sdk.model import load_model
    from edge_sdk.techniques.base import TechniqueData

    model = load_model(ROOT / "examples" / "digits" / "model.keras")
    data = load_dataset(ROOT / "calibration_data" / "digits_calibration.npz", model.inputs)
    trained, _ = qat.apply(model, TechniqueData(train=data, calibration=data, teacher=model, eval=data),
                           {"epochs": 1, "progress": False})
    with pytest.raises(ExportError, match="nonzero zero point, which TensorRT does not take; export the float model .*"
                                          "TensorFlow Model Optimization's QAT learns activations with a zero point"):
        FORMATS.get("onnx")(trained, get_profile("jetson"), ExportConfig(precision="int8"), tmp_path)  # no calibration asked
    assert not any(tmp_path.iterdir())  # nothing half-written
