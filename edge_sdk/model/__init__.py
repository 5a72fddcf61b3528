"""Model loading: one frontend per framework, chosen from the file's format (never from trust).

    load_model(path_or_model, trust_model=False) -> LoadedModel
    analyze(loaded) -> ModelInfo

Formats: Keras 3 `.keras` (bridged to tf_keras), tf_keras `.keras`/`.h5`, TensorFlow SavedModel dirs,
PyTorch `.pt2` (torch.export.save), `.tflite` (inspect/bench only). In-memory tf_keras / Keras 3
models, `torch.export.ExportedProgram`s and `(nn.Module, example_inputs)` pairs are accepted too.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from edge_sdk.errors import ModelLoadError
from edge_sdk.model.types import LayerInfo, LoadedModel, ModelInfo, TensorSpec

__all__ = ["LayerInfo", "LoadedModel", "ModelInfo", "TensorSpec", "analyze", "load_model", "file_sha256"]


def file_sha256(path: Path) -> str:
    """sha256 of a file, or of a directory's files (sorted by relative path) for SavedModel/mlpackage."""
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode())
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def detect_format(path: Path) -> str:
    """keras3 | tf_keras | h5 | savedmodel | pt2 | tflite, from content, not only the suffix."""
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return "savedmodel"
        raise ModelLoadError(f"{path}: a directory but not a SavedModel (no saved_model.pb inside)")
    suffix = path.suffix.lower()
    with path.open("rb") as fh:
        head = fh.read(8)
    if suffix == ".keras":
        from edge_sdk.model.keras import keras_file_version

        return "keras3" if keras_file_version(path).startswith("3") else "tf_keras"
    if suffix in (".h5", ".hdf5"):
        if head[:8] != b"\x89HDF\r\n\x1a\n":
            raise ModelLoadError(f"{path}: not an HDF5 file (corrupt or wrong suffix)")
        return "h5"
    if suffix == ".pt2":
        return "pt2"
    if suffix == ".tflite":
        if head[4:8] != b"TFL3":
            raise ModelLoadError(f"{path}: not a TFLite flatbuffer (no TFL3 identifier; corrupt or wrong suffix)")
        return "tflite"
    if suffix in (".pt", ".pth", ".pkl", ".pickle", ".bin"):
        raise ModelLoadError(
            f"{path}: pickled PyTorch files are not loaded; save the model with torch.export.save(ep, 'model.pt2')"
        )
    raise ModelLoadError(
        f"{path}: unknown model format {suffix or '(no suffix)'}; expected .keras, .h5, a SavedModel dir, .pt2 or .tflite"
    )


def load_model(model: Any, *, trust_model: bool = False, example_inputs: Any = None) -> LoadedModel:
    """Load a model file or wrap an in-memory model."""
    if not isinstance(model, (str, Path)):
        return _wrap_in_memory(model, example_inputs)
    path = Path(model)
    if not path.exists():
        raise ModelLoadError(f"model file {path} does not exist")
    fmt = detect_format(path)
    if fmt in ("keras3", "tf_keras", "h5", "savedmodel"):
        from edge_sdk.model import keras

        loaded = keras.load(path, fmt, trust_model=trust_model)
    elif fmt == "pt2":
        from edge_sdk.model import torch as torch_frontend

        loaded = torch_frontend.load(path, trust_model=trust_model)
    else:
        from edge_sdk.model import tflite

        loaded = tflite.load(path)
    return LoadedModel(
        framework=loaded.framework,
        handle=loaded.handle,
        inputs=loaded.inputs,
        outputs=loaded.outputs,
        source_format=fmt,
        path=path,
        sha256=file_sha256(path),
        bridged_from=loaded.bridged_from,
        example_inputs=loaded.example_inputs,
    )


def _wrap_in_memory(model: Any, example_inputs: Any) -> LoadedModel:
    module = type(model).__module__
    if module.startswith(("tf_keras", "keras")):
        from edge_sdk.model import keras

        return keras.wrap(model)
    if module.startswith("torch") or (isinstance(model, tuple) and len(model) == 2):
        from edge_sdk.model import torch as torch_frontend

        return torch_frontend.wrap(model, example_inputs)
    if hasattr(model, "parameters") and hasattr(model, "forward"):
        from edge_sdk.model import torch as torch_frontend

        return torch_frontend.wrap(model, example_inputs)
    raise ModelLoadError(
        f"cannot use an in-memory {type(model).__name__}; pass a tf_keras/Keras 3 model, a torch.export "
        "ExportedProgram, an nn.Module with example_inputs, or a model file path"
    )


def analyze(model: LoadedModel) -> ModelInfo:
    """Per-layer ops, shapes, params, MACs, activation memory and runtime op names."""
    from edge_sdk.model import analysis

    return analysis.analyze(model)
