"""Moving between a torch `LoadedModel` (an ExportedProgram) and the trainable graph module that
torch techniques work on, and back, keeping the program's dynamic batch dimension.

Why: pt2e quantization, pruning and distillation all edit or train `ep.module()`; the result must be
exported again so the next step (or the ExecuTorch exporter) gets an ExportedProgram like the input.
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

MAX_BATCH = 1024
QUANT_NAMESPACE = "quantized_decomposed"


def require_torch(model: LoadedModel, technique: str) -> None:
    if model.framework != "torch":
        raise ConfigError(
            f"the PyTorch {technique} works on PyTorch (.pt2) models; got a {model.framework} model "
            "(apply_step runs the implementation of the model's framework)"
        )


def dynamic_shapes(model: LoadedModel) -> tuple | None:
    """torch.export dynamic_shapes that keep each input's batch dim dynamic when the program had one."""
    if all(s.shape[0] is not None for s in model.inputs):
        return None
    torch = deps.torch()
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
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
    """Example inputs for a deployed program: one sample when the batch is dynamic, else as exported."""
    dynamic = any(s.shape[0] is None for s in model.inputs)
    return tuple(x[:1] for x in model.example_inputs) if dynamic else tuple(model.example_inputs)


def is_quantized(ep: Any) -> bool:
    """True when the program holds pt2e quantize/dequantize nodes (ptq or qat ran)."""
    return any(n.op == "call_function" and QUANT_NAMESPACE in str(n.target) for n in ep.graph.nodes)


def tensors(arrays: list[np.ndarray]) -> list[Any]:
    torch = deps.torch()
    return [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]


def checked(dataset: Dataset, model: LoadedModel, purpose: str, max_samples: int | None = None) -> Dataset:
    """The data validated against the model's inputs (DataError naming both shapes on a mismatch)."""
    return load_dataset(dataset, model.inputs, max_samples=max_samples, purpose=purpose)
