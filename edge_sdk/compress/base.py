"""The technique contract: `apply(model, data, config) -> (model, StepRecord)`.

`model` is a `LoadedModel` in and out (framework-specific handle inside; a technique returns a new
LoadedModel via `dataclasses.replace(model, handle=new_handle)` and never mutates its input).
`data` bundles what a step may train or calibrate on; there are never more samples than the user gave.
`config` is a plain dict: the technique's own parameters plus the common training keys below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from edge_sdk.data import Dataset
from edge_sdk.model.types import LoadedModel
from edge_sdk.records import StepRecord
from edge_sdk.registry import Registry

Technique = Callable[[LoadedModel, "TechniqueData", dict], tuple[LoadedModel, StepRecord]]
TECHNIQUES: Registry[Technique] = Registry("technique")
register_technique = TECHNIQUES.register

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


def apply_step(name: str, model: LoadedModel, data: TechniqueData, config: dict) -> tuple[LoadedModel, StepRecord]:
    return TECHNIQUES.get(name)(model, data, config)
