"""A float32 program as a float16 one for the `pte` format's `float16` precision: weights stored and
computed in float16 by XNNPACK's f16 kernels (Armv8.2 FP16 arithmetic on phones; the x86 host runs them
too, so the artifact is verified on the real runtime), inputs and outputs still float32.

What changes in the graph: float parameters and buffers become float16; every float32 dtype an op names
(`.to(torch.float32)`, `full(..., dtype=float32)`) becomes float16; a float scalar beyond float16's
range (a mask's float32 minimum) is clamped to +-65504, since in float16 it would be -inf and `0 * -inf`
is NaN; float inputs are cast to float16 where they enter, float outputs back to float32 where they
leave. Integer inputs (token ids) and integer arithmetic are untouched.
"""

from __future__ import annotations

from typing import Any

from edge_sdk import deps
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.formats.coreml.fp16 import FP16_MAX
from edge_sdk.frameworks.torch.graph import module_copy, reexport



def float16_program(model: LoadedModel) -> LoadedModel:
    """`model` with float16 weights and compute, float32 I/O (module docstring)."""
    torch = deps.torch()
    module = module_copy(model).half()  # parameters and buffers
    graph = module.graph
    for node in list(graph.nodes):
        if node.op == "get_attr":  # tensor constants the export lifted are plain attributes
            value = _attribute(module, node.target)
            if isinstance(value, torch.Tensor) and value.dtype == torch.float32:
                _set_attribute(module, node.target, value.half())
        elif node.op == "call_function":
            node.args = tuple(_half_arg(a, torch) for a in node.args)
            node.kwargs = {k: _half_arg(v, torch) for k, v in node.kwargs.items()}
        elif node.op == "placeholder" and _is_float(node, torch):
            with graph.inserting_after(node):
                cast = graph.call_function(torch.ops.aten._to_copy.default, (node,), {"dtype": torch.float16})
            node.replace_all_uses_with(cast, delete_user_cb=lambda user: user is not cast)
    output = next(n for n in graph.nodes if n.op == "output")
    with graph.inserting_before(output):
        output.args = (torch.utils._pytree.tree_map(lambda a: _to_float32(graph, a, torch), output.args[0]),)
    graph.lint()
    module.recompile()
    return reexport(module, model)


def _attribute(module: Any, target: str) -> Any:
    for part in target.split("."):
        module = getattr(module, part)
    return module


def _set_attribute(module: Any, target: str, value: Any) -> None:
    owner, _, name = target.rpartition(".")
    setattr(_attribute(module, owner) if owner else module, name, value)


def _half_arg(value: Any, torch: Any) -> Any:
    if value is torch.float32:
        return torch.float16
    if isinstance(value, float) and abs(value) > FP16_MAX and value not in (float("inf"), float("-inf")):
        return FP16_MAX if value > 0 else -FP16_MAX
    if isinstance(value, (list, tuple)):
        return type(value)(_half_arg(v, torch) for v in value)
    return value


def _is_float(node: Any, torch: Any) -> bool:
    value = node.meta.get("val")
    return isinstance(value, torch.Tensor) and value.dtype == torch.float32


def _to_float32(graph: Any, arg: Any, torch: Any) -> Any:
    if hasattr(arg, "op") and _is_float(arg, torch):
        return graph.call_function(torch.ops.aten._to_copy.default, (arg,), {"dtype": torch.float32})
    return arg
