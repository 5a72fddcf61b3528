"""How much of each layer to prune, and when: shared by the Keras and PyTorch `prune` techniques.

- **Scope.** `local`: every prunable layer loses the same fraction of its weights. `global`: one
  magnitude threshold over all prunable weights, so a layer with many small weights gives up more of
  them and a small, sensitive one (a first conv, a classifier) fewer; the total fraction is the same.
  Each layer is capped at MAX_LAYER_SPARSITY so none is emptied.
- **Schedule.** One-shot (`prune_epochs: 0`): the final masks from the first step on. Iterative
  (`prune_epochs: k`): sparsity ramps 0 -> target along Zhu & Gupta's cubic curve ("To prune, or not
  to prune", 2017; TFMOT's PolynomialDecay with power 3), masks recomputed a few times per epoch, the
  model fine-tuned between updates and after the last one.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

MAX_LAYER_SPARSITY = 0.98  # a global threshold never empties a layer


def layer_sparsities(magnitudes: Mapping[str, np.ndarray], sparsity: float, scope: str) -> dict[str, float]:
    """Each layer's target fraction of zeros: `sparsity` everywhere (local) or from one threshold over
    every weight's |w| (global), capped at MAX_LAYER_SPARSITY."""
    if scope == "local":
        return {name: sparsity for name in magnitudes}
    values = np.concatenate([np.abs(m).reshape(-1) for m in magnitudes.values()])
    k = int(round(values.size * sparsity))
    threshold = np.partition(values, k - 1)[k - 1] if k else -np.inf
    return {name: round(min(MAX_LAYER_SPARSITY, float((np.abs(m) <= threshold).mean())), 4) for name, m in magnitudes.items()}


def ramp(step: int, end_step: int, final: float) -> float:
    """The target sparsity at `step` of a cubic ramp reaching `final` at `end_step` (one-shot: end_step 0)."""
    if end_step <= 0 or step >= end_step:
        return final
    return final * (1.0 - (1.0 - step / end_step) ** 3)
