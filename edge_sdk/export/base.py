"""The exporter contract: `export(model, profile, config, out_dir) -> Artifact`.

`model` is a `LoadedModel` (tf_keras or torch handle); `out_dir` is where the artifact's files go (the
caller passes a temp dir and renames it into place, so a failed export leaves nothing behind).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from edge_sdk.data import Dataset
from edge_sdk.model.types import LoadedModel
from edge_sdk.profiles import Profile
from edge_sdk.records import Artifact
from edge_sdk.registry import Registry

Exporter = Callable[[LoadedModel, Profile, "ExportConfig", Path], Artifact]
EXPORTERS: Registry[Exporter] = Registry("exporter")
register_exporter = EXPORTERS.register


@dataclass(frozen=True, eq=False)
class ExportConfig:
    precision: str = "float32"  # float32 | float16 | dynamic-int8 | int8 | int16x8
    io_dtype: str = "float32"  # int8 for full-integer targets (TFLM, NPUs)
    calibration: Dataset | None = None
    max_calibration_samples: int = 200
    # Core ML weight compression (coremltools.optimize.coreml): None | linear8 | palettize4 |
    # palettize6 | palettize8 | sparse | sparse-palettize4
    coreml_compression: str | None = None
    sparsity_aware: bool = False  # the model was pruned: keep zeros through conversion
    arena_margin: float = 0.10  # TFLM: arena given to the harness = measured * (1 + margin), 16-byte aligned
    seed: int = 0
