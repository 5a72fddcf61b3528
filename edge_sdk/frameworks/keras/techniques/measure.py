"""Measure what compression produced on the real runtime: LiteRT accuracy, gzip size, int8 sparsity.

Used by the compression tests and scripts/bench_compress.py so that sizes and accuracies are of the
exported `.tflite`, executed in ai_edge_litert, never of the Keras model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_sdk import deps
from edge_sdk.data import Dataset

WEIGHT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")


def _interpreter(flatbuffer: bytes) -> Any:
    interpreter = deps.litert_interpreter()(model_content=flatbuffer)
    interpreter.allocate_tensors()
    return interpreter


def tflite_predict(flatbuffer: bytes, data: Dataset) -> np.ndarray:
    """The .tflite's first output on every sample, executed in LiteRT (the shared runner; float outputs)."""
    from edge_sdk.formats.tflite.runner import run

    return run(flatbuffer, data.inputs)[0]


def tflite_accuracy(flatbuffer: bytes, data: Dataset) -> float:
    """Top-1 accuracy in points (0-100) of the .tflite on a labelled set, executed in LiteRT."""
    if data.labels is None:
        raise ValueError(f"{data.source}: accuracy needs labels ('y')")
    return float((tflite_predict(flatbuffer, data).argmax(-1) == data.labels).mean() * 100.0)


def keras_accuracy(handle: Any, data: Dataset) -> float:
    """Top-1 accuracy in points of a tf_keras model (for models before export)."""
    out = np.asarray(handle.predict(data.as_model_input(), batch_size=256, verbose=0))
    return float((out.argmax(-1) == data.labels).mean() * 100.0)


def weight_sparsity(flatbuffer: bytes) -> dict[str, float]:
    """Fraction of exact zeros in each conv/dense weight tensor as stored in the flatbuffer (e.g. int8)."""
    interpreter = _interpreter(flatbuffer)
    details = {d["index"]: d for d in interpreter.get_tensor_details()}
    found: dict[str, float] = {}
    for op in interpreter._get_ops_details():  # the public API has no op -> tensor map
        if op["op_name"] not in WEIGHT_OPS or len(op["inputs"]) < 2:
            continue
        index = int(op["inputs"][1])
        weights = interpreter.get_tensor(index)
        found[details[index]["name"]] = float((weights == 0).mean())
    return found


def tflite_params(flatbuffer: bytes) -> int:
    """Weights + biases of the conv/dense ops in the flatbuffer (BatchNorm already folded in)."""
    interpreter = _interpreter(flatbuffer)
    sizes = {d["index"]: int(np.prod(d["shape"])) for d in interpreter.get_tensor_details()}
    constants = set()
    for op in interpreter._get_ops_details():
        if op["op_name"] in WEIGHT_OPS:
            constants.update(int(i) for i in op["inputs"][1:] if i >= 0)
    return sum(sizes[i] for i in constants)
