"""A Core ML package's own description (issue 16, point 8): what Xcode's model viewer and
`MLModel.modelDescription` show - short description, author, version, license, each input's and output's
meaning - plus the labels and normalisation in its user-defined metadata, where an app reads them.

Not done here: an image input (`ct.ImageType`) and `classifier_config`, which change the model's
interface (a CVPixelBuffer in, a dictionary out) and with it what our Linux verification can simulate.
"""

from __future__ import annotations

import json
from typing import Any

from edge_sdk import __version__
from edge_sdk.artifact_metadata import ArtifactMetadata


CONVERSION_DATE = "com.github.apple.coremltools.conversion_date"


def _joined(values: tuple[float, ...]) -> str:
    return ", ".join(f"{v:g}" for v in values)


def describe(mlmodel: Any, metadata: ArtifactMetadata, profile_name: str) -> None:
    """Fill `mlmodel`'s description fields in place (deterministic: no dates)."""
    mlmodel.short_description = metadata.description or f"{metadata.name}, built by edge-sdk {__version__} for {profile_name}"
    mlmodel.author = metadata.author
    mlmodel.license = metadata.license
    mlmodel.version = metadata.version
    spec = mlmodel.get_spec()
    for i, feature in enumerate(spec.description.input):
        text = f"model input {i}"
        if metadata.input_mean:
            text += f": feed (x - mean) / std with mean [{_joined(metadata.input_mean)}], std [{_joined(metadata.input_std)}]"
        mlmodel.input_description[feature.name] = text
    for i, feature in enumerate(spec.description.output):
        text = f"model output {i}"
        if metadata.labels and i == 0:
            text += f": scores over {len(metadata.labels)} classes, labels in the metadata 'labels' (index order)"
        mlmodel.output_description[feature.name] = text
    # coremltools stamps the day of conversion: the same build on another day would differ in bytes
    mlmodel.user_defined_metadata.pop(CONVERSION_DATE, None)
    if metadata.labels:
        mlmodel.user_defined_metadata["labels"] = json.dumps(list(metadata.labels), ensure_ascii=False)
    if metadata.input_mean:
        mlmodel.user_defined_metadata["input_mean"] = json.dumps(list(metadata.input_mean))
        mlmodel.user_defined_metadata["input_std"] = json.dumps(list(metadata.input_std))
