"""Knowledge distillation into a thinner student: the original model (teacher) trains a smaller one.

The student is, by default, the teacher's own architecture with every Conv/Dense width (filters,
units) scaled by `width` - rebuilt from the model config, so Sequential and Functional topologies are
kept exactly - except the layers whose width reaches a model output (the output layer itself, or e.g.
the Conv2D of a Conv2D -> GlobalAveragePooling -> Softmax head: rebuild.output_width_layers), which
keep theirs, so every output keeps its shape. It starts from the teacher's first channels of each
layer (or a fresh seeded initialisation with `init: random`). A user's own student (`student`: a tf_keras/Keras 3 model or a model file) is used
instead when given. Loss: KL at temperature T against the teacher, plus cross-entropy on the labels
when the training set has them (`use_labels`, on by default here); label-free works.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Literal

import numpy as np

from edge_sdk.errors import ConfigError
from edge_sdk.frameworks.keras.techniques import qat, rebuild, training
from edge_sdk.frameworks.keras.techniques.training import KerasTrainingConfig
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.contracts.records import StepRecord
from edge_sdk.techniques.base import TechniqueData, register_technique
from edge_sdk.techniques.config import Count, NonNegative, Positive, UpToOne


class DistillConfig(KerasTrainingConfig):
    width: UpToOne = 0.5  # multiplier on filters/units of every Conv/Dense layer whose width reaches no output
    student: Any = None  # a user-given student (model or file) instead of the width-scaled one
    init: Literal["teacher", "random"] = "teacher"  # teacher: start from the teacher's first channels
    epochs: Count = 30
    learning_rate: Positive = 3e-3
    lr_schedule: Literal["constant", "cosine"] = "cosine"
    patience: NonNegative = 8  # losses at a high learning rate are noisy; do not stop on the first flat stretch
    use_labels: bool = True  # add cross-entropy when the training set has labels


def scaled_student(teacher: Any, width: float) -> tuple[Any, list[str]]:
    """The teacher's architecture with widths scaled except where they reach an output (fresh weights)
    + the scaled layers' names."""
    config = rebuild.config_of(teacher)
    kept = rebuild.output_width_layers(teacher)
    scaled = []
    for entry in config["layers"]:
        layer_cfg = entry["config"]
        if layer_cfg.get("name") in kept:
            continue
        for key in rebuild.WIDTH_KEYS:
            if isinstance(layer_cfg.get(key), int):
                layer_cfg[key] = max(1, int(round(layer_cfg[key] * width)))
                scaled.append(layer_cfg["name"])
        entry.pop("build_config", None)  # shapes changed; layers rebuild from their real inputs
    config["name"] = f"{config.get('name', 'model')}_student"
    return rebuild.from_config(teacher, config), scaled


def _flatten_input(layer: Any) -> tuple | None:
    """The (H, W, C) a Dense reads through a Flatten, or None."""
    nodes = getattr(layer, "_inbound_nodes", [])
    previous = nodes[0].inbound_layers if nodes else None
    if type(previous).__name__ == "Flatten" and len(previous.input_shape) > 2:
        return tuple(previous.input_shape[1:])
    return None


def _slice(teacher_w: np.ndarray, shape: tuple, flat_in: tuple | None, flat_in_teacher: tuple | None) -> np.ndarray | None:
    """The leading slice of a teacher weight with the student's shape (channels kept: the first ones)."""
    if flat_in is not None and flat_in_teacher is not None and teacher_w.ndim == 2:
        teacher_w = teacher_w.reshape(*flat_in_teacher, teacher_w.shape[-1])
        sliced = teacher_w[tuple(slice(0, d) for d in flat_in)][..., : shape[-1]]
        return sliced.reshape(shape) if sliced.size == int(np.prod(shape)) else None
    if teacher_w.ndim != len(shape) or any(s > t for s, t in zip(shape, teacher_w.shape)):
        return None
    return teacher_w[tuple(slice(0, d) for d in shape)]


def init_from_teacher(student: Any, teacher: Any) -> list[str]:
    """Start each student layer from the teacher's first channels (a far better start than random)."""
    by_name = {layer.name: layer for layer in teacher.layers}
    done = []
    for layer in student.layers:
        source = by_name.get(layer.name)
        if source is None or not layer.weights or len(layer.weights) != len(source.weights):
            continue
        flat_in, flat_in_teacher = _flatten_input(layer), _flatten_input(source)
        weights = [
            _slice(t, s.shape, flat_in if i == 0 else None, flat_in_teacher if i == 0 else None)
            for i, (s, t) in enumerate(zip(layer.get_weights(), source.get_weights()))
        ]
        if all(w is not None for w in weights):
            layer.set_weights(weights)
            done.append(layer.name)
    return done


def _given_student(student: Any, teacher: LoadedModel) -> Any:
    from edge_sdk.model import load_model

    loaded = load_model(student)
    if loaded.framework != "keras":
        raise ConfigError(f"distill: the student must be a Keras model; got a {loaded.framework} model")
    want = [(s.shape[1:], s.dtype) for s in teacher.inputs]
    got = [(s.shape[1:], s.dtype) for s in loaded.inputs]
    if want != got or [s.shape[1:] for s in teacher.outputs] != [s.shape[1:] for s in loaded.outputs]:
        raise ConfigError(
            f"distill: the student's inputs/outputs {got} -> {[s.shape for s in loaded.outputs]} do not match the "
            f"teacher's {want} -> {[s.shape for s in teacher.outputs]}"
        )
    return training.copy_model(loaded.handle)


@register_technique("distill", "keras", DistillConfig)
def apply(model: LoadedModel, data: TechniqueData, cfg: DistillConfig) -> tuple[LoadedModel, StepRecord]:
    start = time.perf_counter()
    data = training.validated(model, data, cfg)
    if qat.is_quantized(model.handle):
        raise ConfigError("distill: the model is already quantization-aware; distill before qat")
    training.seed_everything(cfg.seed)
    metrics_init: list[str] = []
    if cfg.student is not None:
        student, scaled, kind = _given_student(cfg.student, model), [], "given"
    else:
        student, scaled = scaled_student(model.handle, cfg.width)
        kind = f"width {cfg.width}"
        if cfg.init == "teacher":
            metrics_init = init_from_teacher(student, model.handle)
    from_teacher = cfg.student is None and cfg.init == "teacher"  # trained weights: keep their BN statistics
    metrics = training.fit(student, data, cfg, label="distill", freeze_bn=from_teacher)
    metrics.update(
        initialised_from_teacher=metrics_init,
        student=kind,
        scaled_layers=scaled,
        params_teacher=int(model.handle.count_params()),
        params_student=int(student.count_params()),
        params_ratio=round(student.count_params() / max(1, model.handle.count_params()), 4),
        eval_top1_agreement=training.fidelity_on(student, data),
    )
    params = {"student": kind, **{k: getattr(cfg, k) for k in ("init", "epochs", "learning_rate", "temperature", "use_labels", "alpha", "seed")}}
    return dataclasses.replace(model, handle=student), training.record("distill", params, metrics, [], start)
