"""Keras frontend: tf_keras `.keras`/`.h5`, SavedModel dirs, and Keras 3 files (via the bridge).

Everything downstream (TFMOT, TFLiteConverter) works on tf_keras models, so a Keras 3 model is
translated into an equivalent tf_keras model by `bridge.py`. Files are scanned for Lambda layers and
custom classes *before* anything is deserialised; those run code from the file, so they are refused
unless the user passed `--trust-model`.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path
from typing import Any, Iterator

from edge_sdk import deps
from edge_sdk.errors import ModelLoadError
from edge_sdk.contracts.model import FrontendResult, LoadedModel, TensorSpec

CODE_LAYERS = {"Lambda", "TFOpLambda", "SlicingOpLambda"}
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def detect(path: Path) -> str:
    """keras3 | tf_keras | h5 | savedmodel, from the content, not only the suffix."""
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return "savedmodel"
        raise ModelLoadError(f"{path}: a directory but not a SavedModel (no saved_model.pb inside)")
    if path.suffix.lower() == ".keras":
        return "keras3" if keras_file_version(path).startswith("3") else "tf_keras"
    with path.open("rb") as fh:
        if fh.read(8) != HDF5_MAGIC:
            raise ModelLoadError(f"{path}: not an HDF5 file (corrupt or wrong suffix)")
    return "h5"


def keras_file_version(path: Path) -> str:
    """The keras_version recorded in a `.keras` zip ("3.x" for Keras 3, "2.x" for tf_keras)."""
    try:
        with zipfile.ZipFile(path) as zf:
            meta = json.loads(zf.read("metadata.json"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError) as exc:
        raise ModelLoadError(f"{path}: not a valid .keras archive ({exc.__class__.__name__}: {exc})") from exc
    return str(meta.get("keras_version", "3"))


def read_keras_config(path: Path) -> dict:
    try:
        with zipfile.ZipFile(path) as zf:
            return json.loads(zf.read("config.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError, zlib.error) as exc:
        raise ModelLoadError(f"{path}: not a valid .keras archive ({exc.__class__.__name__}: {_first_line(exc)})") from None


def _read_h5_config(path: Path) -> dict:
    h5py = deps.module("h5py")
    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
    except OSError as exc:
        raise ModelLoadError(f"{path}: corrupt HDF5 file ({exc})") from exc
    if raw is None:
        raise ModelLoadError(f"{path}: HDF5 file holds weights only (no model_config); save the whole model")
    try:
        return json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise ModelLoadError(f"{path}: corrupt model_config in the HDF5 file ({exc.__class__.__name__}); re-save the model") from None


def _read_savedmodel_config(path: Path) -> dict:
    """The model config tf_keras stores in a SavedModel's keras_metadata.pb (root node), for the scan."""
    metadata = deps.module("tf_keras.protobuf.saved_metadata_pb2").SavedMetadata()
    try:
        metadata.ParseFromString((path / "keras_metadata.pb").read_bytes())
        return next(json.loads(n.metadata) for n in metadata.nodes if n.node_path == "root")
    except (StopIteration, ValueError, OSError) as exc:
        raise ModelLoadError(f"{path}: corrupt keras_metadata.pb ({exc.__class__.__name__}); re-save the model") from exc


def iter_layer_configs(config: dict) -> Iterator[dict]:
    """Every layer config in a model config, nested models included."""
    inner = config.get("config", {})
    layers = inner.get("layers", []) if isinstance(inner, dict) else []
    for layer in layers:
        yield layer
        if isinstance(layer.get("config"), dict) and "layers" in layer["config"]:
            yield from iter_layer_configs(layer)


def untrusted_layers(config: dict, known: set[str]) -> list[tuple[str, str]]:
    """(layer name, class) of layers that execute code from the file: Lambdas and unknown/custom classes."""
    found = []
    for layer in iter_layer_configs(config):
        cls = layer.get("class_name", "")
        name = layer.get("config", {}).get("name", layer.get("name", "?"))
        custom = cls not in known or ">" in str(layer.get("registered_name") or "")  # "pkg>Class": user code
        if not _is_pure_tf_op(layer) and (cls in CODE_LAYERS or custom):
            found.append((name, cls))
    return found


# tf_keras records `x + 3.0`, `tf.nn.relu6(x)`, `x[:, 1]` in a functional graph as TFOpLambda /
# SlicingOpLambda layers naming a TensorFlow API symbol. Pure math on tensors runs no code from the file;
# anything else (tf.io, tf.py_function, ...) stays refused without --trust-model.
PURE_TF_OP_PREFIXES = ("__operators__.", "math.", "nn.", "image.resize")
PURE_TF_OPS = {
    "reshape", "transpose", "compat.v1.transpose", "concat", "expand_dims", "squeeze", "stack", "split",
    "clip_by_value", "cast", "identity", "pad", "compat.v1.pad", "tile", "broadcast_to", "gather",
    "linalg.matmul", "einsum", "reduce_mean", "reduce_sum", "reduce_max", "compat.v1.gather",
}  # fmt: skip


def _is_pure_tf_op(layer: dict) -> bool:
    if layer.get("class_name") not in ("TFOpLambda", "SlicingOpLambda"):
        return False
    function = layer.get("config", {}).get("function")
    return isinstance(function, str) and (function.startswith(PURE_TF_OP_PREFIXES) or function in PURE_TF_OPS)


def _refuse_untrusted(path: Path, config: dict, known: set[str], trust_model: bool) -> None:
    if trust_model:
        return
    bad = untrusted_layers(config, known)
    if bad:
        names = ", ".join(f"{n} ({c})" for n, c in bad[:5])
        raise ModelLoadError(
            f"{path}: layer {names} runs code stored in the model file; refused. "
            "Replace it with built-in layers, or pass --trust-model if you trust this file"
        )


def _known_tf_keras_classes() -> set[str]:
    tfk = deps.tf_keras()
    return {n for n in dir(tfk.layers) if n[:1].isupper()} | {"Sequential", "Functional", "Model"}


def _specs(tensors: list) -> tuple[TensorSpec, ...]:
    specs = []
    for i, t in enumerate(tensors):
        name = getattr(t, "name", f"input_{i}").split(":")[0]
        shape = tuple(None if d is None else int(d) for d in t.shape)
        specs.append(TensorSpec(name=name, shape=shape, dtype=str(t.dtype.name if hasattr(t.dtype, "name") else t.dtype)))
    return tuple(specs)


def _input_specs(model: Any) -> tuple[TensorSpec, ...]:
    """Input specs named by the Input layer names (what users name arrays in .npz files)."""
    names = list(getattr(model, "input_names", None) or [])
    specs = _specs(model.inputs)
    if len(names) == len(specs):
        specs = tuple(TensorSpec(n, s.shape, s.dtype) for n, s in zip(names, specs))
    return specs


def wrap_tf_keras(model: Any, bridged_from: str | None = None) -> FrontendResult:
    if not getattr(model, "built", True) or not model.inputs:
        raise ModelLoadError(f"model {model.name!r} is not built; call it on an input or give it an Input layer")
    return FrontendResult("keras", model, _input_specs(model), _specs(model.outputs), bridged_from)


def _stored_bytes(path: Path) -> int:
    """What the model file holds, uncompressed: a `.keras` zip's members, a SavedModel dir's files."""
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            return sum(info.file_size for info in zf.infolist())
    return path.stat().st_size


def _declared_params_at_least(layer: dict) -> int:
    """A lower bound on a layer's weight count from its config alone (its input size is unknown here):
    a Dense has at least `units` weights, a conv `filters`, an Embedding `input_dim * output_dim`."""
    cfg = layer.get("config") or {}
    sizes = [cfg.get(k) for k in ("units", "filters")]
    if layer.get("class_name") == "Embedding":
        sizes.append((cfg.get("input_dim") or 0) * (cfg.get("output_dim") or 0))
    return max((int(v) for v in sizes if isinstance(v, (int, float)) and v > 0), default=0)


def _refuse_oversized_layers(path: Path, config: dict) -> None:
    """A layer whose config alone implies more weights than the file holds bytes cannot be this file's
    (a corrupt or hand-edited config): refuse it before tf_keras builds it and allocates them all."""
    stored = _stored_bytes(path)
    for layer in iter_layer_configs(config):
        declared = _declared_params_at_least(layer)
        if declared > max(stored, 1 << 20):
            name = (layer.get("config") or {}).get("name", "?")
            raise ModelLoadError(
                f"{path}: layer {name!r} ({layer.get('class_name')}) declares at least {declared:,} weights, but the "
                f"file holds only {stored:,} bytes: its config and its weights disagree (a corrupt or edited file); "
                "re-save the model"
            )


def load(path: Path, fmt: str, *, trust_model: bool = False) -> FrontendResult:
    if fmt == "keras3":
        _refuse_oversized_layers(path, read_keras_config(path))
        from edge_sdk.frameworks.keras.bridge import load_keras3_file

        return wrap_tf_keras(load_keras3_file(path, trust_model=trust_model), bridged_from="keras3")
    from edge_sdk.frameworks.keras.translate import register_activations

    register_activations()  # a saved bridged model may use the bridge's Keras 3 activations
    tfk = deps.tf_keras()
    if fmt == "tf_keras":
        config = read_keras_config(path)
    elif fmt == "h5":
        config = _read_h5_config(path)
    elif (path / "keras_metadata.pb").is_file():
        config = _read_savedmodel_config(path)
    else:
        raise ModelLoadError(
            f"{path}: a plain TensorFlow SavedModel (no Keras metadata); compression needs the Keras model: "
            "save it with model.save('model.keras'), or convert it to .tflite for inspect/bench"
        )
    _refuse_untrusted(path, config, _known_tf_keras_classes(), trust_model)
    _refuse_oversized_layers(path, config)
    try:
        model = tfk.models.load_model(path, compile=False, safe_mode=not trust_model)
    except TypeError:  # SavedModel / h5 loaders take no safe_mode
        model = _load_quietly(tfk, path)
    except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise ModelLoadError(f"{path}: cannot load as a {fmt} model: {_first_line(exc)}") from exc
    return wrap_tf_keras(model)


def _load_quietly(tfk: Any, path: Path) -> Any:
    try:
        return tfk.models.load_model(path, compile=False)
    except (ValueError, OSError, KeyError, TypeError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise ModelLoadError(f"{path}: cannot load: {_first_line(exc)}") from exc


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


def is_keras_model(model: Any) -> bool:
    return type(model).__module__.startswith(("tf_keras", "keras"))


def wrap(model: Any) -> LoadedModel:
    """An in-memory tf_keras or Keras 3 model."""
    if type(model).__module__.startswith("keras"):
        from edge_sdk.frameworks.keras.bridge import bridge_model

        loaded = wrap_tf_keras(bridge_model(model), bridged_from="keras3")
    else:
        loaded = wrap_tf_keras(model)
    return LoadedModel(
        framework="keras",
        handle=loaded.handle,
        inputs=loaded.inputs,
        outputs=loaded.outputs,
        source_format="memory",
        bridged_from=loaded.bridged_from,
    )
