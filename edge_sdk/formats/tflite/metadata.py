"""TFLite Metadata in a .tflite (issue 16, point 8): what Android Studio's model viewer, the TFLite Task
Library and the codegen read - name, version, author, license, description, each input's normalisation,
each output's kind, and the classification output's labels.

Written with the official schema's generated bindings (edge_sdk/third_party/tflite_metadata) the way
tflite-support's MetadataPopulator writes it: a `TFLITE_METADATA` entry of the model whose buffer holds
the `M001` metadata flatbuffer, and the associated labels file packed as a zip after the model (the
flatbuffer ignores trailing bytes; the Task Library opens them as a zip). Deterministic: the zip has
fixed dates and no compression.
"""

from __future__ import annotations

import io
import zipfile
from typing import Mapping

import numpy as np

from edge_sdk import __version__
from edge_sdk.artifact_metadata import ArtifactMetadata
from edge_sdk.formats.common.flatbuffer import model_object, pack

METADATA_NAME = b"TFLITE_METADATA"
LABELS_FILE = "labels.txt"
MIN_PARSER_VERSION = "1.0.0"  # every field written here is in the schema's first version


def with_metadata(flatbuffer: bytes, metadata: ArtifactMetadata, output_kinds: Mapping[str, str] | None,
                  profile_name: str) -> bytes:
    """`flatbuffer` with its TFLite Metadata (replacing any earlier one) and the labels zip appended."""
    from edge_sdk.deps import tflite_micro

    schema = tflite_micro().runtime.schema_fb
    model = model_object(flatbuffer)
    blob = np.frombuffer(_metadata_flatbuffer(model, metadata, dict(output_kinds or {}), profile_name), dtype=np.uint8)
    buffer = schema.BufferT()
    buffer.data = blob
    entries = [m for m in (model.metadata or []) if m.name == METADATA_NAME]
    if entries:
        model.buffers[entries[0].buffer] = buffer
    else:
        entry = schema.MetadataT()
        entry.name, entry.buffer = METADATA_NAME, len(model.buffers)
        model.buffers.append(buffer)
        model.metadata = [*(model.metadata or []), entry]
    packed = pack(model)
    return _with_labels_zip(packed, metadata.labels) if metadata.labels else packed


def _model_output_of(model, names: list[str]) -> list[int]:
    """For each output of the flatbuffer's main subgraph, the index of the model output it is: the
    converter may order a multi-output model's outputs differently (its signature names them)."""
    sub = model.subgraphs[0]
    positional = list(range(len(sub.outputs)))
    signature = (model.signatureDefs or [None])[0]
    if len(names) != len(sub.outputs) or len(names) < 2 or not (signature and signature.outputs):
        return positional
    by_tensor = {m.tensorIndex: m.name.decode() for m in signature.outputs}
    found = [[i for i, n in enumerate(names) if by_tensor.get(t) in (n, n.split("/")[0])] for t in sub.outputs]
    order = [match[0] for match in found if len(match) == 1]
    return order if sorted(order) == positional else positional


def _metadata_flatbuffer(model, metadata: ArtifactMetadata, output_kinds: dict[str, str], profile_name: str) -> bytes:
    import flatbuffers

    from edge_sdk.third_party.tflite_metadata import schema

    sub = model.subgraphs[0]
    kinds = list(output_kinds.values())
    which = _model_output_of(model, list(output_kinds))
    labelled = kinds.index("classification") if metadata.labels and "classification" in kinds else None
    graph = schema.SubGraphMetadataT()
    graph.inputTensorMetadata = [_input(schema, sub.tensors[t], i, metadata) for i, t in enumerate(sub.inputs)]
    graph.outputTensorMetadata = [
        _output(schema, sub.tensors[t], i, kinds[j] if j < len(kinds) else "", len(metadata.labels) if j == labelled else 0)
        for i, (t, j) in enumerate(zip(sub.outputs, which))]
    root = schema.ModelMetadataT()
    root.name = metadata.name or "model"
    root.description = metadata.description or f"{root.name}, built by edge-sdk {__version__} for {profile_name}"
    root.version, root.author, root.license = metadata.version or None, metadata.author or None, metadata.license or None
    root.subgraphMetadata = [graph]
    root.minParserVersion = MIN_PARSER_VERSION
    builder = flatbuffers.Builder(1024)
    builder.Finish(root.Pack(builder), b"M001")
    return bytes(builder.Output())


def _content(schema, image: bool, color_space: int = 0):
    content = schema.ContentT()
    if image:
        content.contentPropertiesType = schema.ContentProperties.ImageProperties
        content.contentProperties = schema.ImagePropertiesT()
        content.contentProperties.colorSpace = color_space
    else:
        content.contentPropertiesType = schema.ContentProperties.FeatureProperties
        content.contentProperties = schema.FeaturePropertiesT()
    return content


def _input(schema, tensor, index: int, metadata: ArtifactMetadata):
    """An NHWC input with 1 or 3 channels and a known normalisation is an image (what the Task Library's
    image APIs require); any other input is a feature tensor."""
    meta = schema.TensorMetadataT()
    meta.name = tensor.name.decode()
    shape = [int(d) for d in tensor.shape]
    channels = shape[-1] if len(shape) == 4 else 0
    image = bool(metadata.input_mean) and index == 0 and channels in (1, 3)
    meta.content = _content(schema, image, {1: schema.ColorSpaceType.GRAYSCALE, 3: schema.ColorSpaceType.RGB}.get(channels, 0))
    meta.description = f"input {index}, shape {shape}"
    if metadata.input_mean and index == 0:
        options = schema.NormalizationOptionsT()
        options.mean, options.std = list(metadata.input_mean), list(metadata.input_std)
        unit = schema.ProcessUnitT()
        unit.optionsType, unit.options = schema.ProcessUnitOptions.NormalizationOptions, options
        meta.processUnits = [unit]
        meta.description += "; feed (x - mean) / std"
    return meta


def _output(schema, tensor, index: int, kind: str, labels: int):
    """The output's kind leads its description ("classification output 0, ..."); the labelled
    classification output names the packed labels file (TENSOR_AXIS_LABELS, as the Task Library reads)."""
    meta = schema.TensorMetadataT()
    meta.name = tensor.name.decode()
    meta.content = _content(schema, image=False)
    meta.description = f"{kind or 'model'} output {index}, shape {[int(d) for d in tensor.shape]}"
    if labels:
        file = schema.AssociatedFileT()
        file.name, file.type = LABELS_FILE, schema.AssociatedFileType.TENSOR_AXIS_LABELS
        file.description = "one label per class, in index order"
        meta.associatedFiles = [file]
        meta.description += f"; {labels} classes labelled in {LABELS_FILE}"
    return meta


def _with_labels_zip(flatbuffer: bytes, labels: tuple[str, ...]) -> bytes:
    """The associated files as tflite-support packs them: a zip appended to the flatbuffer (offsets
    counted from the file's start, as zip readers expect), byte-stable."""
    data = io.BytesIO(flatbuffer)
    with zipfile.ZipFile(data, "a", zipfile.ZIP_STORED) as archive:
        info = zipfile.ZipInfo(LABELS_FILE, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        archive.writestr(info, "".join(f"{label}\n" for label in labels))
    return data.getvalue()
