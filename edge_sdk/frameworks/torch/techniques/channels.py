"""Channel surgery on an exported program's graph module: remove the weakest output channels of
conv/linear layers and the matching input channels of their consumers.

Why on the graph: a `.pt2` carries no Python model class, so a width-scaled student (distill) or
a channel-pruned model (prune structure=channel) has to be derived from the graph itself. A
producer (conv2d / linear) is pruned only when every path from its output reaches consumers through
channel-wise ops (batch norm, activations, pooling, dropout) and ends in conv2d (groups=1) or linear
inputs, or in a flatten feeding a linear; anything else (residual adds, concats, fixed reshapes, graph
outputs) couples channels, and that producer is left whole. Importance is the L1 norm of each output
channel's weights (magnitude pruning); kept channels keep their order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from edge_sdk import deps
from edge_sdk.frameworks.torch.analysis import op_base

PRODUCERS = {"conv2d", "linear"}
CHANNELWISE = {"relu", "relu_", "gelu", "sigmoid", "tanh", "hardtanh", "silu", "hardswish", "max_pool2d",
               "avg_pool2d", "adaptive_avg_pool2d", "dropout", "batch_norm", "_native_batch_norm_legit_no_training",
               "clone", "contiguous", "identity", "alias"}


@dataclass
class _Plan:
    producer: Any
    norms: list = field(default_factory=list)  # batch norms to slice (dim 0 of weight/bias/mean/var)
    conv_consumers: list = field(default_factory=list)  # conv2d weight dim 1
    linear_consumers: list = field(default_factory=list)  # (linear node, spatial elems per channel)


def _attr(gm: Any, node: Any) -> Any:
    return gm.get_parameter(node.target) if node.target in dict(gm.named_parameters()) else gm.get_buffer(node.target)


def _set_attr(gm: Any, node: Any, value: Any) -> None:
    torch = deps.torch()
    owner_path, _, name = node.target.rpartition(".")
    owner = gm.get_submodule(owner_path) if owner_path else gm
    old = getattr(owner, name)
    new = torch.nn.Parameter(value.detach().clone(), requires_grad=old.requires_grad) if isinstance(old, torch.nn.Parameter) else value.detach().clone()
    setattr(owner, name, new)


def _is_attr(arg: Any) -> bool:
    return hasattr(arg, "op") and arg.op == "get_attr"


def _trace(producer: Any) -> _Plan | None:
    """Where the producer's channels flow; None when some path couples them with other tensors."""
    plan = _Plan(producer)
    frontier = [(producer, 1)]  # (node, spatial elems per channel if already flattened: unused here)
    while frontier:
        node, _ = frontier.pop()
        for user in node.users:
            base = op_base(user.target) if user.op == "call_function" else user.op
            if base in CHANNELWISE and user.args[0] is node:
                if base.endswith("batch_norm") or base == "_native_batch_norm_legit_no_training":
                    if not all(_is_attr(a) for a in user.args[1:5] if a is not None):
                        return None
                    plan.norms.append(user)
                frontier.append((user, 1))
            elif base == "getitem" and op_base(node.target) == "_native_batch_norm_legit_no_training":
                if user.args[1] == 0:
                    frontier.append((user, 1))
            elif base == "conv2d" and user.args[0] is node and _is_attr(user.args[1]):
                groups = user.args[6] if len(user.args) > 6 else 1
                if groups != 1:
                    return None
                plan.conv_consumers.append(user)
            elif base == "linear" and user.args[0] is node and _is_attr(user.args[1]):
                plan.linear_consumers.append((user, 1))
            elif base == "flatten" and user.args[1:] in ((1,), (1, -1)) and op_base(producer.target) == "conv2d":
                spatial = math.prod(int(d) for d in node.meta["val"].shape[2:])
                for lin in user.users:
                    if lin.op == "call_function" and op_base(lin.target) == "linear" and lin.args[0] is user and _is_attr(lin.args[1]):
                        plan.linear_consumers.append((lin, spatial))
                    else:
                        return None
            else:
                return None
    if not (plan.conv_consumers or plan.linear_consumers):
        return None
    return plan


def _keep(weight: Any, fraction: float) -> Any:
    torch = deps.torch()
    channels = weight.shape[0]
    k = max(1, int(round(channels * fraction)))
    norms = weight.detach().abs().reshape(channels, -1).sum(1)
    return torch.sort(torch.topk(norms, k).indices).values


def shrink_channels(gm: Any, keep_fraction: float) -> dict[str, Any]:
    """Remove (1 - keep_fraction) of the output channels of every prunable producer, in place."""
    torch = deps.torch()
    changed: dict[str, list[int]] = {}
    skipped = []
    producers = [n for n in gm.graph.nodes if n.op == "call_function" and op_base(n.target) in PRODUCERS and _is_attr(n.args[1])]
    for node in producers:
        plan = _trace(node)
        if plan is None:
            skipped.append(node.name)
            continue
        weight = _attr(gm, node.args[1])
        keep = _keep(weight, keep_fraction)
        before = weight.shape[0]
        _set_attr(gm, node.args[1], weight[keep])
        if len(node.args) > 2 and _is_attr(node.args[2]):
            _set_attr(gm, node.args[2], _attr(gm, node.args[2])[keep])
        for bn in plan.norms:
            for arg in bn.args[1:5]:
                if arg is not None:
                    _set_attr(gm, arg, _attr(gm, arg)[keep])
        for conv in plan.conv_consumers:
            _set_attr(gm, conv.args[1], _attr(gm, conv.args[1])[:, keep])
        for lin, spatial in plan.linear_consumers:
            cols = (keep[:, None] * spatial + torch.arange(spatial)[None]).reshape(-1)
            _set_attr(gm, lin.args[1], _attr(gm, lin.args[1])[:, cols])
        changed[str(node.args[1].target).rsplit(".", 1)[0]] = [before, len(keep)]
    gm.recompile()
    return {"channels": changed, "left_whole": skipped}
