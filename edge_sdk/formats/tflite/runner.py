"""LiteRT (ai-edge-litert) runner for `.tflite` artifacts: the runtime Android apps ship."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_sdk import deps
from edge_sdk.formats.common.quant import from_output, to_input

BATCH = 64


def model_bytes(artifact_or_bytes) -> bytes:
    """The flatbuffer of an Artifact (its main file), a path, or bytes as given."""
    if isinstance(artifact_or_bytes, (bytes, bytearray)):
        return bytes(artifact_or_bytes)
    path = artifact_or_bytes if isinstance(artifact_or_bytes, (str, Path)) else artifact_or_bytes.path
    return Path(path).read_bytes()


def input_order(details: list[dict], names: list[str]) -> list[int]:
    """For each model input name, the interpreter input index (by tensor name, else by position)."""
    order = []
    for pos, name in enumerate(names):
        match = [i for i, d in enumerate(details) if d["name"] in (name, f"serving_default_{name}:0")]
        order.append(match[0] if match else pos)
    return order


def run(artifact_or_bytes, inputs: dict[str, np.ndarray], reference=None) -> list[np.ndarray]:
    Interpreter = deps.litert_interpreter()
    interp = Interpreter(model_content=model_bytes(artifact_or_bytes), num_threads=1)
    in_details = interp.get_input_details()
    order = input_order(in_details, list(inputs))
    arrays = list(inputs.values())
    n = len(arrays[0])
    outs: list[list[np.ndarray]] = []
    for start in range(0, n, BATCH):
        chunk = [a[start : start + BATCH] for a in arrays]
        for arr, idx in zip(chunk, order):
            interp.resize_tensor_input(in_details[idx]["index"], list(arr.shape))
        interp.allocate_tensors()
        details = interp.get_input_details()
        for arr, idx in zip(chunk, order):
            interp.set_tensor(details[idx]["index"], to_input(arr, details[idx]))
        interp.invoke()
        outs.append([from_output(interp.get_tensor(d["index"]), d) for d in interp.get_output_details()])
    return [np.concatenate(parts) for parts in zip(*outs)]
