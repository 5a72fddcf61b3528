"""The technique contract: `apply(model, data, config) -> (model, StepRecord)`.

`model` is a `LoadedModel` in and out (framework-specific handle inside; a technique returns a new
LoadedModel via `dataclasses.replace(model, handle=new_handle)` and never mutates its input).
`data` bundles what a step may train or calibrate on; there are never more samples than the user gave.
`config` is a plain dict: the technique's own parameters plus the common training keys below.

Technique names are user-facing and framework-neutral (`ptq`, `qat`, `prune`, `distill`, ...): the
registry is keyed by (name, framework) and a step runs the implementation of the model's framework.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from edge_sdk.data import Dataset
from edge_sdk.errors import EdgeSDKError
from edge_sdk.model.types import LoadedModel
from edge_sdk.records import StepRecord

Technique = Callable[[LoadedModel, "TechniqueData", dict], tuple[LoadedModel, StepRecord]]

# Common training keys every training technique accepts in `config` (with these defaults).
TRAINING_DEFAULTS: dict[str, Any] = {
    "epochs": 10,  # upper bound; early stopping on a plateau usually ends sooner
    "batch_size": 32,
    "learning_rate": 1e-4,
    "patience": 2,  # epochs without improvement of the monitored loss before stopping
    "temperature": 2.0,  # KD temperature for label-free losses
    "seed": 0,
    "progress": True,  # rich progress bars (off with --quiet)
}


class TechniqueRegistry:
    """Techniques by (name, framework); a failed lookup lists the valid names for that framework."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], Technique] = {}

    def register(self, name: str, framework: str) -> Callable[[Technique], Technique]:
        def decorator(technique: Technique) -> Technique:
            if (name, framework) in self._items:
                raise ValueError(f"technique {name!r} registered twice for {framework}")
            self._items[(name, framework)] = technique
            return technique

        return decorator

    def get(self, name: str, framework: str) -> Technique:
        try:
            return self._items[(name, framework)]
        except KeyError:
            valid = ", ".join(self.names(framework)) or "(none: these models are not compressed)"
            raise EdgeSDKError(f"unknown technique {name!r} for a {framework} model; valid: {valid}") from None

    def names(self, framework: str | None = None) -> list[str]:
        """Technique names of one framework, or of all of them."""
        return sorted({n for n, f in self._items if framework is None or f == framework})

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._items


TECHNIQUES = TechniqueRegistry()
register_technique = TECHNIQUES.register


@dataclass(frozen=True, eq=False)
class TechniqueData:
    train: Dataset  # what fine-tuning trains on (the user's train data, else the calibration data)
    calibration: Dataset  # for calibration and representative datasets
    teacher: LoadedModel  # the original, uncompressed model: the target of label-free losses
    eval: Dataset | None = None  # held-out data, for reporting only (never trained on)

    @property
    def labelled(self) -> bool:
        return self.train.has_labels


def training_config(config: dict) -> dict[str, Any]:
    """The common training keys with defaults filled in (technique keys pass through)."""
    return {**TRAINING_DEFAULTS, **config}
