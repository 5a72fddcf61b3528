"""Which distillation loss each output is fine-tuned with, by what the build judges it by.

Softening both outputs and matching them by KL divergence (Hinton et al., 2015) is right for class
scores only: softmax is blind to a constant offset, so a regression head (MTCNN's box offsets, an
autoencoder's reconstruction) fine-tuned through it drifts in exactly the way its SQNR measures, and
an embedding is judged by cosine, not by an argmax over its dimensions. So each output gets the loss
of its kind (edge_sdk/model/tasks.py):

- classification, sequence: KL of the temperature-softened distributions, times T^2;
- regression, detection: mean squared error over the teacher's variance of that output (a scale-free
  1 / SQNR, comparable across outputs and with the KL terms);
- embedding: 1 - cosine similarity per sample.
"""

from __future__ import annotations

from typing import Any

LOSS_BY_KIND = {"classification": "kl", "sequence": "kl", "regression": "mse", "detection": "mse", "embedding": "cosine"}


def output_losses(kinds: tuple[str, ...], teacher: Any, n_outputs: int) -> tuple[str, ...]:
    """The loss of each output: from `kinds` (the build's), else inferred from the teacher model."""
    if not kinds:
        from edge_sdk.model import analyze
        from edge_sdk.model.tasks import output_kinds

        kinds = tuple(output_kinds(analyze(teacher)).values())
    if len(kinds) != n_outputs:
        raise ValueError(f"{len(kinds)} output kinds for {n_outputs} outputs")
    return tuple(LOSS_BY_KIND[kind] for kind in kinds)
