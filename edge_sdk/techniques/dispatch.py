"""Running a plan step: the technique of the step's name for the model's framework.

Importing `edge_sdk.frameworks` here registers every framework's techniques, so the lookup never
depends on what else was imported.
"""

from __future__ import annotations

import edge_sdk.frameworks  # noqa: F401  (each framework package registers its techniques)
from edge_sdk.model.types import LoadedModel
from edge_sdk.records import StepRecord
from edge_sdk.techniques.base import TECHNIQUES, TechniqueData


def apply_step(name: str, model: LoadedModel, data: TechniqueData, config: dict) -> tuple[LoadedModel, StepRecord]:
    """Apply technique `name` as implemented for `model.framework` (EdgeSDKError listing the valid names
    for that framework when it has none of that name)."""
    return TECHNIQUES.get(name, model.framework)(model, data, config)
