"""A GRU classifier (issue 12's zoo, saved with tf_keras) converts and runs: at the dynamic batch the
converter cannot lower the recurrent TensorList ops, so recurrent models are converted at batch 1 and
the runners feed them one sample at a time."""

from __future__ import annotations

import numpy as np
import pytest

from edge_sdk import deps
from edge_sdk.data import load_dataset
from edge_sdk.errors import ExportError
from edge_sdk.formats import FORMATS, ExportConfig
from edge_sdk.model import load_model
from edge_sdk.verify import check, verify

pytestmark = pytest.mark.slow


def _gru():
    keras = deps.tf_keras()
    rng = np.random.default_rng(0)
    inp = keras.Input((16, 8), name="frames")
    x = keras.layers.GRU(12)(inp)
    model = keras.Model(inp, keras.layers.Dense(4, activation="softmax", name="probs")(x))
    loaded = load_model(model)
    return loaded, load_dataset({"frames": rng.normal(size=(40, 16, 8)).astype(np.float32)}, loaded.inputs)


@pytest.mark.parametrize("precision", ["float32", "dynamic-int8"])
def test_gru_converts_at_batch_one_and_verifies(precision, android_profile, tmp_path):
    loaded, data = _gru()
    artifact = FORMATS.get("tflite")(loaded, android_profile, ExportConfig(precision=precision, calibration=data), tmp_path)
    v = check(verify(artifact, loaded, data))
    assert v.samples == 40 and v.fidelity.cosine > (0.9999 if precision == "float32" else 0.98), v.fidelity


def test_full_integer_gru_is_refused_not_crashed(android_profile, tmp_path):
    loaded, data = _gru()
    with pytest.raises(ExportError, match="layer 'gru.*' \\(GRU\\): TFLite has no integer GRU kernel"):
        FORMATS.get("tflite")(loaded, android_profile, ExportConfig(precision="int8", calibration=data), tmp_path)
