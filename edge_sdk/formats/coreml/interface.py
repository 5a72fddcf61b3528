"""A Core ML package's interface as an app sees it (issue 16, point 8): an image input when the model is
an image classifier with a known normalisation, and `classifier_config` with the labels.

- Image input (`ct.ImageType`): the app passes a CVPixelBuffer / CGImage and Core ML computes
  `pixel * scale + bias` before the model, with scale = 1 / std and bias = -mean / std, so the model
  sees `(pixel - mean) / std` as it was trained. Taken when the first output is a classification, there
  is one 4-D input with 1 (grayscale) or 3 (RGB) channels, and `--input-mean/--input-std` are given.
  Core ML's image scale is one number for every channel, so a per-channel std that differs between
  channels keeps the multi-array input (the description says so); mean and std are in pixel units
  (0-255), as Core ML and TFLite's NormalizationOptions apply them.
- Classifier (`ct.ClassifierConfig`): with `--labels` and a single classification output the package
  predicts `classLabel` (the top label) and the output keeps its name as a label -> probability
  dictionary.

The Linux simulation is unchanged by either: it runs the original model on the normalised inputs,
which is what the package computes after its preprocessing; the structural checks (runner.py) check
the image size, colour space, scale and bias and the classifier's labels in the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from edge_sdk.artifact_metadata import ArtifactMetadata
from edge_sdk.contracts.model import LoadedModel

CLASS_LABEL = "classLabel"


@dataclass(frozen=True)
class ImageInput:
    name: str
    shape: tuple[int, ...]  # with the batch of 1, in the model's layout (NHWC Keras, NCHW torch)
    color: str  # "GRAYSCALE" | "RGB"
    scale: float
    bias: tuple[float, ...]  # one per channel
    height: int
    width: int

    def to_dict(self) -> dict:
        """For the artifact's details (`problems` compares the package against it)."""
        return {"color": self.color, "height": self.height, "width": self.width, "scale": self.scale, "bias": list(self.bias)}


@dataclass(frozen=True)
class Interface:
    image: ImageInput | None = None
    labels: tuple[str, ...] = ()  # non-empty: the package is a classifier
    notes: tuple[str, ...] = ()  # why an image input or classifier was not made, for the description


def interface_for(model: LoadedModel, metadata: ArtifactMetadata, output_kinds: Mapping[str, str] | None) -> Interface:
    kinds = list((output_kinds or {}).values())
    if not kinds or kinds[0] != "classification":
        return Interface()
    labels = metadata.labels if len(kinds) == 1 else ()
    notes = ["no classifier: Core ML's classifier takes a single output"] if metadata.labels and not labels else []
    image, why = _image_input(model, metadata)
    return Interface(image, labels, tuple(notes + ([why] if why else [])))


def _image_input(model: LoadedModel, metadata: ArtifactMetadata) -> tuple[ImageInput | None, str]:
    if not metadata.input_mean or len(model.inputs) != 1:
        return None, ""
    spec = model.inputs[0]
    shape = (1,) + tuple(spec.sample_shape())
    if len(shape) != 4:
        return None, ""
    channels_first = model.framework == "torch"
    channels = shape[1] if channels_first else shape[-1]
    height, width = shape[2:4] if channels_first else shape[1:3]
    if channels not in (1, 3):
        return None, ""
    if len(set(metadata.input_std)) != 1:
        return None, ("multi-array input, not an image: Core ML's image scale is one number for every channel, "
                      f"and the std differs per channel ({', '.join(f'{s:g}' for s in metadata.input_std)})")
    std = metadata.input_std[0]
    means = metadata.input_mean * channels if len(metadata.input_mean) == 1 else metadata.input_mean
    return ImageInput(spec.name, shape, "RGB" if channels == 3 else "GRAYSCALE", 1.0 / std,
                      tuple(0.0 - m / std for m in means), height, width), ""


def convert_arguments(ct: Any, interface: Interface) -> dict:
    """ct.convert's `inputs` (the image input, when there is one) and `classifier_config`."""
    args: dict = {}
    if interface.image is not None:
        image = interface.image
        args["inputs"] = [ct.ImageType(name=image.name, shape=image.shape, scale=image.scale, bias=list(image.bias),
                                       color_layout=getattr(ct.colorlayout, image.color),
                                       channel_first=None)]
    if interface.labels:
        args["classifier_config"] = ct.ClassifierConfig(list(interface.labels), predicted_feature_name=CLASS_LABEL)
    return args


def problems(spec: Any, program: Any, declared: dict) -> list[str]:
    """Where the package's image input or classifier differs from what the exporter declared."""
    found = []
    image_inputs = {i["name"]: i["image"] for i in declared.get("inputs", []) if "image" in i}
    for feature in spec.description.input:
        if feature.type.WhichOneof("Type") != "imageType":
            continue
        want = image_inputs.get(feature.name)
        got = feature.type.imageType
        color = spec_color(got)
        if want is None or (got.height, got.width, color) != (want["height"], want["width"], want["color"]):
            found.append(f"image input {feature.name} is {got.height}x{got.width} {color}, declared {want}")
            continue
        scale, bias = _preprocessing(program, feature.name)
        if abs(scale - want["scale"]) > 1e-6 * abs(want["scale"]) or any(abs(b - w) > 1e-5 for b, w in zip(bias, want["bias"])):
            found.append(f"image input {feature.name} is scaled by {scale} + {bias}, declared {want['scale']} + {want['bias']}")
    classifier = declared.get("classifier")
    label = spec.description.predictedFeatureName
    if classifier and label != classifier["label_output"]:
        found.append(f"classifier label output {label!r}, declared {classifier['label_output']!r}")
    if classifier:
        classify = [op for op in program.functions["main"].operations if op.op_type == "classify"]
        classes = len(classify[0].inputs["classes"].val) if classify else 0
        if classes != classifier["labels"]:
            found.append(f"classifier has {classes} labels, declared {classifier['labels']}")
    return found


def image_inputs(package: Any) -> dict[str, dict]:
    """Each image input of a saved package as the exporter declares it (colour, size, scale, bias), read
    from the package itself: what turns a sample into the pixels Core ML normalises back to it."""
    from edge_sdk.formats.coreml.weights import load_program

    spec, program = load_program(package)
    found = {}
    for feature in spec.description.input:
        if feature.type.WhichOneof("Type") == "imageType":
            image = feature.type.imageType
            scale, bias = _preprocessing(program, feature.name)
            color = spec_color(image)
            bias = bias * (3 if color == "RGB" and len(bias) == 1 else 1)
            found[feature.name] = {"image": {"color": color, "height": image.height, "width": image.width,
                                             "scale": scale, "bias": bias}}
    return found


def spec_color(image_type: Any) -> str:
    from coremltools.proto import FeatureTypes_pb2

    return FeatureTypes_pb2.ImageFeatureType.ColorSpace.Name(image_type.colorSpace)


def _preprocessing(program: Any, name: str) -> tuple[float, list[float]]:
    """The `mul` (scale) and `add` (bias) coremltools puts after an image input (1.0 and zeros if absent)."""
    scale, bias, current = 1.0, [0.0], name
    for op in program.functions["main"].operations:
        x = op.inputs.get("x")
        if x is None or x.name != current or op.op_type not in ("mul", "add"):
            continue
        value = np.asarray(op.inputs["y"].val, dtype=np.float64).ravel()
        if op.op_type == "mul":
            scale = float(value[0])
        else:
            bias = [float(v) for v in value]
        current = op.outputs[0].name
    return scale, bias


def pixels(sample: np.ndarray, declared: dict) -> np.ndarray:
    """The uint8 image (H, W) or (H, W, 3) whose Core ML preprocessing, pixel * scale + bias, gives the
    normalised `sample` (one sample in the model's layout: HWC Keras, CHW torch)."""
    image = declared["image"]
    hwc = sample if list(sample.shape[:2]) == [image["height"], image["width"]] else np.moveaxis(sample, 0, -1)
    values = (hwc - np.asarray(image["bias"], dtype=np.float64)) / image["scale"]
    values = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return values[..., 0] if image["color"] == "GRAYSCALE" else values


def scores(value, labels: list[str]) -> np.ndarray:
    """An output as a (1, ...) float32 array; a classifier's dictionary as its probabilities in label order."""
    if isinstance(value, dict):
        return np.asarray([[value[label] for label in labels]], dtype=np.float32)
    return np.asarray(value, dtype=np.float32)
