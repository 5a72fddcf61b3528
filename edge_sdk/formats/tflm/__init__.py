"""TensorFlow Lite Micro (Cortex-M firmware): full-integer (int8 or int16x8) `model.tflite` plus C++ sources (`exporter.py`),
run on the TFLM interpreter and cross-checked against LiteRT on the same flatbuffer (`runner.py`)."""

from dataclasses import replace

from edge_sdk.formats import tflite
from edge_sdk.formats.base import Format, Runtime
from edge_sdk.formats.tflm.exporter import PRECISIONS, export
from edge_sdk.formats.tflite.runner import run_reference_kernels
from edge_sdk.formats.tflm.runner import measure, run

FORMAT = Format(
    name="tflm",
    exporter=export,
    runner=Runtime("tflm", "executed", run, measure=measure,
                   cross_check=Runtime("litert-reference", "executed", run_reference_kernels)),
    frameworks={"keras": PRECISIONS, "tflite": ("int8",)},
    size=replace(tflite.FORMAT.size, float_io=False),  # the same flatbuffer, with integer I/O
)
