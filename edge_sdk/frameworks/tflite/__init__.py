"""TFLite: an already converted `.tflite` flatbuffer, for `inspect` and `bench` only (never compressed,
verified against or rebuilt, so no reference, cache format or rungs)."""

from edge_sdk.frameworks.base import Frontend, register_frontend
from edge_sdk.frameworks.tflite import analysis, loading

register_frontend(
    Frontend(
        name="tflite",
        suffixes=(".tflite",),
        accepts=".tflite",
        detect=loading.detect,
        load=lambda path, fmt, trust_model: loading.load(path),
        analyze=analysis.analyze_tflite,
        formats=("tflite", "tflm"),
    )
)
