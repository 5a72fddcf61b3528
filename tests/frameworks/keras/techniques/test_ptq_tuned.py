"""int8-tuned: activation ranges (min-max, percentile, MSE) and bias correction chosen per model by
fidelity on the calibration data."""

from __future__ import annotations

import numpy as np

from edge_sdk import deps, load_model
from edge_sdk.data import Dataset
from edge_sdk.formats.tflite.runner import run
from edge_sdk.frameworks.keras.reference import run as reference
from edge_sdk.frameworks.keras.techniques.ptq import QuantSpec, convert_to_tflite
from edge_sdk.frameworks.keras.techniques.ptq_tuned import METHODS
from edge_sdk.verify import fidelity


def _rare_wide_unit_classifier():
    """Hidden unit 0 fires only for x0 > 2.5, then up to ~1000 (a rare, huge activation the next layer
    reads at 1/1000): one calibration sample sets the hidden tensor's min-max range to ~500, so its
    other 63 units, all O(1), fall into one or two int8 steps."""
    keras = deps.tf_keras()
    keras.utils.set_random_seed(0)
    L = keras.layers
    inp = L.Input((16,), name="x")
    x = L.Dense(64, activation="relu", name="a")(inp)
    x = L.Dense(32, activation="relu", name="b")(x)
    model = keras.Model(inp, L.Dense(10, name="logits")(x))
    kernel, bias = model.get_layer("a").get_weights()
    kernel[:, 0], bias[0] = 0.0, -2500.0
    kernel[0, 0] = 1000.0
    model.get_layer("a").set_weights([kernel, bias])
    kernel, bias = model.get_layer("b").get_weights()
    kernel[0, :] *= 1e-3
    model.get_layer("b").set_weights([kernel, bias])
    kernel, bias = model.get_layer("logits").get_weights()
    model.get_layer("logits").set_weights([kernel * 10, bias])  # confident logits, like a trained head
    return load_model(model)


def _data():
    rng = np.random.default_rng(0)
    calibration = rng.normal(size=(200, 16)).astype(np.float32)
    calibration[0, 0] = 3.0  # the one sample that fires unit 0
    return Dataset({"x": calibration}, None, "calibration"), {"x": rng.normal(size=(500, 16)).astype(np.float32)}


def test_clipped_ranges_win_where_one_sample_stretches_a_tensor():
    model = _rare_wide_unit_classifier()
    calibration, evaluation = _data()
    ref = reference(model, evaluation)

    def top1(flatbuffer: bytes) -> float:
        return fidelity(ref, run(flatbuffer, evaluation, reference=model)).outputs[0].metrics["top1_agreement"]

    plain, _ = convert_to_tflite(model.handle, QuantSpec("int8"), calibration)
    ranged, record = convert_to_tflite(model.handle, QuantSpec("int8", tuned=True), calibration)
    scores = record.metrics["range_methods_on_calibration"]
    assert set(scores) == set(METHODS) and record.params["tuned"] is True
    assert record.metrics["range_method"].startswith("percentile"), scores
    # the choice is the least shortfall against the floor, measured on calibration data
    assert scores[record.metrics["range_method"]]["shortfall"] == min(s["shortfall"] for s in scores.values())
    assert scores["minmax"]["shortfall"] > scores[record.metrics["range_method"]]["shortfall"]
    assert top1(plain) < 0.5 and top1(ranged) >= 0.95  # measured: 0.374 -> 0.972 on held-out data


def test_minmax_stays_when_nothing_beats_it_and_int8_io_is_kept(tmp_path):
    """A model without outliers keeps the converter's ranges unless another method measures better;
    either way a TFLM export keeps int8 I/O, and the artifact says which method it used."""
    from edge_sdk import get_profile
    from edge_sdk.formats import FORMATS, ExportConfig

    keras = deps.tf_keras()
    keras.utils.set_random_seed(1)
    L = keras.layers
    inp = L.Input((8,), name="x")
    model = load_model(keras.Model(inp, L.Dense(4)(L.Dense(16, activation="relu")(inp))))
    calibration = Dataset({"x": np.random.default_rng(1).normal(size=(100, 8)).astype(np.float32)}, None, "calibration")
    config = ExportConfig(precision="int8", io_dtype="int8", calibration=calibration, tuned=True)
    artifact = FORMATS.get("tflm").exporter(model, get_profile("cortex-m"), config, tmp_path)
    assert artifact.details["input_dtype"] == "int8" and artifact.details["output_dtype"] == "int8"
    scores = artifact.details["range_methods"]
    chosen = artifact.details["range_method"]
    assert chosen in METHODS and scores[chosen]["sqnr_db"] == max(
        s["sqnr_db"] for s in scores.values() if s["shortfall"] == scores[chosen]["shortfall"])


def test_bias_correction_removes_the_mean_error_weight_rounding_leaves():
    """A wide dense layer reading all-positive inputs (after a ReLU): the int8 rounding of its 512 input
    weights per unit adds up to a per-unit offset every sample carries; the correction takes it out."""
    from edge_sdk.frameworks.keras.techniques import bias_correction
    from edge_sdk.frameworks.keras.techniques.ptq_tuned import _calibrated, _quantize

    keras = deps.tf_keras()
    keras.utils.set_random_seed(3)
    L = keras.layers
    inp = L.Input((16,), name="x")
    net = keras.Model(inp, L.Dense(8, name="wide_reader")(L.Dense(512, activation="relu")(inp)))
    rng = np.random.default_rng(3)
    for layer in net.layers[1:]:  # trained layers have biases (the converter drops all-zero ones: nothing to correct)
        kernel, bias = layer.get_weights()
        layer.set_weights([kernel, rng.normal(0, 0.1, bias.shape).astype(np.float32)])
    model = load_model(net)
    calibration = Dataset({"x": rng.normal(size=(100, 16)).astype(np.float32)}, None, "calibration")
    evaluation = {"x": rng.normal(size=(400, 16)).astype(np.float32)}
    calibrated, _ = _calibrated(model.handle, calibration, 100)
    plain = _quantize(calibrated, QuantSpec("int8"))
    corrected, stats = bias_correction.correct(calibrated, plain, calibration.inputs)
    assert stats["ops"] == 2 and stats["max_shift_steps"] > 0.01, stats
    ref = reference(model, evaluation)[0]
    offset = {name: np.abs((run(fb, evaluation, reference=model)[0] - ref).mean(axis=0)).mean()
              for name, fb in (("plain", plain), ("corrected", corrected))}
    assert offset["corrected"] < 0.5 * offset["plain"], offset
