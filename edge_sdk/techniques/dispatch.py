"""Running and checking a plan step: the technique of the step's name for the model's framework.

Importing `edge_sdk.frameworks` here registers every framework's techniques, so the lookup never
depends on what else was imported.
"""

from __future__ import annotations

from typing import Any, Mapping

import edge_sdk.frameworks  # noqa: F401  (each framework package registers its techniques)
from edge_sdk.errors import ConfigError
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.contracts.records import StepRecord
from edge_sdk.techniques.base import TECHNIQUES, TechniqueData
from edge_sdk.techniques.config import RUNTIME_KEYS


def apply_step(name: str, model: LoadedModel, data: TechniqueData, config: dict) -> tuple[LoadedModel, StepRecord]:
    """Apply technique `name` as implemented for `model.framework` (ConfigError listing the valid names
    for that framework when it has none of that name); `config` is validated against its declaration."""
    return TECHNIQUES.get(name, model.framework)(model, data, config)


def validate_step(technique: str, params: Mapping[str, Any], framework: str) -> None:
    """Check a step's params against the declared config of `technique` for `framework`, before any
    work: ConfigError naming the technique and the field, or listing the valid technique names."""
    declared = TECHNIQUES.get(technique, framework)
    runtime = [key for key in RUNTIME_KEYS if key in params]
    if runtime:
        raise ConfigError(f"{technique}: {', '.join(runtime)} is set by the build (--seed, --quiet), not in a step's params")
    declared.config.parse(params, technique)
