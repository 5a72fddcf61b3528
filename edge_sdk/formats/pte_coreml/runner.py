"""`pte-coreml` programs hold a Core ML delegate blob that only Apple's runtime can execute: on Linux
that is reported as not run."""

from __future__ import annotations

import numpy as np


def run(artifact_or_path, inputs: dict[str, np.ndarray], reference=None) -> list[np.ndarray]:
    raise NotImplementedError(
        "a pte-coreml program runs its Core ML delegate only on Apple devices (coremltools cannot predict on Linux)"
    )
