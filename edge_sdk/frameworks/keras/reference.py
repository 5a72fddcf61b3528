"""Reference outputs of the original tf_keras model (what every artifact is compared with)."""

from __future__ import annotations

import numpy as np

from edge_sdk.contracts.model import LoadedModel


def run(model: LoadedModel, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    arrays = list(inputs.values())
    out = model.handle.predict(arrays[0] if len(arrays) == 1 else arrays, batch_size=64, verbose=0)
    return [np.asarray(o, dtype=np.float32) for o in (out if isinstance(out, (list, tuple)) else [out])]
