"""Model loading: the frontend of the model's framework (edge_sdk.frameworks), chosen from the file's
format (never from trust).

    load_model(path_or_model, trust_model=False) -> LoadedModel
    analyze(loaded) -> ModelInfo

Formats: Keras 3 `.keras` (bridged to tf_keras), tf_keras `.keras`/`.h5`, TensorFlow SavedModel dirs,
PyTorch `.pt2` (torch.export.save), `.tflite` (inspect/bench only). In-memory tf_keras / Keras 3
models, `torch.export.ExportedProgram`s and `(nn.Module, example_inputs)` pairs are accepted too.
The frontends are looked up inside the functions: they import `edge_sdk.contracts.model` themselves.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from edge_sdk.errors import ModelLoadError
from edge_sdk.contracts.model import LayerInfo, LoadedModel, ModelInfo, TensorSpec

__all__ = ["LayerInfo", "LoadedModel", "ModelInfo", "TensorSpec", "analyze", "detect_format", "load_model", "file_sha256"]


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


def _frontends() -> list:
    from edge_sdk.frameworks import FRONTENDS

    return [FRONTENDS.get(name) for name in FRONTENDS.names()]


def _claiming(path: Path) -> Any:
    """The frontend that claims `path` (by suffix, or as a directory)."""
    frontends = _frontends()
    for frontend in frontends:
        if frontend.claims_path(path):
            return frontend
    what = "a directory" if path.is_dir() else path.suffix or "(no suffix)"
    expected = [f.accepts for f in frontends]
    raise ModelLoadError(
        f"{path}: unknown model format {what}; expected {', '.join(expected[:-1])} or {expected[-1]}"
    )


def detect_format(path: Path) -> str:
    """keras3 | tf_keras | h5 | savedmodel | pt2 | tflite, from content, not only the suffix."""
    return _claiming(path).detect(path)


def load_model(model: Any, *, trust_model: bool = False, example_inputs: Any = None) -> LoadedModel:
    """Load a model file or wrap an in-memory model."""
    if not isinstance(model, (str, Path)):
        return _wrap_in_memory(model, example_inputs)
    path = Path(model)
    if not path.exists():
        raise ModelLoadError(f"model file {path} does not exist")
    frontend = _claiming(path)
    fmt = frontend.detect(path)
    loaded = frontend.load(path, fmt, trust_model)
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
    for frontend in _frontends():
        if frontend.claims is not None and frontend.claims(model):
            return frontend.wrap(model, example_inputs)
    raise ModelLoadError(
        f"cannot use an in-memory {type(model).__name__}; pass a tf_keras/Keras 3 model, a torch.export "
        "ExportedProgram, an nn.Module with example_inputs, or a model file path"
    )


def analyze(model: LoadedModel) -> ModelInfo:
    """Per-layer ops, shapes, params, MACs, activation memory and runtime op names."""
    from edge_sdk.frameworks import FRONTENDS

    return FRONTENDS.get(model.framework).analyze(model)
