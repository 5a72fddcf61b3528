"""TFLite Metadata (issue 16, point 8): every .tflite carries the official schema's `TFLITE_METADATA`
(name, version, author, license, description, input normalisation, each output's kind) and the labels
packed as tflite-support packs them; read back here with the official generated reader."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from edge_sdk.artifact_metadata import ArtifactMetadata
from edge_sdk.formats import FORMATS, ExportConfig
from edge_sdk.formats.common.flatbuffer import model_object
from edge_sdk.formats.tflite.runner import run
from edge_sdk.third_party.tflite_metadata import schema

pytestmark = pytest.mark.slow

DIGITS = ArtifactMetadata(name="digits", version="2.1.0", author="Edge Team", license="Apache-2.0",
                          description="8x8 handwritten digits", labels=tuple(f"digit {i}" for i in range(10)),
                          input_mean=(0.5,), input_std=(0.25,))


def read_metadata(tflite: bytes):
    """The ModelMetadataT inside a .tflite, through the official generated reader."""
    model = model_object(tflite)
    entries = [m for m in model.metadata if m.name == b"TFLITE_METADATA"]
    assert len(entries) == 1, [m.name for m in model.metadata]
    blob = bytes(model.buffers[entries[0].buffer].data)
    assert schema.ModelMetadata.ModelMetadataBufferHasIdentifier(blob, 0)  # "M001"
    return schema.ModelMetadataT.InitFromObj(schema.ModelMetadata.GetRootAsModelMetadata(blob, 0))


def _export(loaded, profile, calibration, out, metadata, precision="int8"):
    config = ExportConfig(precision=precision, calibration=calibration, metadata=metadata,
                          output_kinds={loaded.outputs[0].name: "classification"})
    return FORMATS.get("tflite")(loaded, profile, config, out)


def test_the_official_reader_finds_every_field_and_the_packed_labels(digits_loaded, android_profile, digits_calibration,
                                                                     digits_eval, tmp_path):
    artifact = _export(digits_loaded, android_profile, digits_calibration, tmp_path / "a", DIGITS)
    tflite = artifact.path.read_bytes()
    meta = read_metadata(tflite)
    assert (meta.name, meta.version, meta.author, meta.license, meta.description) == (
        b"digits", b"2.1.0", b"Edge Team", b"Apache-2.0", b"8x8 handwritten digits")
    assert meta.minParserVersion == b"1.0.0"
    (graph,) = meta.subgraphMetadata
    (image,), (scores,) = graph.inputTensorMetadata, graph.outputTensorMetadata
    (unit,) = image.processUnits
    assert unit.optionsType == schema.ProcessUnitOptions.NormalizationOptions
    assert list(unit.options.mean) == [0.5] and list(unit.options.std) == [0.25]
    # an 8x8x1 input with a known normalisation is a grayscale image to the Task Library
    assert image.content.contentPropertiesType == schema.ContentProperties.ImageProperties
    assert image.content.contentProperties.colorSpace == schema.ColorSpaceType.GRAYSCALE
    assert scores.description.startswith(b"classification output 0")
    (labels,) = scores.associatedFiles
    assert (labels.name, labels.type) == (b"labels.txt", schema.AssociatedFileType.TENSOR_AXIS_LABELS)
    packed = zipfile.ZipFile(io.BytesIO(tflite))
    assert packed.read("labels.txt").decode().splitlines() == list(DIGITS.labels)
    assert packed.testzip() is None

    # the metadata changes nothing the runtime computes, and weights stay 16-byte aligned in the file
    bare = _export(digits_loaded, android_profile, digits_calibration, tmp_path / "b", ArtifactMetadata())
    inputs = {k: v[:32] for k, v in digits_eval.inputs.items()}
    assert all(np.array_equal(a, b) for a, b in zip(run(tflite, inputs, digits_loaded), run(bare.path.read_bytes(), inputs, digits_loaded)))
    assert data_offsets(tflite) and all(offset % 16 == 0 for offset in data_offsets(tflite))


def data_offsets(tflite: bytes) -> list[int]:
    """Where each non-empty buffer's data starts in the file (the reader's numpy views point into it)."""
    from edge_sdk import deps

    root = deps.tflite_micro().runtime.schema_fb.Model.GetRootAs(tflite, 0)
    base = np.frombuffer(tflite, np.uint8).ctypes.data
    views = (root.Buffers(i).DataAsNumpy() for i in range(root.BuffersLength()))
    return [view.ctypes.data - base for view in views if isinstance(view, np.ndarray) and view.size]


def test_without_user_metadata_the_model_still_says_what_it_is(digits_loaded, android_profile, tmp_path):
    artifact = _export(digits_loaded, android_profile, None, tmp_path, ArtifactMetadata(), precision="float32")
    meta = read_metadata(artifact.path.read_bytes())
    assert meta.name == b"model" and b"built by edge-sdk" in meta.description and b"for pixel-8" in meta.description
    (graph,) = meta.subgraphMetadata
    assert graph.inputTensorMetadata[0].processUnits is None
    assert graph.inputTensorMetadata[0].content.contentPropertiesType == schema.ContentProperties.FeatureProperties
    assert graph.outputTensorMetadata[0].associatedFiles is None
    assert not zipfile.is_zipfile(io.BytesIO(artifact.path.read_bytes()))


def test_same_inputs_give_the_same_bytes(digits_loaded, android_profile, digits_calibration, tmp_path):
    first = _export(digits_loaded, android_profile, digits_calibration, tmp_path / "1", DIGITS).path.read_bytes()
    second = _export(digits_loaded, android_profile, digits_calibration, tmp_path / "2", DIGITS).path.read_bytes()
    assert first == second


def test_each_output_s_kind_and_labels_follow_the_file_s_output_order(android_profile, tmp_path):
    """Outputs `z_boxes` then `a_scores`: the converter lists them by name (scores first), and the
    metadata describes the file's output tensors, so kinds and labels must follow the file's order."""
    from edge_sdk import deps
    from edge_sdk.model import analyze, load_model
    from edge_sdk.model.tasks import output_kinds

    keras = deps.tf_keras()
    image = keras.Input((12, 12, 3), name="image")
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(8, 3, activation="relu")(image))
    model = keras.Model(image, [keras.layers.Dense(4, name="z_boxes")(x),
                                keras.layers.Dense(2, activation="softmax", name="a_scores")(x)])
    loaded = load_model(model)
    kinds = output_kinds(analyze(loaded))
    assert list(kinds.values()) == ["detection", "classification"]
    config = ExportConfig(precision="float32", metadata=ArtifactMetadata(labels=("cat", "dog")), output_kinds=kinds)
    outputs = read_metadata(FORMATS.get("tflite")(loaded, android_profile, config, tmp_path).path.read_bytes())
    described = [o.description for o in outputs.subgraphMetadata[0].outputTensorMetadata]
    assert described[0].startswith(b"classification output 0, shape [1, 2]"), described
    assert described[1].startswith(b"detection output 1, shape [1, 4]"), described
    labelled = [o.associatedFiles is not None for o in outputs.subgraphMetadata[0].outputTensorMetadata]
    assert labelled == [True, False]
