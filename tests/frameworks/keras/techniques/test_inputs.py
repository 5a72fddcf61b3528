"""Bad input and bad config fail before any work, naming what was expected; registry and pure helpers."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

from edge_sdk.data import Dataset
from edge_sdk.errors import ConfigError, DataError, EdgeSDKError
from edge_sdk.techniques.base import TECHNIQUES
from edge_sdk.techniques.dispatch import apply_step
from tests.frameworks.keras.techniques.conftest import QUIET

KERAS_TECHNIQUES = ("qat", "prune", "cluster", "lowrank", "decompose", "distill")


def test_every_keras_technique_is_registered_and_unknown_names_list_them():
    assert set(KERAS_TECHNIQUES) <= set(TECHNIQUES.names("keras"))
    with pytest.raises(EdgeSDKError, match="valid: .*distill.*lowrank"):
        TECHNIQUES.get("quantise", "keras")


def _with_train(digits, train: Dataset):
    return dataclasses.replace(digits.data(), train=train)


@pytest.mark.parametrize("technique", KERAS_TECHNIQUES)
@pytest.mark.parametrize(
    "bad, message",
    [
        ({"image": np.zeros((4, 8, 8), np.float32)}, r"shape \(4, 8, 8\).*expects \(N, 8, 8, 1\)"),
        ({"image": np.full((4, 8, 8, 1), np.nan, np.float32)}, "NaN/Inf"),
        ({"image": np.zeros((0, 8, 8, 1), np.float32)}, "empty"),
        ({"pixels": np.zeros((4, 8, 8, 1), np.float32)}, "no array for model input.*image"),
        ({"image": np.zeros((4, 8, 8, 1), np.str_)}, "dtype"),
    ],
    ids=["shape", "nan", "empty", "input-name", "dtype"],
)
def test_bad_training_data_is_a_data_error_before_any_work(digits, technique, bad, message, monkeypatch):
    from edge_sdk.frameworks.keras.techniques import training

    monkeypatch.setattr(training, "fit", lambda *a, **k: pytest.fail("trained on bad data"))
    data = _with_train(digits, Dataset(bad, None, "train.npz"))
    with pytest.raises(DataError, match=message):
        apply_step(technique, digits.model, data, QUIET)


def test_fewer_calibration_samples_than_asked_warns_with_the_count(digits):
    from edge_sdk.frameworks.keras.techniques.ptq import QuantSpec, convert_to_tflite

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, record = convert_to_tflite(digits.model.handle, QuantSpec("int8", max_samples=1000), digits.data().calibration)
    assert any("300 calibration samples available" in str(w.message) for w in caught)
    assert record.metrics["calibration_samples"] == 300


def test_keras_int8_rungs_quantize_at_export_with_no_step_before_it(digits):
    from edge_sdk import analyze, get_profile
    from edge_sdk.planner.ladder import build_ladder

    ladder = {c.name: c for c in build_ladder(analyze(digits.model), get_profile("android"))}
    assert ladder["int8"].steps == () and ladder["int8-mixed"].steps == ()
    assert ladder["int8"].plan_steps() == [{"technique": "export", "params": {"format": "tflite", "precision": "int8"}}]


@pytest.mark.parametrize(
    "technique, config, message",
    [
        ("prune", {"sparsity": 1.5}, "sparsity must be in"),
        ("prune", {"m_by_n": [4, 2]}, "m_by_n"),
        ("prune", {"layers": ["nope"]}, "no prunable layer"),
        ("cluster", {"clusters": 1}, "clusters must be"),
        ("lowrank", {"energy": 0}, "energy must be"),
        ("decompose", {"method": "cp"}, "method cp chooses its rank from macs_ratio"),
        ("decompose", {"method": "tt"}, "method must be one of tucker2, cp"),
        ("decompose", {"layers": ["nope"]}, "no ungrouped Conv2D wider than 1x1"),
        ("distill", {"width": 2.0}, "width must be"),
        ("distill", {"init": "zeros"}, "init must be"),
        ("qat", {"preserve": "everything"}, "preserve must be"),
    ],
)
def test_bad_config_is_a_config_error(digits, technique, config, message):
    with pytest.raises(ConfigError, match=message):
        apply_step(technique, digits.model, digits.data(), {**QUIET, "epochs": 1, **config})


def test_given_student_must_match_the_teacher_io(digits):
    from edge_sdk import deps

    tfk = deps.tf_keras()
    wrong = tfk.Sequential([tfk.Input((8, 8, 1)), tfk.layers.Flatten(), tfk.layers.Dense(3, activation="softmax")])
    with pytest.raises(ConfigError, match="do not match the teacher"):
        apply_step("distill", digits.model, digits.data(), {**QUIET, "student": wrong})


def test_rank_choice_by_energy_and_by_budget():
    from edge_sdk.frameworks.keras.techniques.lowrank import LowRankConfig, choose_rank, factor

    s = np.array([10.0, 5.0, 1.0, 0.1])
    assert choose_rank(s, 100, 100, LowRankConfig(param_ratio=None, energy=0.79)) == 1  # 100/126.01 = 0.7936
    assert choose_rank(s, 100, 100, LowRankConfig(param_ratio=None, energy=0.99)) == 2
    assert choose_rank(s, 100, 100, LowRankConfig(param_ratio=0.5, energy=0.9)) == 4  # 0.5*1e4/200=25, capped at 4
    rng = np.random.default_rng(0)
    w = rng.normal(size=(40, 3)) @ rng.normal(size=(3, 20))  # exactly rank 3
    a, b, kept = factor(w, 3)
    assert a.shape == (40, 3) and b.shape == (3, 20)
    assert np.allclose(a @ b, w, atol=1e-4) and kept == pytest.approx(1.0)


def test_width_scaled_student_keeps_topology_and_output_width(digits):
    from edge_sdk.frameworks.keras.techniques.distill import scaled_student

    student, scaled = scaled_student(digits.model.handle, 0.5)
    teacher = digits.model.handle
    assert [type(l).__name__ for l in student.layers] == [type(l).__name__ for l in teacher.layers]
    assert scaled == ["conv1", "conv2", "conv3", "fc1"]
    assert student.get_layer("conv3").filters == 32 and student.get_layer("fc1").units == 32
    assert student.get_layer("probs").units == 10
    assert student.count_params() <= 0.35 * teacher.count_params()
    assert teacher.get_layer("conv3").filters == 64  # the teacher is untouched
