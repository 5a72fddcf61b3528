"""What an artifact says about itself (issue 16, point 8): class labels, input normalisation, and the
name, version, author, license and description a release needs.

It comes from `--labels FILE`, `--input-mean`, `--input-std` or edge-sdk.yaml (`labels: labels.txt`,
`input: {mean, std}`, `metadata: {name, version, author, license, description}`), is checked against the model
before any work (a label per class of the classification output; one mean/std per input channel or one
for all), and each exporter writes what its format can hold: MODEL_CARD.md and labels.txt for every
target, `model_data.h` constants for TFLite Micro, the package's description fields for Core ML.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from edge_sdk.errors import ConfigError

TEXT_FIELDS = ("name", "version", "author", "license", "description")


@dataclass(frozen=True)
class ArtifactMetadata:
    name: str = ""  # default: the model file's stem; also names the artifact files (`file_stem`)
    version: str = ""
    author: str = ""
    license: str = ""
    description: str = ""
    labels: tuple[str, ...] = ()  # one per class of the classification output, in index order
    labels_file: str = ""  # where the labels came from (for messages)
    input_mean: tuple[float, ...] = ()  # the app feeds (x - mean) / std; one value, or one per channel
    input_std: tuple[float, ...] = ()

    @property
    def file_stem(self) -> str:
        """The artifact files' name without suffix (`emotion_cnn.tflite`): the name with anything but
        letters, digits, '_' and '-' replaced by '_', so it is safe in a shell, a C build and an Xcode
        project (which makes a Swift class of a package's name); `model` when there is no name."""
        return re.sub(r"[^A-Za-z0-9_-]+", "_", self.name).strip("_-") or "model"

    def to_dict(self) -> dict:
        """For report.json and the build cache's key (labels_file is where they came from, not content)."""
        d = asdict(self)
        d.pop("labels_file")
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def read_labels(path: str | Path) -> tuple[str, ...]:
    """One label per non-empty line of a UTF-8 text file (the format TFLite's and Core ML's tools read)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"labels file {path}: cannot read it as UTF-8 text ({exc.__class__.__name__}); "
                          "give one label per line") from None
    labels = tuple(line.strip() for line in text.splitlines() if line.strip())
    if not labels:
        raise ConfigError(f"labels file {path}: no labels; give one label per line, in class-index order")
    return labels


def parse_floats(value: Any, field: str, *, positive: bool = False) -> tuple[float, ...]:
    """`127.5`, `"0.485,0.456,0.406"` or a list: finite floats (> 0 for a std)."""
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, (list, tuple)) else [value]
    try:
        numbers = tuple(float(v) for v in items)
    except (TypeError, ValueError):
        raise ConfigError(f"{field} {value!r}: give a number or comma-separated numbers, one per input channel") from None
    if not numbers or not all(math.isfinite(v) and (v > 0 or not positive) for v in numbers):
        need = "finite numbers > 0" if positive else "finite numbers"
        raise ConfigError(f"{field} {value!r}: give {need}, one per input channel or one for all")
    return numbers


def from_user(labels: str | Path | None = None, input_mean: Any = None, input_std: Any = None,
              fields: Mapping[str, Any] | None = None) -> ArtifactMetadata:
    """The metadata given by flags, edge-sdk.yaml or the Python API (each value checked on its own)."""
    fields = dict(fields or {})
    unknown = sorted(set(fields) - set(TEXT_FIELDS))
    if unknown:
        raise ConfigError(f"metadata: unknown key(s) {', '.join(unknown)}; valid: {', '.join(TEXT_FIELDS)}")
    if (input_mean is None) != (input_std is None):
        raise ConfigError("input normalisation needs both a mean and a std (--input-mean and --input-std)")
    return ArtifactMetadata(
        **{k: str(v) for k, v in fields.items() if v is not None},
        labels=read_labels(labels) if labels is not None else (),
        labels_file=str(labels or ""),
        input_mean=parse_floats(input_mean, "--input-mean") if input_mean is not None else (),
        input_std=parse_floats(input_std, "--input-std", positive=True) if input_std is not None else (),
    )


def from_mapping(given: "ArtifactMetadata | Mapping[str, Any] | None") -> ArtifactMetadata:
    """The Python API's `build(metadata=...)`: an ArtifactMetadata, or a mapping with `labels` (a file),
    `input_mean`, `input_std` and the release fields."""
    if given is None or isinstance(given, ArtifactMetadata):
        return given or ArtifactMetadata()
    if not isinstance(given, Mapping):
        raise ConfigError(f"metadata: expected a mapping (labels, input_mean, input_std, {', '.join(TEXT_FIELDS)}), "
                          f"got {type(given).__name__}")
    rest = {k: v for k, v in given.items() if k not in ("labels", "input_mean", "input_std")}
    return from_user(given.get("labels"), given.get("input_mean"), given.get("input_std"), rest)


def checked_against(metadata: ArtifactMetadata, info: Any, kinds: Mapping[str, str], model_name: str) -> ArtifactMetadata:
    """`metadata` with its name defaulted, once the labels and normalisation fit the model (else exit 2)."""
    if metadata.labels:
        sizes = [spec.shape[-1] for spec in info.outputs if kinds.get(spec.name) == "classification" and spec.shape]
        if not sizes:
            raise ConfigError(f"labels file {metadata.labels_file}: the model has no classification output to label "
                              f"(outputs: {', '.join(f'{s.name} {list(s.shape)}' for s in info.outputs)})")
        if len(metadata.labels) != sizes[0]:
            raise ConfigError(f"labels file {metadata.labels_file}: {len(metadata.labels)} labels, but the classification "
                              f"output has {sizes[0]} classes; give one label per class, in index order")
    if metadata.input_mean:
        shape = info.inputs[0].shape
        channels = {shape[-1], shape[1]} if len(shape) >= 3 else {shape[-1]}
        for field, values in (("--input-mean", metadata.input_mean), ("--input-std", metadata.input_std)):
            if len(values) != 1 and len(values) not in channels:
                raise ConfigError(f"{field}: {len(values)} values, but input {info.inputs[0].name!r} {list(shape)} has "
                                  f"{' or '.join(str(c) for c in sorted(c for c in channels if c))} channels; give one "
                                  "per channel or one for all")
    return replace(metadata, name=metadata.name or model_name)
