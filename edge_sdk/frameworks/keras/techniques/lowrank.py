"""Low-rank factorisation: Dense and 1x1 Conv2D kernels split by truncated SVD into two thinner layers.

A kernel W (in x out) becomes A (in x r, no bias, linear) followed by B (r x out, the original bias and
activation), with A = U_r sqrt(S_r) and B = sqrt(S_r) V_r^T. The rank r keeps `energy` of the squared
singular values; or, when `param_ratio` is set, fits r*(in+out) <= param_ratio*in*out; or, when
`rank_fraction` is set, is rank_fraction * min(in, out) (the planner's low-rank rung, whose estimate
assumes exactly that). Layers where the
factorisation would not save parameters are left alone (and named in the record). The model is rebuilt
from its config (B keeps the original layer name, so the topology and every other weight carry over),
then fine-tuned label-free against the original model. Output layers are left alone by default.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from pydantic import model_validator

from edge_sdk import deps
from edge_sdk.frameworks.keras.techniques import training
from edge_sdk.frameworks.keras.techniques.layer_split import Split, split_and_finetune
from edge_sdk.frameworks.keras.techniques.training import KerasTrainingConfig
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.contracts.records import StepRecord
from edge_sdk.techniques.base import TechniqueData, register_technique
from edge_sdk.techniques.config import Count, Fraction, Positive, UpToOne

SUFFIX = "_lowrank"


class LowRankConfig(KerasTrainingConfig):
    energy: UpToOne = 0.9  # fraction of sum(S^2) kept when choosing the rank
    param_ratio: Fraction | None = None  # e.g. 0.5: rank from a per-layer parameter budget instead
    rank_fraction: Fraction | None = None  # e.g. 0.25: rank = rank_fraction * min(in, out) instead
    layers: tuple[str, ...] | None = None  # names to factorise; default every Dense and 1x1 Conv2D
    include_output: bool = False  # also factorise the model's output layers
    epochs: Count = 6
    learning_rate: Positive = 5e-4

    @model_validator(mode="after")
    def _one_rank_rule(self) -> LowRankConfig:
        if self.param_ratio is not None and self.rank_fraction is not None:
            raise ValueError("param_ratio and rank_fraction both choose the rank: set one of them")
        return self


def choose_rank(singular: np.ndarray, n_in: int, n_out: int, cfg: LowRankConfig) -> int:
    if cfg.rank_fraction is not None:
        rank = int(cfg.rank_fraction * min(n_in, n_out))
    elif cfg.param_ratio is not None:
        rank = int(cfg.param_ratio * n_in * n_out // (n_in + n_out))
    else:
        energy = np.cumsum(singular**2) / max(float((singular**2).sum()), 1e-30)
        rank = int(np.searchsorted(energy, cfg.energy - 1e-9) + 1)
    return max(1, min(rank, len(singular)))


def factor(kernel2d: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(A, B, energy kept) with A @ B the best rank-`rank` approximation of `kernel2d`."""
    u, s, vt = np.linalg.svd(kernel2d.astype(np.float64), full_matrices=False)
    root = np.sqrt(s[:rank])
    kept = float((s[:rank] ** 2).sum() / max((s**2).sum(), 1e-30))
    return (u[:, :rank] * root).astype(np.float32), (root[:, None] * vt[:rank]).astype(np.float32), kept


def _candidate(layer: Any) -> bool:
    tfk = deps.tf_keras()
    if type(layer) is tfk.layers.Dense:
        return True
    return (
        type(layer) is tfk.layers.Conv2D
        and tuple(layer.kernel_size) == (1, 1)
        and layer.groups == 1
        and layer.data_format == "channels_last"
    )


def _split_entry(entry: dict, rank: int, functional: bool) -> tuple[dict, dict]:
    """Config entries (A, B) replacing one Dense/Conv2D entry; B keeps the name, so consumers are unchanged."""
    name = entry["config"]["name"]
    first = dict(entry, config={**entry["config"], "name": name + SUFFIX, "use_bias": False, "activation": "linear"})
    first["config"].update({"units": rank} if "units" in entry["config"] else {"filters": rank})
    first["config"].update({"kernel_regularizer": None, "activity_regularizer": None, "kernel_constraint": None})
    second = {k: v for k, v in entry.items() if k != "build_config"}
    second["config"] = dict(entry["config"])
    if "filters" in entry["config"]:
        second["config"].update({"strides": [1, 1], "padding": "valid", "dilation_rate": [1, 1]})
    if functional:
        first["name"] = name + SUFFIX
        second["inbound_nodes"] = [[[name + SUFFIX, 0, 0, {}]]]
    return first, second


@register_technique("lowrank", "keras", LowRankConfig)
def apply(model: LoadedModel, data: TechniqueData, cfg: LowRankConfig) -> tuple[LoadedModel, StepRecord]:
    start = time.perf_counter()

    def split(layer: Any, entry: dict, functional: bool) -> Split | str | None:
        if not _candidate(layer):
            return None
        kernel = layer.kernel.numpy()
        n_in, n_out = int(np.prod(kernel.shape[:-1])), int(kernel.shape[-1])
        singular = np.linalg.svd(kernel.reshape(n_in, n_out), compute_uv=False)
        rank = choose_rank(singular, n_in, n_out, cfg)
        if rank * (n_in + n_out) >= n_in * n_out:
            return f"rank {rank} would not save parameters; left dense"
        a, b, kept = factor(kernel.reshape(n_in, n_out), rank)
        b = b.reshape(*(1,) * (kernel.ndim - 2), rank, n_out)
        weights = {layer.name + SUFFIX: [a.reshape(*kernel.shape[:-1], rank)],
                   layer.name: [b, layer.bias.numpy()] if layer.use_bias else [b]}
        bias = n_out if layer.use_bias else 0
        record = {"rank": rank, "energy_kept": round(kept, 4), "params_before": n_in * n_out + bias,
                  "params_after": rank * (n_in + n_out) + bias}
        return Split(list(_split_entry(entry, rank, functional)), weights, record)

    student, metrics, notes = split_and_finetune(
        model, data, cfg, "lowrank", split, "no Dense/1x1 Conv2D layer to factorise (or none would save parameters)")
    params = {k: getattr(cfg, k) for k in ("energy", "param_ratio", "rank_fraction", "include_output", "epochs", "learning_rate", "seed")}
    return student, training.record("lowrank", params, metrics, notes, start)
