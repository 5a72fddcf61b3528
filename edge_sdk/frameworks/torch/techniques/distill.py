"""distill: knowledge distillation (KD loss, label-free by default) from the original program into
a smaller student: by default one derived from the teacher graph by removing the weakest (1 - width)
of each prunable layer's output channels (channels.py: the same topology, scaled
width), or a user-given student (`student`: a .pt2 path, an ExportedProgram, or an nn.Module taking
the same inputs). The student is trained longer and with a larger learning rate than fine-tuning.
"""

from __future__ import annotations

import time
from typing import Any

from edge_sdk.errors import ConfigError
from edge_sdk.frameworks.torch.graph import batch_range, module_copy, reexport
from edge_sdk.frameworks.torch.techniques.channels import shrink_channels
from edge_sdk.frameworks.torch.techniques.training import float_training_start, kd_train
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.contracts.records import StepRecord
from edge_sdk.techniques.base import TechniqueData, register_technique
from edge_sdk.techniques.config import Count, Fraction, NonNegative, Positive, TrainingConfig


class DistillConfig(TrainingConfig):
    width: Fraction = 0.5  # output channels kept per prunable layer of the derived student
    student: Any = None  # a .pt2 path, an ExportedProgram or an nn.Module instead of the derived student
    epochs: Count = 30
    learning_rate: Positive = 2e-3
    patience: NonNegative = 4


def _student(model: LoadedModel, spec: Any) -> tuple[Any, LoadedModel, dict]:
    """(trainable graph module, the LoadedModel it re-exports like, metrics) for a user-given student."""
    from edge_sdk.model import load_model

    student = load_model(spec, example_inputs=model.example_inputs)
    if student.framework != "torch":
        raise ConfigError(f"distill student must be a PyTorch model; got {student.framework}")
    if [s.shape[1:] for s in student.inputs] != [s.shape[1:] for s in model.inputs]:
        raise ConfigError(
            f"distill student takes inputs {[s.shape for s in student.inputs]}, the teacher "
            f"{[s.shape for s in model.inputs]}; give a student with the teacher's inputs"
        )
    return module_copy(student), student, {"student": "given"}


@register_technique("distill", "torch", DistillConfig)
def apply(model: LoadedModel, data: TechniqueData, cfg: DistillConfig) -> tuple[LoadedModel, StepRecord]:
    start = time.perf_counter()
    train = float_training_start(model, data, cfg, "distill")
    if cfg.student is not None:
        gm, like, metrics = _student(model, cfg.student)
    else:
        gm, like = module_copy(model), model
        metrics = {"student": f"channel-pruned teacher, width {cfg.width}", **shrink_channels(gm, cfg.width)}
    metrics.update(kd_train(gm, data.teacher, train, cfg, accepted=batch_range(like), kinds=data.output_kinds))
    out = reexport(gm, like)
    teacher_params = sum(int(model.handle.state_dict[p].numel()) for p in model.handle.graph_signature.parameters)
    metrics["params"] = sum(int(out.handle.state_dict[p].numel()) for p in out.handle.graph_signature.parameters)
    metrics["params_ratio"] = round(metrics["params"] / teacher_params, 4)
    params = {k: getattr(cfg, k) for k in ("width", "epochs", "learning_rate", "temperature", "use_labels")}
    params["student"] = "given" if cfg.student is not None else "derived"
    return out, StepRecord("distill", params, metrics, wall_s=time.perf_counter() - start)
