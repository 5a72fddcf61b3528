"""Knowledge distillation into a thinner student: the original model (teacher) trains a smaller one.

The student is, by default, the teacher's own architecture with every Conv/Dense width (filters,
units) scaled by `width` - rebuilt from the model config, so Sequential and Functional topologies are
kept exactly - except the output layers, which keep their width. It starts from a fresh seeded
initialisation. A user's own student (`student`: a tf_keras/Keras 3 model or a model file) is used
instead when given. Loss: KL at temperature T against the teacher, plus cross-entropy on the labels
when the training set has them (`use_labels`, on by default here); label-free works.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from edge_sdk.compress import qat, rebuild, training
from edge_sdk.compress.base import TechniqueData, register_technique
from edge_sdk.errors import ConfigError
from edge_sdk.model.types import LoadedModel
from edge_sdk.records import StepRecord

DEFAULTS: dict[str, Any] = {
    "width": 0.5,  # multiplier on filters/units of every non-output Conv/Dense layer
    "student": None,  # a user-given student (model or file) instead of the width-scaled one
    "epochs": 60,  # a fresh student needs real training; early stopping ends sooner on a plateau
    "learning_rate": 2e-3,
    "patience": 8,  # from-scratch losses are noisy; do not stop on the first flat stretch
    "use_labels": True,  # add cross-entropy when the training set has labels
}
WIDTH_KEYS = ("filters", "units")


def scaled_student(teacher: Any, width: float) -> tuple[Any, list[str]]:
    """The teacher's architecture with non-output layer widths scaled (fresh weights) + scaled layer names."""
    config = rebuild.config_of(teacher)
    outputs = rebuild.output_layer_names(teacher)
    scaled = []
    for entry in config["layers"]:
        layer_cfg = entry["config"]
        if layer_cfg.get("name") in outputs:
            continue
        for key in WIDTH_KEYS:
            if isinstance(layer_cfg.get(key), int):
                layer_cfg[key] = max(1, int(round(layer_cfg[key] * width)))
                scaled.append(layer_cfg["name"])
        entry.pop("build_config", None)  # shapes changed; layers rebuild from their real inputs
    config["name"] = f"{config.get('name', 'model')}_student"
    return rebuild.from_config(teacher, config), scaled


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


@register_technique("distill")
def apply(model: LoadedModel, data: TechniqueData, config: dict) -> tuple[LoadedModel, StepRecord]:
    start = time.perf_counter()
    cfg = training.step_config(config, DEFAULTS)
    if cfg["student"] is None and not 0.0 < float(cfg["width"]) <= 1.0:
        raise ConfigError(f"distill: width must be in (0, 1]; got {cfg['width']}")
    data = training.validated(model, data, cfg)
    if qat.is_quantized(model.handle):
        raise ConfigError("distill: the model is already quantization-aware; distill before qat")
    training.seed_everything(cfg["seed"])
    if cfg["student"] is not None:
        student, scaled, kind = _given_student(cfg["student"], model), [], "given"
    else:
        student, scaled = scaled_student(model.handle, float(cfg["width"]))
        kind = f"width {cfg['width']}"
    metrics = training.fit(student, data, cfg, label="distill")
    metrics.update(
        student=kind,
        scaled_layers=scaled,
        params_teacher=int(model.handle.count_params()),
        params_student=int(student.count_params()),
        params_ratio=round(student.count_params() / max(1, model.handle.count_params()), 4),
        eval_top1_agreement=training.fidelity_on(student, data),
    )
    params = {"student": kind, **{k: cfg[k] for k in ("epochs", "learning_rate", "temperature", "use_labels", "alpha", "seed")}}
    return dataclasses.replace(model, handle=student), training.record("distill", params, metrics, [], start)
