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
from edge_sdk.frameworks.torch.loading import dynamic_dims, from_program
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
    batch = next(d[0] for d in dynamic_dims(model.handle) if 0 in d)
    return batch[1], batch[2]


def chunks(indices: np.ndarray, accepted: tuple[int, int | None], wanted: int) -> list[np.ndarray]:
    """`indices` in chunks the program accepts: `wanted` long, clamped to the accepted range, the last
    one topped up to the smallest accepted batch with indices from the start (real samples, repeated)."""
    lo, hi = max(1, accepted[0]), accepted[1]
    size = max(lo, wanted if hi is None else min(wanted, hi))
    parts = [indices[i : i + size] for i in range(0, len(indices), size)]
    if parts and len(parts[-1]) < lo:
        parts[-1] = np.resize(np.concatenate([parts[-1], indices]), lo)
    return parts


def dynamic_shapes(model: LoadedModel, *, batch: bool = True) -> tuple | None:
    """torch.export dynamic_shapes that keep every dim the program left dynamic (its batch unless
    `batch` is False, a sequence length) over the program's own range; dims sharing a symbol share a Dim."""
    torch = deps.torch()
    made: dict[str, Any] = {}

    def dim(index: int, symbol: str, lo: int, hi: int | None) -> Any:
        if symbol not in made:
            name = "batch" if index == 0 else "dim_" + "".join(c if c.isalnum() else "_" for c in symbol)
            made[symbol] = torch.export.Dim(name, min=lo) if hi is None else torch.export.Dim(name, min=lo, max=hi)
        return made[symbol]

    shapes = tuple({i: dim(i, *found) for i, found in dims.items() if batch or i != 0} or None
                   for dims in dynamic_dims(model.handle))
    return shapes if any(shapes) else None


def reexport(module: Any, model: LoadedModel, example: tuple | None = None, *, static: bool = False) -> LoadedModel:
    """Export `module` (a graph module made from `model`) again; a new LoadedModel like `model`.
    `static`: at the example's batch (what a deployed program takes); other dynamic dims stay dynamic."""
    torch = deps.torch()
    example = tuple(model.example_inputs if example is None else example)
    try:
        ep = torch.export.export(module, example, dynamic_shapes=dynamic_shapes(model, batch=not static))
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
