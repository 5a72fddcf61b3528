"""One folder per framework (keras, torch, tflite), each registering its `Frontend` (base.py) in
FRONTENDS: loading, analysis, the reference runner, the build cache's model file, graph utilities,
its compression techniques and its ladder rungs. Generic code looks the model's framework up here
instead of branching on framework names.

Each framework package is imported here explicitly so the registry never depends on import order.
Heavy frameworks (TensorFlow, torch, ...) are imported only inside functions, through `edge_sdk.deps`.
"""

from edge_sdk.frameworks import keras, tflite, torch  # noqa: F401  (fill FRONTENDS)
from edge_sdk.frameworks.base import FRONTENDS, CacheFormat, Frontend

__all__ = ["FRONTENDS", "CacheFormat", "Frontend"]
