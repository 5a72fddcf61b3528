"""4-bit embedding tables for ExecuTorch: `ptq` with `embedding_bits: 4`.

A transformer's vocabulary table is most of its bytes (MiniLM: 11.7M of 22.7M parameters), and at 8 bits
per row it stays the largest thing in the .pte. ExecuTorch's quantized kernels run
`quantized_decomposed.embedding_4bit`: two signed 4-bit values per byte, one float scale per group of
GROUP_SIZE values of a row, gathering and dequantizing only the rows looked up. The values and scales
come from torchao (`IntxWeightOnlyConfig(int4, PerGroup)`, symmetric, what ExecuTorch's own LLM export
uses); the lookup is rewritten to that op in the converted graph, and the pte exporter lowers it as is.

Only tables looked up by the model's inputs are rewritten. A table looked up by constant indices
(positions from `arange`, token type 0) is folded into a float constant by the exporter's constant
propagation, so 4 bits there would add error and save nothing.
"""

from __future__ import annotations

import functools
from typing import Any

from edge_sdk import deps

GROUP_SIZE = 32  # zoo BERT: per-sentence minimum cosine 0.9968 at 32, 0.9948 at 64 (0.286x / 0.281x fp32 bytes)
BYTES_PER_VALUE = 0.5 + 4 / GROUP_SIZE  # two values per byte + a float32 scale per group


def _input_dependent(node: Any) -> bool:
    """Do the values of `node` depend on a model input (not only on an input's shape)?"""
    torch = deps.torch()
    shape_only = {torch.ops.aten.sym_size.int, torch.ops.aten.sym_numel.default}
    seen, todo = set(), [node]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        if current.op == "placeholder":
            return True
        if current.op == "call_function" and current.target in shape_only:
            continue
        todo.extend(current.all_input_nodes)
    return False


def _quantize_table(weight: Any) -> tuple[Any, Any]:
    """(packed uint8 [rows, cols / 2], float scales [rows, cols / GROUP_SIZE]) of a float table."""
    torch = deps.torch()
    from torchao.quantization.granularity import PerGroup
    from torchao.quantization.quant_api import IntxWeightOnlyConfig, quantize_

    table = torch.nn.Embedding(*weight.shape)
    table.weight = torch.nn.Parameter(weight.detach().clone().float(), requires_grad=False)
    quantize_(table, IntxWeightOnlyConfig(weight_dtype=torch.int4, granularity=PerGroup(GROUP_SIZE)),
              lambda module, _fqn: isinstance(module, torch.nn.Embedding))
    values = table.weight.qdata.add(8).to(torch.uint8).view(weight.shape[0], -1, 2)  # [-8, 7] -> [0, 15]
    packed = (values[:, :, 0] * 16 + values[:, :, 1]).contiguous()  # the kernel reads the high nibble first
    return packed, table.weight.scale.reshape(weight.shape[0], -1).float().contiguous()


def eligible(weight: Any) -> bool:
    return weight.dim() == 2 and weight.shape[1] % GROUP_SIZE == 0


def rewrite(module: Any) -> list[str]:
    """Rewrite, in place, every float lookup of `module` (a GraphModule from `ExportedProgram.module()`)
    indexed by the inputs to embedding_4bit; returns the tables rewritten."""
    torch = deps.torch()
    import executorch.exir.passes._quant_patterns_and_replacements  # noqa: F401 - defines embedding_4bit

    graph, done = module.graph, []
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target != torch.ops.aten.embedding.default:
            continue
        table, indices = node.args[0], node.args[1]
        if table.op != "get_attr" or not _input_dependent(indices):
            continue
        weight = functools.reduce(getattr, table.target.split("."), module)
        if weight.dtype != torch.float32 or not eligible(weight):
            continue
        packed, scales = _quantize_table(weight)
        name = table.target.replace(".", "_")
        module.register_buffer(f"{name}_int4", packed)
        module.register_buffer(f"{name}_int4_scales", scales)
        with graph.inserting_before(node):
            args = (graph.get_attr(f"{name}_int4"), graph.get_attr(f"{name}_int4_scales"), None, -8, 7, indices)
            lookup = graph.call_function(torch.ops.quantized_decomposed.embedding_4bit.dtype, args, {"dtype": torch.float32})
        lookup.meta = dict(node.meta)
        node.replace_all_uses_with(lookup)
        graph.erase_node(node)
        done.append(table.target)
    graph.eliminate_dead_code()
    module.recompile()
    return done
