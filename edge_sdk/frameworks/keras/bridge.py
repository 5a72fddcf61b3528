"""Keras 3 -> tf_keras bridge: TFMOT and the TFLite converter path work on tf_keras models only.

A Keras 3 model is translated config-first: its serialized config is rewritten into the equivalent
tf_keras config (class names, renamed/removed arguments, dtype policies, initializer/regularizer/
constraint dicts, functional `inbound_nodes`, Sequential InputLayers, nested models), tf_keras builds
the model from it, and the weights are copied layer by layer. Layer names stay identical. The result
is checked against the original on a random input, so a silent semantic change cannot slip through.
This module scans, loads, copies the weights and checks; `translate.py` rewrites the config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from edge_sdk import deps
from edge_sdk.errors import ModelLoadError
from edge_sdk.frameworks.keras.loading import CODE_LAYERS, iter_layer_configs, read_keras_config
from edge_sdk.frameworks.keras.translate import MODEL_CLASSES, Translator, bridge_error

SELF_CHECK_ATOL = 1e-4


# ----------------------------------------------------------------------------------------- trust scan


def untrusted_keras3_layers(config: dict) -> list[tuple[str, str]]:
    """(layer, class) of layers that would run code from the file: Lambdas, python lambdas anywhere in a
    layer's config (e.g. as an activation), and classes defined outside the keras package."""
    found: list[tuple[str, str]] = []
    for layer in iter_layer_configs(config):
        name = layer.get("name") or layer.get("config", {}).get("name", "?")
        cls = layer.get("class_name", "?")
        if cls in CODE_LAYERS or not _is_keras_module(layer.get("module") or "keras"):
            found.append((name, cls))
        elif any(_is_code_object(obj) for obj in _walk(layer.get("config", {}), skip_layers=True)):
            found.append((name, cls))
    return found


def _walk(value: Any, skip_layers: bool = False) -> Iterator[dict]:
    if isinstance(value, dict):
        yield value
        for key, item in value.items():
            if not (skip_layers and key == "layers"):
                yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def _is_code_object(obj: dict) -> bool:
    if obj.get("class_name") == "__lambda__":
        return True
    module = obj.get("module")
    return "class_name" in obj and isinstance(module, str) and not _is_keras_module(module)


def _is_keras_module(module: str) -> bool:
    """Keras itself, not a package that merely starts with "keras" (keras_hub, keras_cv: their code)."""
    return module == "keras" or module.startswith("keras.")


# ------------------------------------------------------------------------------------------- loading


def load_keras3_file(path: Path, trust_model: bool = False) -> Any:
    """Load a Keras 3 `.keras` file (refusing code-carrying layers unless trusted) as a tf_keras model."""
    path = Path(path)
    config = read_keras_config(path)
    if not trust_model:
        bad = untrusted_keras3_layers(config)
        if bad:
            names = ", ".join(f"{n} ({c})" for n, c in bad[:5])
            raise ModelLoadError(
                f"{path}: layer {names} runs code stored in the model file; refused. "
                "Replace it with built-in layers, or pass --trust-model if you trust this file"
            )
    keras = deps.keras3()
    try:
        model = keras.saving.load_model(path, safe_mode=not trust_model, compile=False)
    except Exception as exc:  # Keras raises many types for bad files; all mean "cannot load this file"
        raise ModelLoadError(f"{path}: cannot load the Keras 3 model: {_one_line(exc)}") from exc
    return bridge_model(model, trust_model=trust_model)


def bridge_model(keras3_model: Any, trust_model: bool = True) -> Any:
    """An equivalent tf_keras model (same layer names, same weights, same outputs) for a Keras 3 model."""
    keras = deps.keras3()
    tfk = deps.tf_keras()
    serialized = keras.saving.serialize_keras_object(keras3_model)
    if serialized.get("class_name") not in MODEL_CLASSES or "layers" not in serialized.get("config", {}):
        raise bridge_error(keras3_model.name, type(keras3_model).__name__, "subclassed models have no config to "
                            "translate; rebuild it as a Functional or Sequential model")
    if not getattr(keras3_model, "built", False) or not getattr(keras3_model, "inputs", None):
        raise ModelLoadError(
            f"Keras 3 model {keras3_model.name!r} is not built; give it an Input layer or call it on data first"
        )
    translator = Translator(tfk, trust_model)
    tf_config = translator.model(serialized, keras3_model)
    try:
        with tfk.saving.custom_object_scope(translator.custom_objects):
            target = tfk.Sequential if tf_config["class_name"] == "Sequential" else tfk.Model
            tf_model = target.from_config(tf_config["config"])
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ModelLoadError(
            f"Keras 3 model {keras3_model.name!r}: tf_keras cannot rebuild it: {_one_line(exc)}"
        ) from exc
    _copy_weights(keras3_model, tf_model)
    _self_check(keras3_model, tf_model)
    return tf_model


def _one_line(exc: BaseException) -> str:
    lines = [s.strip() for s in str(exc).splitlines() if s.strip()]
    return lines[0] if lines else exc.__class__.__name__


# ------------------------------------------------------------------------------------------ weights


def _copy_weights(source: Any, target: Any) -> None:
    """Copy weights layer by layer (matched by name, recursing into nested models), checking shapes."""
    for layer in source.layers:
        try:
            twin = target.get_layer(layer.name)
        except ValueError:
            if layer.weights:
                raise bridge_error(layer.name, type(layer).__name__, "no tf_keras twin to receive its weights") from None
            continue
        if hasattr(layer, "layers") and hasattr(twin, "layers"):
            _copy_weights(layer, twin)
            continue
        values = layer.get_weights()
        expected = [tuple(w.shape) for w in twin.weights]
        got = [tuple(v.shape) for v in values]
        if got != expected:
            raise bridge_error(layer.name, type(layer).__name__, f"weight shapes {got} do not match tf_keras {expected}")
        if values:
            twin.set_weights(values)
            if hasattr(twin, "finalize_state"):  # Normalization caches tensors computed from its weights
                twin.finalize_state()


def _self_check(source: Any, target: Any) -> None:
    """Both models on one random input must agree; a translation that changed semantics fails here."""
    np = deps.module("numpy")
    rng = np.random.default_rng(0)
    feeds = []
    for tensor in source.inputs:
        shape = tuple(tensor.shape)
        if any(d is None for d in shape[1:]):
            return  # dynamic spatial dims: no single probe input; the weight copy is still shape-checked
        dtype = str(getattr(tensor.dtype, "name", tensor.dtype))
        sample = rng.standard_normal((2, *shape[1:])) if "float" in dtype else np.zeros((2, *shape[1:]))
        feeds.append(sample.astype(dtype))
    feed = feeds if len(feeds) > 1 else feeds[0]
    ref = [np.asarray(o) for o in _as_list(source(feed, training=False))]
    got = [np.asarray(o) for o in _as_list(target(feed, training=False))]
    worst = max((float(np.max(np.abs(r - g))) / max(1.0, float(np.max(np.abs(r)))) for r, g in zip(ref, got)), default=0.0)
    if len(ref) != len(got) or worst > SELF_CHECK_ATOL:
        raise ModelLoadError(
            f"Keras 3 model {source.name!r}: the bridged tf_keras model differs from the original "
            f"(relative max abs diff {worst:.3g}); please report this model's layers"
        )


def _as_list(value: Any) -> list:
    if isinstance(value, dict):
        return list(value.values())
    return list(value) if isinstance(value, (list, tuple)) else [value]
