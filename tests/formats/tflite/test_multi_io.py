"""Keras models with several inputs or outputs through the TFLite and TFLM exporters (issue 12's zoo:
MTCNN's RNet, a two-input model). The converter's signature orders inputs and outputs by name, not
as the model declares them: calibration must feed each input by name, and the runners must return
the outputs in the model's order, or every rung of such a model fails."""

from __future__ import annotations

import numpy as np
import pytest

from edge_sdk import deps
from edge_sdk.data import load_dataset
from edge_sdk.formats import FORMATS, ExportConfig
from edge_sdk.model import analyze, load_model
from edge_sdk.model.tasks import output_kinds
from edge_sdk.verify import check, verify

pytestmark = pytest.mark.slow


def _two_in_two_out():
    """Inputs `z_image` then `a_meta`, outputs `z_boxes` (4) then `a_scores` (softmax 2): both lists
    are in reverse alphabetical order, so any by-name reordering shows."""
    keras = deps.tf_keras()
    rng = np.random.default_rng(0)
    image = keras.Input((12, 12, 3), name="z_image")
    meta = keras.Input((8,), name="a_meta")
    x = keras.layers.Conv2D(8, 3, activation="relu")(image)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Concatenate()([x, keras.layers.Dense(8, activation="relu")(meta)])
    boxes = keras.layers.Dense(4, name="z_boxes")(x)
    scores = keras.layers.Dense(2, activation="softmax", name="a_scores")(x)
    model = keras.Model([image, meta], [boxes, scores])
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
    data = {"z_image": rng.normal(size=(64, 12, 12, 3)).astype(np.float32),
            "a_meta": rng.normal(size=(64, 8)).astype(np.float32)}
    loaded = load_model(model)
    return loaded, load_dataset(data, loaded.inputs)


@pytest.mark.parametrize("fmt, precision", [("tflite", "float32"), ("tflite", "int8"), ("tflite", "int8-mixed"),
                                            ("tflm", "int8")])
def test_outputs_in_model_order_and_inputs_calibrated_by_name(fmt, precision, android_profile, cortex_m_profile, tmp_path):
    loaded, data = _two_in_two_out()
    profile = cortex_m_profile if fmt == "tflm" else android_profile
    config = ExportConfig(precision=precision, io_dtype="int8" if fmt == "tflm" else "float32", calibration=data)
    artifact = FORMATS.get(fmt)(loaded, profile, config, tmp_path)
    kinds = output_kinds(analyze(loaded))
    assert list(kinds.values()) == ["detection", "classification"]  # boxes (N, 4) beside class scores
    v = check(verify(artifact, loaded, data, kinds))
    assert [o.kind for o in v.fidelity.outputs] == ["detection", "classification"]
    # a wrong output order would not even have the reference's shapes; a wrong input order (the (N, 8)
    # vector calibrating the conv) would leave the int8 boxes far off
    assert v.fidelity.cosine > 0.99, v.fidelity
