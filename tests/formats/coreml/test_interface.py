"""A Core ML package's app-facing interface (issue 16, point 8): an image classifier with a known
normalisation gets an image input (Core ML applies the normalisation) and, with labels, a classifier
(`classLabel` plus a label -> probability dictionary). Verified up to what Linux can do: the package's
spec and program are read back, the structural checks compare them with what the exporter declared,
and the simulation still measures the numerics; prediction itself needs macOS."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from edge_sdk.artifact_metadata import ArtifactMetadata
from edge_sdk.formats import FORMATS, ExportConfig
from edge_sdk.formats.coreml.interface import pixels, scores, spec_color
from edge_sdk.formats.coreml.runner import structural_checks
from edge_sdk.formats.coreml.weights import load_program
from edge_sdk.verify import check, verify

pytestmark = pytest.mark.slow

LABELS = tuple(f"digit {i}" for i in range(10))


def _export(loaded, profile, out, metadata, kinds=None):
    kinds = kinds or {loaded.outputs[0].name: "classification"}
    return FORMATS.get("coreml")(loaded, profile, ExportConfig(precision="float16", metadata=metadata, output_kinds=kinds), out)


def test_a_keras_image_classifier_takes_an_image_and_names_its_class(digits_loaded, ios_profile, digits_eval, tmp_path):
    metadata = ArtifactMetadata(labels=LABELS, input_mean=(8.0,), input_std=(16.0,))
    artifact = _export(digits_loaded, ios_profile, tmp_path, metadata)
    spec, program = load_program(artifact.path)
    (image,) = spec.description.input
    assert image.type.WhichOneof("Type") == "imageType"
    assert (image.type.imageType.height, image.type.imageType.width, spec_color(image.type.imageType)) == (8, 8, "GRAYSCALE")
    assert spec.description.predictedFeatureName == "classLabel"
    assert spec.description.predictedProbabilitiesName == "probs"  # keeps the output layer's name
    assert {o.name: o.type.WhichOneof("Type") for o in spec.description.output} == {"classLabel": "stringType", "probs": "dictionaryType"}
    classify = [op for op in program.functions["main"].operations if op.op_type == "classify"]
    assert list(classify[0].inputs["classes"].val) == list(LABELS)
    assert artifact.details["inputs"][0]["image"] == {"color": "GRAYSCALE", "height": 8, "width": 8, "scale": 1 / 16, "bias": [-0.5]}
    checks = structural_checks(artifact)
    assert checks["problems"] == [] and checks["outputs"] == ["probs"]
    # the simulation still runs the model on what the package computes after its preprocessing
    v = check(verify(artifact, digits_loaded, digits_eval, {digits_loaded.outputs[0].name: "classification"}))
    assert v.method == "simulated" and v.fidelity.outputs[0].metrics["top1_agreement"] >= 0.99
    # a package whose scale or labels differ from what the exporter declared is caught
    tampered = dataclasses.replace(artifact, details={**artifact.details, "inputs": [
        {**artifact.details["inputs"][0], "image": {**artifact.details["inputs"][0]["image"], "scale": 1 / 255}}],
        "classifier": {"label_output": "classLabel", "labels": 9}})
    found = structural_checks(tampered)["problems"]
    assert any("scaled by 0.0625" in p for p in found) and any("10 labels, declared 9" in p for p in found), found


def test_without_labels_or_with_per_channel_stds_the_interface_stays_arrays(digits_loaded, ios_profile, tmp_path):
    plain = _export(digits_loaded, ios_profile, tmp_path / "plain", ArtifactMetadata())
    spec, _ = load_program(plain.path)
    assert spec.description.input[0].type.WhichOneof("Type") == "multiArrayType" and not spec.description.predictedFeatureName
    regression = _export(digits_loaded, ios_profile, tmp_path / "regression", ArtifactMetadata(input_mean=(0.0,), input_std=(1.0,)),
                         {digits_loaded.outputs[0].name: "regression"})
    assert load_program(regression.path)[0].description.input[0].type.WhichOneof("Type") == "multiArrayType"


def test_a_torch_rgb_classifier_gets_a_channels_first_image_input(ios_profile, tmp_path):
    import torch

    from edge_sdk.model import load_model

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                              torch.nn.Linear(4, 3), torch.nn.Softmax(dim=-1)).eval()
    model = load_model(torch.export.export(net, (torch.randn(1, 3, 16, 12),)))
    metadata = ArtifactMetadata(labels=("cat", "dog", "bird"), input_mean=(123.7, 116.3, 103.5), input_std=(58.4,))
    artifact = _export(model, ios_profile, tmp_path, metadata)
    spec, _ = load_program(artifact.path)
    image = spec.description.input[0].type.imageType
    assert (image.height, image.width, spec_color(image)) == (16, 12, "RGB")
    assert spec.description.predictedFeatureName == "classLabel"
    assert structural_checks(artifact)["problems"] == []
    assert artifact.details["inputs"][0]["image"]["bias"] == pytest.approx([-123.7 / 58.4, -116.3 / 58.4, -103.5 / 58.4])


def test_differing_channel_stds_keep_the_array_input_and_say_why(ios_profile, tmp_path):
    import torch

    from edge_sdk.model import load_model

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.Flatten(), torch.nn.Linear(2 * 6 * 6, 2), torch.nn.Softmax(dim=-1)).eval()
    model = load_model(torch.export.export(net, (torch.randn(1, 3, 8, 8),)))
    metadata = ArtifactMetadata(input_mean=(0.485, 0.456, 0.406), input_std=(0.229, 0.224, 0.225))
    artifact = _export(model, ios_profile, tmp_path, metadata)
    spec, _ = load_program(artifact.path)
    assert spec.description.input[0].type.WhichOneof("Type") == "multiArrayType"
    assert "image scale is one number for every channel" in spec.description.metadata.shortDescription


def test_macos_prediction_feeds_pixels_and_reads_scores_in_label_order():
    """What `predict` (macOS only) does around MLModel.predict, checked here without Core ML."""
    declared = {"image": {"color": "RGB", "height": 2, "width": 3, "scale": 1 / 58.4, "bias": [-2.0, -1.0, 0.0]}}
    rgb = np.arange(18, dtype=np.float64).reshape(2, 3, 3) * 10  # HWC pixels
    normalised = rgb / 58.4 + np.asarray(declared["image"]["bias"])
    assert np.array_equal(pixels(normalised, declared), rgb.astype(np.uint8))
    assert np.array_equal(pixels(np.moveaxis(normalised, -1, 0), declared), rgb.astype(np.uint8))  # CHW (torch)
    assert np.array_equal(scores({"b": 0.25, "a": 0.75}, ["a", "b"]), np.asarray([[0.75, 0.25]], dtype=np.float32))


def test_the_ios_harness_gets_an_image_sample_as_pixels(digits_loaded, ios_profile, digits_eval, tmp_path):
    """`bench --inputs` on iOS (up to the Xcode boundary): an image input's sample goes into the bundle as
    the uint8 pixels Core ML normalises back to it, and Benchmark.swift makes a pixel buffer of them."""
    from edge_sdk.devices import BenchConfig, ios
    from edge_sdk.devices.harness import emit

    metadata = ArtifactMetadata(labels=LABELS, input_mean=(0.0,), input_std=(255.0,))  # digits: pixel / 255
    out = tmp_path / "iphone-15-pro"
    artifact = _export(digits_loaded, ios_profile, out, metadata)
    harness = emit(ios_profile, artifact, out)
    sample = tmp_path / "eval.npz"
    np.savez(sample, input_0=digits_eval.inputs["image"][:1])  # the one-sample file `bench` makes of --inputs
    ios.stage_inputs(harness, artifact, BenchConfig(inputs=sample))
    bundled = harness / ios.INPUTS_DIR
    manifest = json.loads((bundled / "manifest.json").read_text())
    assert manifest["inputs"][0] | {"file": None} == {"name": "image", "file": None, "dtype": "uint8", "shape": [8, 8], "bytes": 64}
    expected = np.clip(np.rint(digits_eval.inputs["image"][0, ..., 0] * 255), 0, 255).astype(np.uint8)
    assert (bundled / manifest["inputs"][0]["file"]).read_bytes() == expected.tobytes()
    swift = (harness / "Sources/EdgeBenchKit/Benchmark.swift").read_text()
    assert "if let image = description.imageConstraint {" in swift and "CVPixelBufferCreate(" in swift
