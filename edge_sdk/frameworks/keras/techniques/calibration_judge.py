"""How close a quantized flatbuffer comes to the float model on the calibration data: the measure the
PTQ searches (int8-mixed's float fallback, int8-tuned's range setting and bias correction) choose by before the build
judges the artifact on eval data."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_sdk.data import Dataset
from edge_sdk.fidelity import DEFAULT_MIN_FIDELITY, misses, output_fidelity
from edge_sdk.formats.tflite.runner import run_named
from edge_sdk.frameworks.keras.reference import keras_outputs
from edge_sdk.verify import fidelity


class CalibrationJudge:
    def __init__(self, model: Any, calibration: Dataset, samples: int, floor: dict[str, float] | None,
                 kinds: dict[str, str] | None):
        self.inputs = {name: v[:samples] for name, v in calibration.inputs.items()}
        self.output_names = [t.name.split(":")[0] for t in model.outputs]
        self.reference = keras_outputs(model, self.inputs)
        self.floor, self.kinds = floor or DEFAULT_MIN_FIDELITY, kinds

    def outputs(self, flatbuffer: bytes) -> list[np.ndarray]:
        return run_named(flatbuffer, self.inputs, self.output_names)

    def sqnr_db(self, outputs: list[np.ndarray]) -> list[float]:
        """Each output's SQNR against the float model."""
        return [output_fidelity("", "regression", r, g).metrics["sqnr_db"] for r, g in zip(self.reference, outputs)]

    def misses(self, outputs: list[np.ndarray]) -> list[tuple[str, float]]:
        """What misses the floor, each output by its kind's metrics, with the relative shortfall."""
        return misses(fidelity(self.reference, outputs, self.kinds).outputs, self.floor)
