"""Reference runners: outputs of the ORIGINAL model (what every artifact is compared with), keyed by
`LoadedModel.framework`.

    @register_reference("keras")
    def run(model, inputs) -> list[np.ndarray]   # float outputs, model order

`verify.py` looks the runner up by `reference.framework`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from edge_sdk.model.torch import run_eager
from edge_sdk.registry import Registry

RunFn = Callable[..., list]
REFERENCES: Registry[RunFn] = Registry("reference framework")


def register_reference(framework: str):
    return REFERENCES.register(framework)


@register_reference("keras")
def run_keras(model, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Reference outputs of the original tf_keras model."""
    arrays = list(inputs.values())
    out = model.handle.predict(arrays[0] if len(arrays) == 1 else arrays, batch_size=64, verbose=0)
    return [np.asarray(o, dtype=np.float32) for o in (out if isinstance(out, (list, tuple)) else [out])]


@register_reference("torch")
def run_torch(model, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Reference outputs of the original PyTorch program."""
    return [np.asarray(o, dtype=np.float32) for o in run_eager(model, list(inputs.values()))]
