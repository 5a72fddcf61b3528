"""TFLite exporter on the digits example, verified on LiteRT."""

from __future__ import annotations

import hashlib

import pytest

from edge_sdk.formats import FORMATS, ExportConfig
from edge_sdk.verify import check, verify

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def int8_artifact(digits_loaded, android_profile, digits_calibration, tmp_path_factory):
    out = tmp_path_factory.mktemp("tflite_int8")
    config = ExportConfig(precision="int8", io_dtype="int8", calibration=digits_calibration)
    return FORMATS.get("tflite")(digits_loaded, android_profile, config, out), config, out


def test_int8_verified_on_litert(int8_artifact, digits_loaded, digits_eval):
    artifact, _, out = int8_artifact
    assert artifact.path == out / "model.tflite" and artifact.path.read_bytes()[4:8] == b"TFL3"
    assert artifact.details["input_dtype"] == "int8" and artifact.details["output_dtype"] == "int8"
    assert artifact.bytes == artifact.path.stat().st_size
    assert artifact.sha256 == hashlib.sha256(artifact.path.read_bytes()).hexdigest()
    assert 0 < artifact.gzip_bytes < artifact.bytes
    assert {"tensorflow", "ai-edge-litert", "edge-sdk"} <= set(artifact.tool_versions)
    assert [p.name for p in out.iterdir()] == ["model.tflite"]  # no staging dir left behind
    v = check(verify(artifact, digits_loaded, digits_eval))
    assert v.runtime == "litert" and v.method == "executed" and v.samples == len(digits_eval)
    assert v.fidelity.top1_agreement >= 0.98
    assert v.accuracy is not None and v.accuracy.drop < 2.0


def test_deterministic(int8_artifact, digits_loaded, android_profile, tmp_path):
    artifact, config, _ = int8_artifact
    again = FORMATS.get("tflite")(digits_loaded, android_profile, config, tmp_path)
    assert again.sha256 == artifact.sha256 and again.gzip_bytes == artifact.gzip_bytes


@pytest.mark.parametrize("precision", ["float32", "float16", "dynamic-int8", "int16x8"])
def test_other_precisions_verified(precision, digits_loaded, android_profile, digits_calibration, digits_eval, tmp_path):
    config = ExportConfig(precision=precision, calibration=digits_calibration)
    artifact = FORMATS.get("tflite")(digits_loaded, android_profile, config, tmp_path)
    v = verify(artifact, digits_loaded, digits_eval.head(120))
    assert v.passed, v.reason
    assert v.fidelity.outputs[0].metrics["top1_agreement"] >= 0.97


def test_float_export_is_bigger_than_int8(int8_artifact, digits_loaded, android_profile, tmp_path):
    artifact = FORMATS.get("tflite")(digits_loaded, android_profile, ExportConfig(precision="float32"), tmp_path)
    assert artifact.bytes > 3 * int8_artifact[0].bytes
