"""Labels, input normalisation and release fields the artifacts carry (issue 16, point 8): parsed and
checked against the model before any work, written by each format that can hold them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge_sdk.artifact_metadata import checked_against, from_user, read_labels
from edge_sdk.errors import ConfigError

from .conftest import DIGITS_CALIBRATION, DIGITS_MODEL, ROOT

DIGITS = [f"digit {i}" for i in range(10)]


@pytest.fixture
def labels_file(tmp_path) -> Path:
    path = tmp_path / "labels.txt"
    path.write_text("\n".join(DIGITS) + "\n\n")
    return path


def test_labels_are_non_empty_lines_and_bad_files_are_refused(labels_file, tmp_path):
    assert read_labels(labels_file) == tuple(DIGITS)
    (tmp_path / "empty.txt").write_text("\n \n")
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00")
    for bad, why in ((tmp_path / "empty.txt", "no labels"), (tmp_path / "binary.txt", "UTF-8"), (tmp_path / "no.txt", "cannot read")):
        with pytest.raises(ConfigError, match=why):
            read_labels(bad)


@pytest.mark.parametrize("mean, std, why", [
    ("0.5", None, "both a mean and a std"), ("a,b", "1", "comma-separated numbers"), ("nan", "1", "finite"),
    ("0", "0", "> 0"), ("0", "-1,1,1", "> 0"), ("0", "inf", "> 0"),
])
def test_bad_normalisation_values_are_refused(mean, std, why):
    with pytest.raises(ConfigError, match=why):
        from_user(input_mean=mean, input_std=std)


def test_unknown_release_fields_are_refused():
    with pytest.raises(ConfigError, match="valid: name, version, author, license, description"):
        from_user(fields={"verison": "1.0"})


def test_labels_and_channels_must_fit_the_model(digits_loaded, labels_file, tmp_path):
    from edge_sdk.model import analyze
    from edge_sdk.model.tasks import output_kinds

    info = analyze(digits_loaded)
    kinds = output_kinds(info)
    fitted = checked_against(from_user(labels=labels_file, input_mean="0", input_std="255"), info, kinds, "digits")
    assert fitted.name == "digits" and fitted.labels == tuple(DIGITS) and fitted.input_std == (255.0,)
    (tmp_path / "three.txt").write_text("a\nb\nc\n")
    with pytest.raises(ConfigError, match="3 labels, but the classification output has 10 classes"):
        checked_against(from_user(labels=tmp_path / "three.txt"), info, kinds, "digits")
    with pytest.raises(ConfigError, match="no classification output"):
        checked_against(from_user(labels=labels_file), info, {k: "regression" for k in kinds}, "digits")
    with pytest.raises(ConfigError, match="--input-mean: 3 values"):  # the digits input has 1 channel
        checked_against(from_user(input_mean="0,0,0", input_std="1"), info, kinds, "digits")


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge_sdk.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=900)


def test_a_wrong_label_count_is_exit_2_in_one_line_before_any_work(tmp_path):
    (tmp_path / "three.txt").write_text("a\nb\nc\n")
    proc = _cli("build", "--model", str(DIGITS_MODEL), "--calibration", str(DIGITS_CALIBRATION), "--target", "cortex-m",
                "--out", str(tmp_path / "out"), "--labels", str(tmp_path / "three.txt"))
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "three.txt" in lines[0] and "10 classes" in lines[0], proc.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.slow
def test_a_project_s_labels_normalisation_and_release_fields_reach_every_artifact(labels_file, tmp_path):
    """edge-sdk.yaml `labels`, `input: {mean, std}` and `metadata:`: labels.txt and MODEL_CARD.md in every
    OUT/<profile>/, report.json `metadata`, model_data.h constants (TFLM), the Core ML package's fields."""
    project = tmp_path / "edge-sdk.yaml"
    project.write_text(
        f"model: {DIGITS_MODEL}\ncalibration: {DIGITS_CALIBRATION}\nlabels: labels.txt\n"
        "input: {mean: 0, std: 255}\nmetadata: {name: Digits v1.2 (8x8), version: '1.2.0', author: Edge Team, "
        "license: Apache-2.0}\ntargets: [cortex-m, ios, android]\nout: out\n")
    proc = _cli("build", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for profile, suffix in (("stm32f746-disco", ".tflite"), ("iphone-15-pro", ".mlpackage"), ("pixel-8", ".tflite")):
        here = tmp_path / "out" / profile
        report = json.loads((here / "report.json").read_text())
        # the artifact is named after the model, made safe for a shell, a C build and Xcode
        assert report["artifacts"][0]["path"] == f"Digits_v1_2_8x8{suffix}" and (here / f"Digits_v1_2_8x8{suffix}").exists()
        assert report["metadata"]["labels"] == DIGITS and report["metadata"]["version"] == "1.2.0"
        assert (here / "labels.txt").read_text().splitlines() == DIGITS
        assert "labels.txt" in (here / "SHA256SUMS").read_text()
        card = (here / "MODEL_CARD.md").read_text()
        assert "Version: 1.2.0" in card and "Author: Edge Team" in card and "digit 9" in card and "std [255.0]" in card
    header = (tmp_path / "out" / "stm32f746-disco" / "model_data.h").read_text()
    assert 'kLabels[kLabelCount] = {"digit 0", "digit 1"' in header and "kInputStd[] = {255.0f};" in header
    import coremltools as ct

    package = ct.models.MLModel(str(tmp_path / "out" / "iphone-15-pro" / "Digits_v1_2_8x8.mlpackage"), skip_model_load=True)
    assert (package.author, package.license, package.version) == ("Edge Team", "Apache-2.0", "1.2.0")
    assert json.loads(package.user_defined_metadata["labels"]) == DIGITS
    assert "std [255]" in package.get_spec().description.input[0].shortDescription
    assert "com.github.apple.coremltools.conversion_date" not in package.user_defined_metadata  # same bytes another day
    from edge_sdk.devices.artifact import resolve_target

    assert resolve_target(tmp_path / "out" / "pixel-8").artifact.path.name == "Digits_v1_2_8x8.tflite"


def test_artifact_file_names_are_safe_and_default_to_model():
    from edge_sdk.artifact_metadata import ArtifactMetadata

    assert ArtifactMetadata(name="emotion_cnn-v2").file_stem == "emotion_cnn-v2"
    assert ArtifactMetadata(name="my model.v2 (final)").file_stem == "my_model_v2_final"
    assert ArtifactMetadata(name="../../etc/passwd").file_stem == "etc_passwd"
    assert ArtifactMetadata(name="").file_stem == ArtifactMetadata(name="...").file_stem == "model"


def test_the_python_api_takes_a_mapping(labels_file):
    from edge_sdk.artifact_metadata import from_mapping

    given = from_mapping({"labels": labels_file, "input_mean": [0.5], "input_std": 0.25, "version": "2.0"})
    assert given.labels == tuple(DIGITS) and given.input_mean == (0.5,) and given.input_std == (0.25,) and given.version == "2.0"
    with pytest.raises(ConfigError, match="expected a mapping"):
        from_mapping(["labels.txt"])
    with pytest.raises(ConfigError, match="unknown key"):
        from_mapping({"lables": labels_file})


def test_hostile_normalisation_values_and_label_files_give_values_or_one_line_errors(tmp_path):
    """Property-based, as tests/test_hostile_inputs.py: any flag text, any label file bytes."""
    import math

    from hypothesis import given, settings
    from hypothesis import strategies as st

    texts = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(max_size=12),
                      st.sampled_from(["nan", "inf", "-0", "1e400", "0,0,0", ",", "1,,2", "0x10", "1_0"]))

    @settings(max_examples=60, deadline=None, derandomize=True, database=None)
    @given(mean=texts, std=texts, raw=st.binary(max_size=200))
    def check(mean: str, std: str, raw: bytes) -> None:
        try:
            given_metadata = from_user(input_mean=mean, input_std=std)
        except ConfigError as exc:
            assert "\n" not in str(exc)
        else:
            assert all(math.isfinite(v) for v in given_metadata.input_mean + given_metadata.input_std)
            assert all(v > 0 for v in given_metadata.input_std)
        path = tmp_path / "labels.txt"
        path.write_bytes(raw)
        try:
            labels = read_labels(path)
        except ConfigError as exc:
            assert "\n" not in str(exc) and "labels.txt" in str(exc)
        else:
            assert labels and all(label == label.strip() and label for label in labels)

    check()
