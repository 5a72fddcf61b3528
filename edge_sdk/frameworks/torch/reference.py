"""Running an ExportedProgram on numpy inputs: the reference outputs every torch artifact is compared
with, and the chunked predict loop the ExecuTorch and Core ML runners share."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from edge_sdk import deps
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.frameworks.torch.graph import batch_range


def example_batch(model: LoadedModel) -> int:
    """Batch size the program was exported with; a dynamic batch dim reports 0."""
    return 0 if model.inputs[0].shape[0] is None else int(model.inputs[0].shape[0])


def predict(
    fn: Any, arrays: Sequence[np.ndarray], static_batch: int = 0, chunk: int = 64, min_batch: int = 1
) -> list[np.ndarray]:
    """Run `fn(*tensors)` over arrays in chunks; a static batch (or a chunk smaller than `min_batch`)
    is filled with zeros and cut back."""
    torch = deps.torch()
    n = len(arrays[0])
    size = static_batch or chunk
    least = static_batch or min_batch
    outs: list[list[np.ndarray]] = []
    with torch.no_grad():
        for start in range(0, n, size):
            parts = [np.asarray(a[start : start + size]) for a in arrays]
            real = len(parts[0])
            if real < least:
                parts = [np.concatenate([p, np.zeros((least - real, *p.shape[1:]), p.dtype)]) for p in parts]
            res = fn(*[torch.from_numpy(np.ascontiguousarray(p)) for p in parts])
            res = res if isinstance(res, (tuple, list)) else (res,)
            outs.append([r.detach().numpy()[:real] for r in res])
    return [np.concatenate([o[i] for o in outs]) for i in range(len(outs[0]))]


def run_eager(model: LoadedModel, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Outputs of the (exported) model on numpy inputs, in batches the program accepts."""
    lo, hi = batch_range(model)
    if lo == hi:
        return predict(model.handle.module(), arrays, lo)
    return predict(model.handle.module(), arrays, chunk=min(64, hi or 64), min_batch=max(1, lo))


def run(model: LoadedModel, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The reference runner: float32 outputs of the original program."""
    return [np.asarray(o, dtype=np.float32) for o in run_eager(model, list(inputs.values()))]
