"""A Core ML package's own description (issue 16, point 8): what Xcode's model viewer and
`MLModel.modelDescription` show - short description, author, version, license, each input's and output's
meaning - plus the labels and normalisation in its user-defined metadata, where an app reads them.

The image input and the classifier (interface.py) are made at conversion; this describes them.
"""

from __future__ import annotations

import json
from typing import Any

from edge_sdk import __version__
from edge_sdk.artifact_metadata import ArtifactMetadata
from edge_sdk.formats.coreml.interface import Interface


CONVERSION_DATE = "com.github.apple.coremltools.conversion_date"


def _joined(values: tuple[float, ...]) -> str:
    return ", ".join(f"{v:g}" for v in values)


def describe(mlmodel: Any, metadata: ArtifactMetadata, profile_name: str, interface: Interface = Interface()) -> None:
    """Fill `mlmodel`'s description fields in place (deterministic: no dates)."""
    mlmodel.short_description = metadata.description or f"{metadata.name}, built by edge-sdk {__version__} for {profile_name}"
    mlmodel.author = metadata.author
    mlmodel.license = metadata.license
    mlmodel.version = metadata.version
    spec = mlmodel.get_spec()
    for i, feature in enumerate(spec.description.input):
        text = f"model input {i}"
        if interface.image is not None and feature.name == interface.image.name:
            text += (f": {interface.image.color.lower()} image; Core ML normalises it as (pixel - mean) / std with mean "
                     f"[{_joined(metadata.input_mean)}], std [{_joined(metadata.input_std)}]")
        elif metadata.input_mean:
            text += f": feed (x - mean) / std with mean [{_joined(metadata.input_mean)}], std [{_joined(metadata.input_std)}]"
        mlmodel.input_description[feature.name] = text
    label = spec.description.predictedFeatureName
    outputs = [f for f in spec.description.output if f.name != label]
    for i, feature in enumerate(outputs):
        text = f"model output {i}"
        if metadata.labels and i == 0:
            where = "label -> probability" if label else "labels in the metadata 'labels' (index order)"
            text += f": scores over {len(metadata.labels)} classes, {where}"
        mlmodel.output_description[feature.name] = text
    if label:
        mlmodel.output_description[label] = "the most likely class's label"
    if interface.notes:
        mlmodel.short_description += " (" + "; ".join(interface.notes) + ")"
    # coremltools stamps the day of conversion: the same build on another day would differ in bytes
    mlmodel.user_defined_metadata.pop(CONVERSION_DATE, None)
    if metadata.labels:
        mlmodel.user_defined_metadata["labels"] = json.dumps(list(metadata.labels), ensure_ascii=False)
    if metadata.input_mean:
        mlmodel.user_defined_metadata["input_mean"] = json.dumps(list(metadata.input_mean))
        mlmodel.user_defined_metadata["input_std"] = json.dumps(list(metadata.input_std))
