"""TensorFlow Lite Micro (Cortex-M firmware): full-integer `model.tflite` plus C++ sources (`exporter.py`),
run on the TFLM interpreter and cross-checked against LiteRT on the same flatbuffer (`runner.py`)."""

from dataclasses import replace

from edge_sdk.formats import tflite
from edge_sdk.formats.base import INT8_TOLERANCE, Format, Runtime
from edge_sdk.formats.tflm.exporter import export
from edge_sdk.formats.tflm.runner import measure, run

FORMAT = Format(
    name="tflm",
    exporter=export,
    runner=Runtime("tflm", "executed", run, measure=measure, cross_check="tflite"),
    frameworks={"keras": ("int8",), "tflite": ("int8",)},
    # int8 vs the float model, and vs LiteRT running the same flatbuffer (kernels may differ by
    # rounding, e.g. softmax LUTs, so not bit-exact).
    tolerances={"int8": {**INT8_TOLERANCE, "vs_litert_top1_agreement": 0.99, "vs_litert_cosine": 0.999}},
    size=replace(tflite.FORMAT.size, float_io=False),  # the same flatbuffer, with int8 I/O
)
