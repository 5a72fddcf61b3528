"""Keras models in the build cache: stored as `.h5` (TFMOT's QAT layers do not reload from `.keras`).

An entry holding a Lambda layer is never deserialised (that would run code from the file): `load`
raises, and the cache recomputes the step instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge_sdk import deps
from edge_sdk.frameworks.keras.loading import CODE_LAYERS, iter_layer_configs

FILE = "model.h5"


def save(handle: Any, path: Path) -> None:
    handle.save(path, include_optimizer=False)


def load(path: Path) -> Any:
    _refuse_code_layers(path)
    tf_keras, tfmot = deps.tf_keras(), deps.tfmot()
    # TFMOT wrappers (QAT, pruning, clustering) are custom classes: register them for deserialisation.
    with tfmot.quantization.keras.quantize_scope(), tfmot.sparsity.keras.prune_scope(), tfmot.clustering.keras.cluster_scope():
        return tf_keras.models.load_model(path, compile=False)


def _refuse_code_layers(path: Path) -> None:
    """Never deserialise a Lambda (marshalled code) from a cache entry: such entries are recomputed."""
    with deps.module("h5py").File(path, "r") as f:
        raw = f.attrs["model_config"]
    config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    found = [layer.get("class_name") for layer in iter_layer_configs(config) if layer.get("class_name") in CODE_LAYERS]
    if found:
        raise ValueError(f"cached model holds code layers ({', '.join(found)}); not loaded")
