"""prune: magnitude pruning of a torch program with label-free fine-tuning (KD from the original).

structure="unstructured": the smallest-magnitude weights of every conv/linear layer are zeroed to
`sparsity`, and kept at zero through fine-tuning (masks re-applied after each step); the record holds
the measured per-layer sparsity of the final weights. structure="channel": `sparsity` of each prunable
layer's output channels (smallest L1 norm) are removed from the graph (channels.py), so
the model really gets smaller and faster, then fine-tuned. Either way the result is re-exported.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from edge_sdk import deps
from edge_sdk.errors import ConfigError
from edge_sdk.frameworks.torch.analysis import op_base
from edge_sdk.frameworks.torch.graph import batch_range, is_quantized, module_copy, reexport, require_torch
from edge_sdk.frameworks.torch.techniques.channels import shrink_channels
from edge_sdk.frameworks.torch.techniques.training import kd_train, seed_everything, train_set
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.contracts.records import StepRecord
from edge_sdk.techniques.base import TechniqueData, register_technique
from edge_sdk.techniques.config import Count, Fraction, Positive, TrainingConfig


class PruneConfig(TrainingConfig):
    sparsity: Fraction = 0.5  # fraction of weights zeroed (unstructured) or of output channels removed (channel)
    structure: Literal["unstructured", "channel"] = "unstructured"
    epochs: Count = 3
    learning_rate: Positive = 5e-4


def prunable_weights(gm: Any) -> dict[str, Any]:
    """name -> weight Parameter of every conv2d / linear node of the graph module."""
    params = dict(gm.named_parameters())
    found = {}
    for n in gm.graph.nodes:
        if n.op == "call_function" and op_base(n.target) in ("conv2d", "linear"):
            w = n.args[1]
            if getattr(w, "op", None) == "get_attr" and w.target in params:
                found[w.target] = params[w.target]
    return found


def magnitude_masks(weights: dict[str, Any], sparsity: float) -> dict[str, Any]:
    """Per-layer masks zeroing the `sparsity` fraction of smallest |w| in each layer."""
    torch = deps.torch()
    masks = {}
    for name, w in weights.items():
        k = int(round(w.numel() * sparsity))
        if k == 0:
            masks[name] = torch.ones_like(w, dtype=torch.bool)
            continue
        threshold = w.detach().abs().reshape(-1).kthvalue(k).values
        masks[name] = w.detach().abs() > threshold
    return masks


def measured_sparsity(weights: dict[str, Any]) -> dict[str, float]:
    return {name: round(float((w == 0).float().mean()), 4) for name, w in weights.items()}


@register_technique("prune", "torch", PruneConfig)
def apply(model: LoadedModel, data: TechniqueData, cfg: PruneConfig) -> tuple[LoadedModel, StepRecord]:
    require_torch(model, "prune")
    if is_quantized(model.handle):
        raise ConfigError("prune needs a float model; prune before ptq / qat")
    torch = deps.torch()
    start = time.perf_counter()
    train = train_set(model, data, cfg)
    seed_everything(cfg.seed)
    gm = module_copy(model)
    metrics: dict[str, Any] = {}
    if cfg.structure == "channel":
        metrics.update(shrink_channels(gm, 1.0 - cfg.sparsity))
        metrics.update(kd_train(gm, data.teacher, train, cfg, accepted=batch_range(model)))
    else:
        weights = prunable_weights(gm)
        masks = magnitude_masks(weights, cfg.sparsity)

        def reapply() -> None:
            with torch.no_grad():
                for name, w in weights.items():
                    w.mul_(masks[name])

        reapply()
        metrics.update(kd_train(gm, data.teacher, train, cfg, accepted=batch_range(model), after_step=reapply))
        metrics["layer_sparsity"] = measured_sparsity(weights)
    out = reexport(gm, model)
    metrics["params"] = sum(int(out.handle.state_dict[p].numel()) for p in out.handle.graph_signature.parameters)
    params = {k: getattr(cfg, k) for k in ("sparsity", "structure", "epochs", "learning_rate", "temperature", "use_labels")}
    return out, StepRecord("prune", params, metrics, wall_s=time.perf_counter() - start)
