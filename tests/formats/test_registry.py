"""The format registry: one Format per folder under the name users type, the frameworks that produce
each, and the hooks the planner reads (fast: nothing is exported)."""

from __future__ import annotations

import pytest

from edge_sdk.errors import EdgeSDKError
from edge_sdk.formats import FORMATS, producible_formats
from edge_sdk.profiles import get_profile


def test_every_folder_is_registered_under_its_name():
    assert {"tflite", "tflm", "coreml", "pte", "pte-coreml"} <= set(FORMATS.names())
    for name in ("tflite", "tflm", "coreml", "pte", "pte-coreml", "onnx"):
        assert FORMATS.get(name).name == name


def test_unknown_format_lists_the_valid_names():
    with pytest.raises(EdgeSDKError, match=r"unknown format 'tensorrt'; valid: coreml, .*tflite, tflm"):
        FORMATS.get("tensorrt")


def test_producible_formats_come_from_each_formats_frameworks():
    producible = producible_formats()
    assert producible["keras"] == ("coreml", "onnx", "tflite", "tflm")
    assert producible["torch"] == ("coreml", "onnx", "pte", "pte-coreml")
    assert producible["tflite"] == ("tflite", "tflm")


def test_core_ml_joint_compression_needs_ios18():
    ios = get_profile("ios")
    ios18 = ios.model_copy(update={"runtime": ios.runtime.model_copy(update={"constraints": {"minimum_deployment_target": "iOS18"}})})
    coreml = FORMATS.get("coreml")
    assert "sparse-palettize4" not in coreml.weight_compressions(ios)
    assert "sparse-palettize4" in coreml.weight_compressions(ios18)
    assert FORMATS.get("tflite").weight_compressions(ios18) == ()
