"""Reference outputs of the original PyTorch program (what every torch artifact is compared with)."""

from __future__ import annotations

import numpy as np

from edge_sdk.model.torch import run_eager
from edge_sdk.runtimes import register_reference


@register_reference("torch")
def run(model, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    return [np.asarray(o, dtype=np.float32) for o in run_eager(model, list(inputs.values()))]
