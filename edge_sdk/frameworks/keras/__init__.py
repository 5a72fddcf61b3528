"""Keras: tf_keras `.keras`/`.h5`/SavedModel files and in-memory models, Keras 3 through the bridge.

Loading and the trust scan (loading.py), the Keras 3 bridge (bridge.py, translate.py), analysis
(analysis.py, ops.py), the reference runner (reference.py), the build cache's `.h5` (cache.py), the
ladder rungs for TFLite/TFLM targets (rungs.py) and the Keras techniques (techniques/).
"""

from edge_sdk.frameworks.base import CacheFormat, Frontend, register_frontend
from edge_sdk.frameworks.keras import analysis, cache, loading, reference, rungs, techniques  # noqa: F401  (techniques: registers them)

register_frontend(
    Frontend(
        name="keras",
        suffixes=(".keras", ".h5", ".hdf5"),
        accepts=".keras, .h5, a SavedModel dir",
        directories=True,
        detect=loading.detect,
        load=lambda path, fmt, trust_model: loading.load(path, fmt, trust_model=trust_model),
        analyze=analysis.analyze_keras,
        formats=("tflite", "tflm", "coreml"),
        claims=loading.is_keras_model,
        wrap=lambda model, example_inputs: loading.wrap(model),
        reference=reference.run,
        cache=CacheFormat(cache.FILE, cache.save, cache.load),
        rungs=rungs.rungs,
    )
)
