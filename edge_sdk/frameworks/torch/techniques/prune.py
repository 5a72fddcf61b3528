"""prune: magnitude pruning of a torch program with label-free fine-tuning (KD from the original).

structure="unstructured": the smallest-magnitude weights of every conv/linear layer are zeroed to
`sparsity` (`scope: global`: each layer's share from one threshold over all of them), at once
(`prune_epochs: 0`) or iteratively along a cubic ramp over `prune_epochs` epochs with the masks
recomputed four times an epoch (techniques/pruning_schedule.py), and kept at zero through fine-tuning
(masks re-applied after each step); the record holds the measured per-layer sparsity of the final
weights. structure="channel": `sparsity` of each prunable
layer's output channels (smallest L1 norm) are removed from the graph (channels.py), so
the model really gets smaller and faster, then fine-tuned. Either way the result is re-exported.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import model_validator

from edge_sdk import deps
from edge_sdk.frameworks.torch.analysis import op_base
from edge_sdk.frameworks.torch.graph import batch_range, module_copy, reexport
from edge_sdk.frameworks.torch.techniques.channels import shrink_channels
from edge_sdk.frameworks.torch.techniques.training import float_training_start, kd_train
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.contracts.records import StepRecord
from edge_sdk.techniques.base import TechniqueData, register_technique
from edge_sdk.techniques.config import Count, Fraction, NonNegative, Positive, TrainingConfig
from edge_sdk.techniques.pruning_schedule import layer_sparsities, ramp


class PruneConfig(TrainingConfig):
    sparsity: Fraction = 0.5  # fraction of weights zeroed (unstructured) or of output channels removed (channel)
    structure: Literal["unstructured", "channel"] = "unstructured"
    scope: Literal["local", "global"] = "local"  # same fraction per layer, or one magnitude threshold over all
    prune_epochs: NonNegative = 0  # 0: one-shot; k: sparsity ramps up over k epochs, fine-tuning between updates
    epochs: Count = 3
    learning_rate: Positive = 5e-4

    @model_validator(mode="after")
    def _schedules_are_unstructured(self) -> PruneConfig:
        if self.structure == "channel" and (self.scope == "global" or self.prune_epochs):
            raise ValueError("scope: global and prune_epochs apply to unstructured pruning; channel pruning removes "
                             "the same fraction of every layer's channels at once")
        return self


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


def magnitude_masks(weights: dict[str, Any], sparsities: dict[str, float]) -> dict[str, Any]:
    """Per-layer masks zeroing the `sparsities[name]` fraction of smallest |w| in each layer."""
    torch = deps.torch()
    masks = {}
    for name, w in weights.items():
        k = int(round(w.numel() * sparsities[name]))
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
    torch = deps.torch()
    start = time.perf_counter()
    train = float_training_start(model, data, cfg, "prune")
    gm = module_copy(model)
    metrics: dict[str, Any] = {}
    if cfg.structure == "channel":
        metrics.update(shrink_channels(gm, 1.0 - cfg.sparsity))
        metrics.update(kd_train(gm, data.teacher, train, cfg, accepted=batch_range(model), kinds=data.output_kinds))
    else:
        weights = prunable_weights(gm)
        targets = layer_sparsities({n: w.detach().numpy() for n, w in weights.items()}, cfg.sparsity, cfg.scope)
        steps_per_epoch = -(-len(train) // cfg.batch_size)
        frequency = max(1, steps_per_epoch // 4)
        end_step = steps_per_epoch * cfg.prune_epochs
        state = {"step": 0, "masks": magnitude_masks(weights, {n: ramp(0, end_step, t) for n, t in targets.items()})}

        def reapply() -> None:
            step = state["step"] = state["step"] + 1
            if step <= end_step and step % frequency == 0:  # an update of the iterative schedule
                state["masks"] = magnitude_masks(weights, {n: ramp(step, end_step, t) for n, t in targets.items()})
            with torch.no_grad():
                for name, w in weights.items():
                    w.mul_(state["masks"][name])

        with torch.no_grad():
            for name, w in weights.items():
                w.mul_(state["masks"][name])
        metrics.update(kd_train(gm, data.teacher, train, cfg, accepted=batch_range(model), kinds=data.output_kinds, after_step=reapply,
                                min_epochs=cfg.prune_epochs + (1 if cfg.prune_epochs else 0)))
        metrics["layer_sparsity"] = measured_sparsity(weights)
        if cfg.scope == "global":
            metrics["layer_targets"] = targets
    out = reexport(gm, model)
    metrics["params"] = sum(int(out.handle.state_dict[p].numel()) for p in out.handle.graph_signature.parameters)
    params = {k: getattr(cfg, k) for k in ("sparsity", "structure", "scope", "prune_epochs", "epochs", "learning_rate",
                                           "temperature", "use_labels")}
    return out, StepRecord("prune", params, metrics, wall_s=time.perf_counter() - start)
