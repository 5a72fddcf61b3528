"""plan.json is checked when it is read: an unknown technique or a bad step param is exit 2 naming the
target, the rung and the field, before anything is loaded for training (it used to fail the rung at
build time, exit 3)."""

from __future__ import annotations

import json

import pytest

from edge_sdk import analyze, get_profile
from edge_sdk.errors import ConfigError
from edge_sdk.planner.ladder import build_ladder
from edge_sdk.planner.plan_file import read_plan, write_plan

TARGET = "stm32f746-disco"


@pytest.fixture(scope="module")
def saved_plan(digits_loaded):
    return build_ladder(analyze(digits_loaded), get_profile(TARGET))


def _edited(tmp_path, ladder, rung: str, edit) -> str:
    write_plan({TARGET: ladder}, tmp_path / "plan.json")
    doc = json.loads((tmp_path / "plan.json").read_text())
    (entry,) = [c for c in doc["targets"][TARGET] if c["name"] == rung]
    edit(entry)
    (tmp_path / "plan.json").write_text(json.dumps(doc))
    return str(tmp_path / "plan.json")


def test_unknown_technique_names_the_rung_and_the_valid_names(tmp_path, saved_plan):
    path = _edited(tmp_path, saved_plan, "prune-channels50-qat-int8", lambda c: c["steps"][0].update(technique="pruen"))
    with pytest.raises(ConfigError) as err:
        read_plan(path)
    message = str(err.value)
    assert f"target '{TARGET}', rung 'prune-channels50-qat-int8'" in message and "'pruen'" in message
    assert "valid: cluster, decompose, distill, equalize, lowrank, prune, qat" in message
    assert err.value.exit_code == 2


def test_out_of_range_param_names_rung_technique_and_field(tmp_path, saved_plan):
    path = _edited(tmp_path, saved_plan, "distill0.5-qat-int8", lambda c: c["steps"][0]["params"].update(width=1.5))
    with pytest.raises(ConfigError, match=r"rung 'distill0.5-qat-int8': distill: width must be in \(0, 1\]; got 1.5"):
        read_plan(path)


def test_unknown_param_names_rung_and_field(tmp_path, saved_plan):
    path = _edited(tmp_path, saved_plan, "prune-channels25-qat-int8", lambda c: c["steps"][0]["params"].update(sparsty=0.9))
    with pytest.raises(ConfigError, match=r"rung 'prune-channels25-qat-int8': prune: unknown field 'sparsty'; valid: .*sparsity"):
        read_plan(path)


def test_a_typo_in_a_format_or_a_precision_lists_the_valid_names(tmp_path, saved_plan):
    path = _edited(tmp_path, saved_plan, "int8", lambda c: c.update(fmt="tflmm"))
    with pytest.raises(ConfigError, match=r"rung 'int8': unknown format 'tflmm'; valid: coreml, onnx, pte, pte-coreml, .*tflite, tflm"):
        read_plan(path)
    path = _edited(tmp_path, saved_plan, "int8", lambda c: c.update(precision="int9"))
    with pytest.raises(ConfigError, match=r"rung 'int8': format tflm has no precision 'int9' for keras models; valid: int8"):
        read_plan(path)


def test_a_plan_that_is_not_text_is_a_config_error(tmp_path):
    (tmp_path / "plan.json").write_bytes(bytes(range(256)))
    with pytest.raises(ConfigError, match="not a plan written by `edge-sdk plan --save`"):
        read_plan(tmp_path / "plan.json")


def test_a_torch_only_technique_is_refused_on_a_keras_rung(tmp_path, saved_plan):
    path = _edited(tmp_path, saved_plan, "qat-int8", lambda c: c["steps"][0]["params"].update(per_channel=False))
    with pytest.raises(ConfigError, match="qat: unknown field 'per_channel'"):
        read_plan(path)


def test_a_plan_of_an_older_version_asks_to_write_it_again(tmp_path, saved_plan):
    write_plan({TARGET: saved_plan}, tmp_path / "plan.json")
    doc = json.loads((tmp_path / "plan.json").read_text())
    doc["plan_version"] = 1
    (tmp_path / "plan.json").write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match="plan version 1.*plan --save"):
        read_plan(tmp_path / "plan.json")


def test_build_with_a_typo_in_the_plan_exits_2_before_training(tmp_path, saved_plan, digits_paths):
    from edge_sdk.cli import main

    path = _edited(tmp_path, saved_plan, "prune-channels50-qat-int8", lambda c: c["steps"][0].update(technique="pruen"))
    code = main(["build", "--model", str(digits_paths["model"]), "--target", TARGET, "--calibration",
                 str(digits_paths["calibration"]), "--plan", path, "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 2
    assert not (tmp_path / "out" / TARGET).exists()
