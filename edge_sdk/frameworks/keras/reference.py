"""Reference outputs of the original tf_keras model (what every artifact is compared with)."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_sdk.contracts.model import LoadedModel

BATCH = 64


def run(model: LoadedModel, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Eager calls batch by batch rather than `predict`: `predict` traces a tf.function first, which on
    a verification-sized set (hundreds of samples) costs more than the inference (0.35 s vs 0.1 s on
    digits), and the outputs are the same."""
    return keras_outputs(model.handle, inputs)


def keras_outputs(keras_model: Any, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The float outputs of a tf_keras model, in model order."""
    arrays = list(inputs.values())
    count = len(arrays[0])
    batches = []
    for start in range(0, count, BATCH):
        chunk = [a[start : start + BATCH] for a in arrays]
        out = keras_model(chunk[0] if len(chunk) == 1 else chunk, training=False)
        batches.append([np.asarray(o, dtype=np.float32) for o in (out if isinstance(out, (list, tuple)) else [out])])
    return [np.concatenate(parts) for parts in zip(*batches)]
