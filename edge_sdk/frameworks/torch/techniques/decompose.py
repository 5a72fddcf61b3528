"""decompose: Tucker-2 / CP decomposition of a torch program's k x k convolutions (the math and the rank
rules are techniques/conv_decomposition.py, shared with Keras), then label-free fine-tuning and
re-export.

On the graph module (a .pt2 carries no Python class): each decomposed `aten.conv2d` node becomes a
chain of conv2d nodes with new parameters registered beside the original weight, whose attribute the
chain's last 1x1 conv takes over (with the bias), so no unused parameter is left behind. torch's
convolutions take per-axis strides, padding and dilation, so CP's depthwise k_h x 1 and 1 x k_w convs
carry them directly (no explicit padding, unlike TensorFlow's chain).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from edge_sdk import deps
from edge_sdk.errors import ConfigError
from edge_sdk.frameworks.torch.graph import batch_range, module_copy, reexport
from edge_sdk.frameworks.torch.techniques.training import float_training_start, kd_train
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.contracts.records import StepRecord
from edge_sdk.techniques import conv_decomposition as cd
from edge_sdk.techniques.base import TechniqueData, register_technique
from edge_sdk.techniques.config import Count, Positive, TrainingConfig

CONV_DEFAULTS = (None, (1, 1), (0, 0), (1, 1), 1)  # aten.conv2d's bias, stride, padding, dilation, groups
SUFFIXES = {"tucker2": ("_tucker_in", "_tucker_core"), "cp": ("_cp_in", "_cp_vertical", "_cp_horizontal")}


class DecomposeConfig(TrainingConfig, cd.DecompositionKeys):
    epochs: Count = 6
    learning_rate: Positive = 5e-4


def _conv_args(node: Any) -> tuple:
    """(input, weight, bias, stride, padding, dilation, groups) with aten.conv2d's defaults filled in."""
    x, weight, bias, stride, padding, dilation, groups = (*node.args, *CONV_DEFAULTS[len(node.args) - 2:])
    return x, weight, bias, _pair(stride), _pair(padding), _pair(dilation), groups


def _pair(value: Any) -> tuple[int, int]:
    """aten.conv2d's int-or-list argument (one value for both axes, or one per axis) as a pair."""
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    return (values[0], values[-1])


def geometry(node: Any, weight_shape: tuple[int, ...]) -> cd.ConvGeometry:
    stride = _conv_args(node)[3]
    cout, cin, kh, kw = (int(d) for d in weight_shape)
    (h, w), (oh, ow) = node.args[0].meta["val"].shape[2:], node.meta["val"].shape[2:]
    return cd.ConvGeometry(kh, kw, cin, cout, (int(h), int(w)), (int(oh), int(ow)), stride, "explicit", per_axis_strides=True)


def _on_axis(values: tuple[int, int], axis: int, neutral: int) -> tuple[int, int]:
    """`values` on one axis, `neutral` on the other (a depthwise k x 1 or 1 x k conv's stride, padding, dilation)."""
    return tuple(values[i] if i == axis else neutral for i in (0, 1))


def _candidates(gm: Any, cfg: DecomposeConfig) -> list[Any]:
    params = dict(gm.named_parameters())
    outputs = {a for n in gm.graph.nodes if n.op == "output" for a in _flat(n.args)}
    found = []
    for node in gm.graph.nodes:
        if node.op != "call_function" or node.target != deps.torch().ops.aten.conv2d.default:
            continue
        _, weight, _, _, _, _, groups = _conv_args(node)
        if getattr(weight, "op", None) != "get_attr" or weight.target not in params:
            continue
        name = weight.target.rsplit(".", 1)[0]
        if cfg.layers is not None and name not in cfg.layers:
            continue
        if node in outputs and not cfg.include_output:
            continue
        if cd.decomposable(tuple(params[weight.target].shape[2:]), groups):
            found.append(node)
    return found


def _flat(args: Any) -> list[Any]:
    if isinstance(args, (list, tuple)):
        return [x for a in args for x in _flat(a)]
    return [args]


def _replace(gm: Any, node: Any, factors: cd.Factors, method: str) -> None:
    """Rewrite `node` as the chain of `factors` (kernels in (k_h, k_w, in, out) layout)."""
    torch = deps.torch()
    conv = torch.ops.aten.conv2d.default
    x, weight, bias, stride, padding, dilation, _ = _conv_args(node)
    owner_path, _, attr = weight.target.rpartition(".")
    owner = gm.get_submodule(owner_path) if owner_path else gm
    kernels = [(k, dw, suffix) for k, dw, suffix in zip(factors.kernels, factors.depthwise, (*SUFFIXES[method], ""))
               if k is not None]
    current = x
    with gm.graph.inserting_before(node):
        for kernel, depthwise, suffix in kernels[:-1]:
            layout = (2, 3, 0, 1) if depthwise else (3, 2, 0, 1)  # -> (out, in / groups, k_h, k_w)
            value = torch.from_numpy(np.ascontiguousarray(np.transpose(kernel, layout)))
            owner.register_parameter(attr + suffix, torch.nn.Parameter(value))
            w = gm.graph.get_attr(f"{owner_path}.{attr}{suffix}" if owner_path else attr + suffix)
            kh, kw = kernel.shape[:2]
            if depthwise:  # CP's vertical / horizontal conv: one axis's stride, padding and dilation each
                axis = 0 if kh > 1 else 1
                current = gm.graph.call_function(conv, (current, w, None, _on_axis(stride, axis, 1), _on_axis(padding, axis, 0),
                                                        _on_axis(dilation, axis, 1), kernel.shape[2]))
            elif kh * kw > 1:  # Tucker's core: the original's stride, padding and dilation
                current = gm.graph.call_function(conv, (current, w, None, stride, padding, dilation, 1))
            else:
                current = gm.graph.call_function(conv, (current, w))
    last = kernels[-1][0]
    setattr(owner, attr, torch.nn.Parameter(torch.from_numpy(np.ascontiguousarray(np.transpose(last, (3, 2, 0, 1))))))
    node.args = (current, weight, bias)


@register_technique("decompose", "torch", DecomposeConfig)
def apply(model: LoadedModel, data: TechniqueData, cfg: DecomposeConfig) -> tuple[LoadedModel, StepRecord]:
    start = time.perf_counter()
    train = float_training_start(model, data, cfg, "decompose")
    gm = module_copy(model)
    params = dict(gm.named_parameters())
    layers: dict[str, dict] = {}
    notes: list[str] = []
    for node in _candidates(gm, cfg):
        target = _conv_args(node)[1].target
        name = target.rsplit(".", 1)[0]
        kernel = params[target].detach().numpy().transpose(2, 3, 1, 0)  # -> (k_h, k_w, C_in, C_out)
        shape = geometry(node, tuple(params[target].shape))
        ranks = cd.ranks_for(shape, cfg, kernel)
        macs, count = cd.decomposed_cost(shape, cfg.method, ranks)
        if macs >= shape.macs:
            notes.append(f"{name}: {cfg.method} at ranks {list(ranks)} would not save MACs; left whole")
            continue
        with warnings.catch_warnings():  # tensorly notes ranks above a mode's size (CP), which are fine
            warnings.simplefilter("ignore", UserWarning)
            factors = cd.decompose(kernel, cfg.method, ranks, cfg.seed)
        _replace(gm, node, factors, cfg.method)
        layers[name] = {"ranks": list(ranks), "relative_error": round(factors.relative_error, 4), "macs_before": shape.macs,
                        "macs_after": macs, "params_before": int(kernel.size), "params_after": count}
    if not layers:
        raise ConfigError("decompose: no ungrouped conv2d wider than 1x1 to decompose (or none would save MACs)")
    gm.graph.lint()
    gm.recompile()
    metrics: dict[str, Any] = {"layers": layers,
                               "conv_macs_before": sum(v["macs_before"] for v in layers.values()),
                               "conv_macs_after": sum(v["macs_after"] for v in layers.values())}
    metrics.update(kd_train(gm, data.teacher, train, cfg, accepted=batch_range(model), kinds=data.output_kinds))
    out = reexport(gm, model)
    metrics["params"] = sum(int(out.handle.state_dict[p].numel()) for p in out.handle.graph_signature.parameters)
    record_params = {k: getattr(cfg, k) for k in ("method", "macs_ratio", "energy", "include_output", "epochs", "learning_rate", "seed")}
    return out, StepRecord("decompose", record_params, metrics, tuple(notes), wall_s=round(time.perf_counter() - start, 3))
