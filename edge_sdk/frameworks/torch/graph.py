"""Moving between a torch `LoadedModel` (an ExportedProgram) and the trainable graph module that
torch techniques work on, and back, keeping the program's dynamic batch dimension.

Why: pt2e quantization, pruning and distillation all edit or train `ep.module()`; the result must be
exported again so the next step (or the ExecuTorch exporter) gets an ExportedProgram like the input.

The batch the program accepts is the user's: a static program (what `torch.export` gives by default,
often batch 1) only ever sees batches of its exported size, and its graph module guards that
(`Guard failed: x.size()[0] == 1`); a dynamic one accepts the range of its batch symbol, e.g.
`Dim("batch", max=256)`. Techniques feed chunks of what `batch_range` allows (`chunks`), and the
re-export keeps the program's own batch: static stays static, a dynamic range is re-declared exactly
(never narrowed, never widened past what the graph was traced for).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np

from edge_sdk import deps
from edge_sdk.data import Dataset, load_dataset
from edge_sdk.errors import ConfigError, ExportError, first_line
from edge_sdk.frameworks.torch.loading import from_program
from edge_sdk.contracts.model import LoadedModel

QUANT_NAMESPACE = "quantized_decomposed"


def require_torch(model: LoadedModel, technique: str) -> None:
    if model.framework != "torch":
        raise ConfigError(
            f"the PyTorch {technique} works on PyTorch (.pt2) models; got a {model.framework} model "
            "(apply_step runs the implementation of the model's framework)"
        )


def batch_range(model: LoadedModel) -> tuple[int, int | None]:
    """(smallest, largest) batch the program accepts: (b, b) for a static batch b; for a dynamic one
    the range of its batch symbol (largest None when unbounded)."""
    dims = [s.shape[0] for s in model.inputs]
    static = [d for d in dims if d is not None]
    if not any(d is None for d in dims):
        return static[0], static[0]
    ep = model.handle
    nodes = {n.name: n for n in ep.graph.nodes}
    name = next(n for n, s in zip(ep.graph_signature.user_inputs, model.inputs) if s.shape[0] is None)
    symbol = nodes[name].meta["val"].shape[0]
    bounds = ep.range_constraints.get(getattr(getattr(symbol, "node", None), "expr", None))
    if bounds is None:
        return 1, None
    # torch's integer infinity (int_oo) claims is_finite, so unboundedness is tested by name too
    unbounded = bounds.upper.is_finite is False or type(bounds.upper).__name__ == "IntInfinity"
    upper = None if unbounded else int(bounds.upper)
    return int(bounds.lower), upper


def chunks(indices: np.ndarray, accepted: tuple[int, int | None], wanted: int) -> list[np.ndarray]:
    """`indices` in chunks the program accepts: `wanted` long, clamped to the accepted range, the last
    one topped up to the smallest accepted batch with indices from the start (real samples, repeated)."""
    lo, hi = max(1, accepted[0]), accepted[1]
    size = max(lo, wanted if hi is None else min(wanted, hi))
    parts = [indices[i : i + size] for i in range(0, len(indices), size)]
    if parts and len(parts[-1]) < lo:
        parts[-1] = np.resize(np.concatenate([parts[-1], indices]), lo)
    return parts


def dynamic_shapes(model: LoadedModel) -> tuple | None:
    """torch.export dynamic_shapes that keep each input's batch dim dynamic, over the program's own
    range, when the program had one."""
    if all(s.shape[0] is not None for s in model.inputs):
        return None
    torch = deps.torch()
    lo, hi = batch_range(model)
    batch = torch.export.Dim("batch", min=lo) if hi is None else torch.export.Dim("batch", min=lo, max=hi)
    return tuple({0: batch} if s.shape[0] is None else None for s in model.inputs)


def reexport(module: Any, model: LoadedModel, example: tuple | None = None, *, static: bool = False) -> LoadedModel:
    """Export `module` (a graph module made from `model`) again; a new LoadedModel like `model`."""
    torch = deps.torch()
    example = tuple(model.example_inputs if example is None else example)
    try:
        ep = torch.export.export(module, example, dynamic_shapes=None if static else dynamic_shapes(model))
    except Exception as exc:  # noqa: BLE001 - export raises many types
        first = first_line(exc)
        raise ExportError(f"the compressed model cannot be exported again with torch.export: {first}") from exc
    loaded = from_program(ep)
    return dataclasses.replace(model, handle=ep, inputs=loaded.inputs, outputs=loaded.outputs, example_inputs=loaded.example_inputs)


def module_copy(model: LoadedModel) -> Any:
    """An independent graph module of the program. `ep.module()` shares the program's weight tensors,
    so training or editing it in place would change the caller's model (and the teacher)."""
    return copy.deepcopy(model.handle.module())


def deploy_example(model: LoadedModel) -> tuple:
    """Example inputs for a deployed program: the smallest batch it accepts (one sample unless its
    range starts higher) when the batch is dynamic, else as exported."""
    dynamic = any(s.shape[0] is None for s in model.inputs)
    first = max(1, batch_range(model)[0])
    return tuple(x[:first] for x in model.example_inputs) if dynamic else tuple(model.example_inputs)


def is_quantized(ep: Any) -> bool:
    """True when the program holds pt2e quantize/dequantize nodes (ptq or qat ran)."""
    return any(n.op == "call_function" and QUANT_NAMESPACE in str(n.target) for n in ep.graph.nodes)


def tensors(arrays: list[np.ndarray]) -> list[Any]:
    torch = deps.torch()
    return [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]


def checked(dataset: Dataset, model: LoadedModel, purpose: str, max_samples: int | None = None) -> Dataset:
    """The data validated against the model's inputs (DataError naming both shapes on a mismatch)."""
    return load_dataset(dataset, model.inputs, max_samples=max_samples, purpose=purpose)
