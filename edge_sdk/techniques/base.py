"""The technique contract: `apply(model, data, config) -> (model, StepRecord)`.

`model` is a `LoadedModel` in and out (framework-specific handle inside; a technique returns a new
LoadedModel via `dataclasses.replace(model, handle=new_handle)` and never mutates its input).
`data` bundles what a step may train or calibrate on; there are never more samples than the user gave.
`config` is a plain dict (the step's params plus the runtime keys seed/progress); the registered
`Technique` validates it against the technique's declared config class (config.py) and hands the
implementation the parsed, frozen config.

Technique names are user-facing and framework-neutral (`ptq`, `qat`, `prune`, `distill`, ...): the
registry is keyed by (name, framework) and a step runs the implementation of the model's framework.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from edge_sdk.data import Dataset
from edge_sdk.errors import ConfigError
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.contracts.records import StepRecord
from edge_sdk.techniques.config import TechniqueConfig

Result = tuple[LoadedModel, StepRecord]


@dataclass(frozen=True, eq=False)
class TechniqueData:
    train: Dataset  # what fine-tuning trains on (the user's train data, else the calibration data)
    calibration: Dataset  # for calibration and representative datasets
    teacher: LoadedModel  # the original, uncompressed model: the target of label-free losses
    eval: Dataset | None = None  # held-out data, for reporting only (never trained on)
    # each output's task kind in output order (edge_sdk/model/tasks.py: what the build judges it by);
    # () when the caller gives none: the training loops infer them from the teacher
    output_kinds: tuple[str, ...] = ()

    @property
    def labelled(self) -> bool:
        return self.train.has_labels


@dataclass(frozen=True)
class Technique:
    """One technique of one framework; calling it validates a plain-dict config, then runs."""

    name: str
    framework: str
    config: type[TechniqueConfig]
    run: Callable[[LoadedModel, TechniqueData, Any], Result]  # gets an instance of `config`

    def __call__(self, model: LoadedModel, data: TechniqueData, config: Mapping[str, Any]) -> Result:
        return self.run(model, data, self.config.parse(config, self.name))


class TechniqueRegistry:
    """Techniques by (name, framework); a failed lookup lists the valid names for that framework."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], Technique] = {}

    def register(self, name: str, framework: str, config: type[TechniqueConfig]) -> Callable[[Callable], Technique]:
        def decorator(run: Callable[[LoadedModel, TechniqueData, Any], Result]) -> Technique:
            if (name, framework) in self._items:
                raise ValueError(f"technique {name!r} registered twice for {framework}")
            technique = self._items[(name, framework)] = Technique(name, framework, config, run)
            return technique

        return decorator

    def get(self, name: str, framework: str) -> Technique:
        try:
            return self._items[(name, framework)]
        except KeyError:
            valid = ", ".join(self.names(framework)) or "(none: these models are not compressed)"
            raise ConfigError(f"unknown technique {name!r} for a {framework} model; valid: {valid}") from None

    def names(self, framework: str | None = None) -> list[str]:
        """Technique names of one framework, or of all of them."""
        return sorted({n for n, f in self._items if framework is None or f == framework})


TECHNIQUES = TechniqueRegistry()
register_technique = TECHNIQUES.register
