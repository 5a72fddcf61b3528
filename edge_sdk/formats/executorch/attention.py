"""scaled_dot_product_attention written out as matmul -> scale -> mask -> softmax -> matmul before a
program is lowered to XNNPACK.

Why (measured, scripts/bench_transformer.py): XNNPACK has no attention kernel, so ExecuTorch
decomposes sdpa with torch's math path: `_safe_softmax` (eq / any / logical_not / where, so that a row
with every key masked gives zeros) and a bool mask turned into -inf by `where`. None of those ops is
delegated: each attention layer splits the delegate and runs a dozen portable kernels. Written out the
way transformers' eager attention does it, every op of the attention block is delegated. On a
MiniLM-shaped encoder (6 layers, hidden 384, sequence 64, batch 1, host): fp32 18.0 -> 11.8 ms,
dynamic-int8 10.7 -> 4.6 ms, same outputs (cosine to the original 0.99995 both ways).

The one difference from sdpa: a query row whose every key is masked gets uniform weights over the masked
keys instead of zeros (masks are the float type's minimum, never -inf, so it is never NaN). Encoders that mask
padding keys never have such a row; verification compares the artifact with the original model either way.
"""

from __future__ import annotations

import math
from typing import Any

from edge_sdk import deps


def explicit_attention(query: Any, key: Any, value: Any, attn_mask: Any = None, dropout_p: float = 0.0,
                       is_causal: bool = False, scale: float | None = None, enable_gqa: bool = False) -> Any:
    """What `scaled_dot_product_attention` computes at inference (dropout 0), in ops XNNPACK delegates."""
    torch = deps.torch()
    if enable_gqa:
        groups = query.shape[-3] // key.shape[-3]
        key, value = key.repeat_interleave(groups, -3), value.repeat_interleave(groups, -3)
    scores = torch.matmul(query, key.transpose(-2, -1)) * (1.0 / math.sqrt(query.shape[-1]) if scale is None else scale)
    if is_causal:
        causal = torch.ones(query.shape[-2], key.shape[-2], dtype=torch.bool, device=scores.device).tril()
        scores = scores + additive_mask(causal, scores.dtype)
    if attn_mask is not None:
        scores = scores + (additive_mask(attn_mask, scores.dtype) if attn_mask.dtype == torch.bool
                           else attn_mask.clamp(min=torch.finfo(attn_mask.dtype).min))
    return torch.matmul(torch.softmax(scores, dim=-1), value)


def additive_mask(keep: Any, dtype: Any) -> Any:
    """A bool mask (True: attend) as 0 / the float type's minimum (never -inf), to add to the scores."""
    torch = deps.torch()
    zero = torch.zeros((), dtype=dtype)
    return torch.where(keep, zero, torch.full((), torch.finfo(dtype).min, dtype=dtype))


def write_out_attention(module: Any) -> int:
    """Point every inference sdpa node of `module` (an ExportedProgram's graph module) at
    `explicit_attention`, in place, so the next torch.export traces the explicit ops. A bool mask
    shared by the layers is made additive once, next to where it is computed (per layer, the `where`
    would split the delegate again). Returns how many nodes changed."""
    torch = deps.torch()
    sdpa = torch.ops.aten.scaled_dot_product_attention.default
    graph, additive, changed = module.graph, {}, 0
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target is not sdpa:
            continue
        if node.kwargs.get("dropout_p", node.args[4] if len(node.args) > 4 else 0.0):
            continue
        node.target = explicit_attention
        changed += 1
        mask = node.args[3] if len(node.args) > 3 else node.kwargs.get("attn_mask")
        if _is_bool(mask):
            if mask not in additive:
                with graph.inserting_after(mask):
                    additive[mask] = graph.call_function(additive_mask, (mask, node.args[0].meta["val"].dtype))
            if len(node.args) > 3:
                node.args = node.args[:3] + (additive[mask],) + node.args[4:]
            else:
                node.kwargs = {**node.kwargs, "attn_mask": additive[mask]}
    if changed:
        graph.lint()
        module.recompile()
    return changed


def _is_bool(node: Any) -> bool:
    value = getattr(node, "meta", {}).get("val")
    return value is not None and str(value.dtype) == "torch.bool"
