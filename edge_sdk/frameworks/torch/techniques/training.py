"""The one torch training loop every torch technique fine-tunes with (QAT, pruning, distillation).

Same rules as the Keras loop (frameworks/keras/techniques/training.py): knowledge distillation from the original model,
every output by the loss of its kind (techniques/kd_loss.py: KL of temperature-softened class scores
times T^2, variance-scaled MSE for regression and detection, 1 - cosine for embeddings), plus
cross-entropy on the labels when the step uses them (`alpha` weights the two); seeded and deterministic; stops on a plateau of the epoch
loss; teacher outputs are computed once, so no more data is used than the user gave. It trains the
graph module of an exported program (`ep.module()`), so the result can be exported again.

The graph module accepts only the batches its program does (graph.batch_range): each optimizer step
of `batch_size` samples runs as micro-batches of an accepted size with their gradients accumulated
(a batch-1 program trains one sample at a time, with the same steps and learning rate as batch 32).
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from edge_sdk import deps, progress
from edge_sdk.data import Dataset
from edge_sdk.errors import ConfigError
from edge_sdk.frameworks.torch.graph import checked, chunks, is_quantized, require_torch, tensors
from edge_sdk.frameworks.torch.reference import run_eager
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.techniques.base import TechniqueData
from edge_sdk.techniques.config import TrainingConfig
from edge_sdk.techniques.kd_loss import output_losses


def seed_everything(seed: int) -> None:
    torch = deps.torch()
    torch.manual_seed(int(seed))
    np.random.seed(int(seed) % (2**32))


def train_set(model: LoadedModel, data: TechniqueData, cfg: TrainingConfig) -> Dataset:
    return checked(data.train, model, "training", cfg.max_samples)


def float_training_start(model: LoadedModel, data: TechniqueData, cfg: TrainingConfig, technique: str) -> Dataset:
    """What every technique that trains a float program checks first: a torch model, not quantized, and
    training data that fits it (seeded afterwards). Returns the checked training set."""
    require_torch(model, technique)
    if is_quantized(model.handle):
        raise ConfigError(f"{technique} needs a float model; {technique} before ptq / qat")
    train = train_set(model, data, cfg)
    seed_everything(cfg.seed)
    return train


def kd_train(
    module: Any,
    teacher: LoadedModel,
    train: Dataset,
    cfg: TrainingConfig,
    *,
    accepted: tuple[int, int | None] = (1, None),
    after_step: Callable[[], None] | None = None,
    min_epochs: int = 0,
    kinds: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Train `module` in place to match `teacher` on `train`, feeding it batches in the `accepted`
    range (graph.batch_range of its program); returns measured metrics. `min_epochs` keeps early
    stopping off until e.g. a pruning schedule has reached its target. Every output is matched by the
    loss of its kind (`kinds`, TechniqueData.output_kinds; techniques/kd_loss.py)."""
    torch = deps.torch()
    seed_everything(cfg.seed)
    start = time.perf_counter()
    arrays = list(train.inputs.values())
    targets = tensors(run_eager(teacher, arrays))
    losses = output_losses(kinds, teacher, len(targets))
    scales = [float(t.var()) + 1e-12 if loss == "mse" else 1.0 for t, loss in zip(targets, losses)]
    xs = tensors(arrays)
    use_labels = bool(cfg.use_labels and train.has_labels)
    labels = torch.from_numpy(train.labels) if use_labels else None
    params = [p for p in module.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.learning_rate)
    temp, alpha = cfg.temperature, cfg.alpha
    gen = torch.Generator().manual_seed(cfg.seed)
    best, stale, history = float("inf"), 0, []
    epochs = max(cfg.epochs, min_epochs)
    for epoch in range(epochs):
        order = torch.randperm(len(targets[0]), generator=gen).numpy()
        total = 0.0
        for s in range(0, len(order), cfg.batch_size):
            step = order[s : s + cfg.batch_size]
            opt.zero_grad()
            for part in chunks(step, accepted, cfg.batch_size):
                idx = torch.from_numpy(part)
                outs = module(*[x[idx] for x in xs])
                outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
                loss = sum(_term(kind, o, t[idx], temp, scale) for kind, o, t, scale in zip(losses, outs, targets, scales))
                if labels is not None:
                    loss = alpha * loss + (1 - alpha) * torch.nn.functional.cross_entropy(outs[0], labels[idx])
                (loss * (len(idx) / len(step))).backward()
                total += float(loss.detach()) * len(idx)
            opt.step()
            if after_step is not None:
                after_step()
        history.append(total / len(order))
        if cfg.progress:
            progress.report(f"    fine-tuning: epoch {epoch + 1}/{epochs}, loss {history[-1]:.4f}")
        if history[-1] < best - cfg.min_delta:
            best, stale = history[-1], 0
        else:
            stale += 1
            if stale >= cfg.patience and epoch + 1 >= min_epochs:
                break
    return {
        "epochs_run": len(history),
        "final_loss": round(history[-1], 6) if history else None,
        "train_samples": len(targets[0]),
        "losses": list(losses),
        "labels_used": use_labels,
        "train_s": round(time.perf_counter() - start, 3),
    }


def _term(kind: str, out: Any, target: Any, temperature: float, scale: float) -> Any:
    """One output's distillation loss (techniques/kd_loss.py): kl | mse | cosine."""
    torch = deps.torch()
    if kind == "kl":
        return torch.nn.functional.kl_div(
            torch.log_softmax(out / temperature, -1), torch.log_softmax(target / temperature, -1),
            reduction="batchmean", log_target=True,
        ) * temperature**2
    if kind == "mse":
        return torch.nn.functional.mse_loss(out, target) / scale
    return (1.0 - torch.nn.functional.cosine_similarity(out.reshape(len(out), -1), target.reshape(len(target), -1))).mean()
