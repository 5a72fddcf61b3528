"""Bridge keras.applications models (weights=None: no download) to tf_keras and print, per model, the
bridge time and the max abs difference of the logits on random images.

    .venv/bin/python scripts/check_keras_bridge.py [MobileNetV2 MobileNetV3Small ...]
"""

from __future__ import annotations

import sys
import time

import numpy as np

from edge_sdk import deps
from edge_sdk.errors import ModelLoadError
from edge_sdk.frameworks.keras.bridge import bridge_model

DEFAULT = ["MobileNetV2", "MobileNetV3Small", "MobileNetV3Large", "EfficientNetB0", "ResNet50"]


def main(names: list[str]) -> None:
    keras = deps.keras3()
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (2, 96, 96, 3)).astype("float32")
    for name in names:
        model = getattr(keras.applications, name)(weights=None, input_shape=(96, 96, 3), classifier_activation=None)
        for layer in model.layers:  # non-trivial BN statistics
            if type(layer).__name__ == "BatchNormalization":
                shapes = [w.shape for w in layer.weights]
                layer.set_weights([rng.uniform(0.5, 1.5, shapes[0]), rng.normal(0, 0.1, shapes[1]),
                                   rng.normal(0, 0.1, shapes[2]), rng.uniform(0.5, 2.0, shapes[3])])
        start = time.perf_counter()
        try:
            bridged = bridge_model(model)
        except ModelLoadError as exc:
            print(f"{name}: not bridged: {exc}")
            continue
        seconds = time.perf_counter() - start
        ref = np.asarray(model.predict(x, verbose=0))
        got = bridged.predict(x, verbose=0)
        print(f"{name}: layers={len(model.layers)} params={model.count_params()} bridge_s={seconds:.1f} "
              f"max_abs_logit={np.abs(ref).max():.3g} max_abs_diff={np.abs(ref - got).max():.3g}")


if __name__ == "__main__":
    main(sys.argv[1:] or DEFAULT)
