"""LiteRT `.tflite` (Android, Linux CPU): `model.tflite` converted from tf_keras (`exporter.py`), run on the
LiteRT interpreter (`runner.py`)."""

from edge_sdk.frameworks.keras.techniques.ptq import MODES
from edge_sdk.formats.base import Format, Runtime, SizeModel
from edge_sdk.formats.tflite.exporter import export
from edge_sdk.formats.tflite.runner import run

FORMAT = Format(
    name="tflite",
    exporter=export,
    runner=Runtime("litert", "executed", run),
    frameworks={
        "keras": MODES,
        "tflite": ("float32", "int8"),  # an existing flatbuffer runs as it is
    },
    # flatbuffer tables, shapes and names per tensor (measured with ai-edge-litert / TF 2.21)
    size=SizeModel(base_bytes=600, per_tensor_bytes=185, per_op_bytes=0, flatbuffer=True),
)
