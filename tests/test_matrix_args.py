"""A matrix build's arguments: --model repeated with its data flags, and edge-sdk.yaml `models:`."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_sdk.commands.project_args import resolve_build_args
from edge_sdk.errors import ConfigError
from edge_sdk.project import parse_project


def _args(**given):
    base = dict(model=None, targets=["android"], calibration=None, train_data=None, eval_data=None, out=None,
                search=None, seed=None, profiles_dir=None, trust_model=False, budget_flags={}, no_cache=True)
    return resolve_build_args(**{**base, **given})


def test_one_data_flag_serves_every_model_and_one_per_model_pairs_in_order():
    shared = _args(model=[Path("a.keras"), Path("b.keras")], calibration=["cal.npz"])["models"]
    assert [(str(m.model), m.calibration) for m in shared] == [("a.keras", "cal.npz"), ("b.keras", "cal.npz")]
    paired = _args(model=[Path("a.keras"), Path("b.keras")], calibration=["a.npz", "b.npz"], eval_data=["ev.npz"])["models"]
    assert [(m.calibration, m.eval_data) for m in paired] == [("a.npz", "ev.npz"), ("b.npz", "ev.npz")]


def test_a_data_flag_given_neither_once_nor_per_model_is_one_line():
    with pytest.raises(ConfigError, match=r"--calibration given 2 times for 3 models"):
        _args(model=[Path("a"), Path("b"), Path("c")], calibration=["x.npz", "y.npz"])


def test_the_project_file_takes_model_or_models_not_both(tmp_path):
    entry = {"model": "a.keras", "calibration": "a.npz"}
    project = parse_project({"models": [entry, {"model": "b.keras"}], "calibration": "shared.npz", "targets": ["android"]},
                            tmp_path / "edge-sdk.yaml")
    assert [m.model for m in project.models] == [tmp_path / "a.keras", tmp_path / "b.keras"]
    assert project.models[0].calibration == str(tmp_path / "a.npz") and project.models[1].calibration is None
    with pytest.raises(ConfigError, match=r"field '\(top level\)': give either model \(one\) or models"):
        parse_project({"model": "a.keras", "models": [entry], "targets": ["android"]}, tmp_path / "edge-sdk.yaml")
    with pytest.raises(ConfigError, match=r"field 'models\[0\]\.weights': unknown key; valid keys here: model, calibration"):
        parse_project({"models": [{"model": "a.keras", "weights": 1}], "targets": ["android"]}, tmp_path / "edge-sdk.yaml")


def test_models_from_the_project_file_take_the_top_level_data_they_do_not_name(tmp_path, monkeypatch):
    for name in ("a.keras", "b.keras", "a.npz", "shared.npz"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "edge-sdk.yaml").write_text(
        "models:\n  - model: a.keras\n    calibration: a.npz\n  - model: b.keras\ncalibration: shared.npz\ntargets: [android]\n")
    monkeypatch.chdir(tmp_path)
    models = _args(targets=None)["models"]
    assert [(m.model.name, Path(m.calibration).name) for m in models] == [("a.keras", "a.npz"), ("b.keras", "shared.npz")]
