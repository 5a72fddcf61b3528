"""onnx `int8-tuned`: calibration ranges chosen per model. One calibration sample with a spike at one
pixel makes min-max ranges ~100x too wide (every ordinary input rounds to a few levels); percentile
calibration clips the spike and keeps the floor. The tuned export tries percentile first and records
what each method it tried missed."""

from __future__ import annotations

import numpy as np
import pytest

from edge_sdk.formats import FORMATS, ExportConfig
from edge_sdk.verify import verify

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spiky():
    from edge_sdk import deps
    from edge_sdk.data import Dataset
    from edge_sdk.model import load_model

    keras = deps.tf_keras()
    keras.utils.set_random_seed(0)
    inp = keras.Input((32, 32, 3), name="x")
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inp)
    out = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(h))
    rng = np.random.default_rng(0)
    calibration = rng.standard_normal((101, 32, 32, 3)).astype(np.float32)
    calibration[100, 16, 16, 0] = 500.0  # one pixel of one sample: min-max sets the input range by it
    ordinary = rng.standard_normal((64, 32, 32, 3)).astype(np.float32)
    return (load_model(keras.Model(inp, out)), Dataset({"x": calibration}, None, "spiky"),
            Dataset({"x": ordinary}, None, "ordinary"))


def test_tuned_calibration_clips_a_spike_that_min_max_follows(spiky, tmp_path):
    from edge_sdk import get_profile

    model, calibration, ordinary = spiky
    jetson, floor = get_profile("jetson"), {"sqnr_db": 20.0}
    plain = FORMATS.get("onnx")(model, jetson, ExportConfig(precision="int8", calibration=calibration), tmp_path / "minmax")
    tuned = FORMATS.get("onnx")(model, jetson, ExportConfig(precision="int8", calibration=calibration, tuned=True,
                                                             min_fidelity=floor), tmp_path / "tuned")
    assert plain.details["qdq"]["calibration"] == "minmax"
    assert tuned.details["qdq"]["calibration"] == "percentile"
    assert tuned.details["qdq"]["calibrations_tried"] == {"percentile": "meets the floor"}
    sqnr = {name: verify(art, model, ordinary).fidelity.sqnr_db for name, art in (("minmax", plain), ("tuned", tuned))}
    assert sqnr["minmax"] < 15.0 and sqnr["tuned"] > 20.0, sqnr
