"""ONNX Runtime runner for `.onnx` artifacts (CPU execution provider): what verifies an ONNX model here.
The engine TensorRT builds from the file on the board (its kernels, its fp16/int8 choices) is built and
timed there (`edge-sdk bench`); this checks the file's numerics against the original model."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from edge_sdk import deps

LATENCY_RUNS = 20


def session(artifact_or_path, *, emulate_fp16: bool = False) -> object:
    """An ONNX Runtime CPU session of the file, or of its float16 emulation (`emulate_fp16`)."""
    ort = deps.module("onnxruntime")
    path = Path(artifact_or_path if isinstance(artifact_or_path, (str, Path)) else artifact_or_path.path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # reproducible numerics and timings
    # Q/DQ pairs run as written (dequantize, float op, quantize: TensorRT's explicit-quantization math),
    # not fused into ONNX Runtime's int8 CPU kernels: without VNNI those multiply int8 x int8 through
    # AVX2's saturating VPMADDUBSW, and a correct int8 model measured top-1 0.93 on a host that lacks it
    options.add_session_config_entry("session.disable_quant_qdq", "1")
    model = float16_emulated(path) if emulate_fp16 else str(path)
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def float16_emulated(path: Path) -> bytes:
    """The model with every float initializer rounded to float16 and every float tensor an op produces
    passed through a float16 Cast and back: TensorRT's --fp16 storage of weights and activations, in
    ops ONNX Runtime's CPU provider runs (it has no float16 Conv on x86)."""
    onnx = deps.module("onnx")
    from onnx import helper, numpy_helper

    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    graph, FLOAT = model.graph, onnx.TensorProto.FLOAT
    for i, init in enumerate(graph.initializer):
        if init.data_type == FLOAT:
            rounded = numpy_helper.to_array(init).astype(np.float16).astype(np.float32)
            graph.initializer[i].CopyFrom(numpy_helper.from_array(rounded, init.name))
    floats = {v.name for v in list(graph.value_info) + list(graph.output) if v.type.tensor_type.elem_type == FLOAT}
    nodes = []
    for node in graph.node:
        nodes.append(node)
        for k, out in enumerate(node.output):
            if out in floats:
                node.output[k] = f"{out}__f32"
                nodes.append(helper.make_node("Cast", [f"{out}__f32"], [f"{out}__f16"], to=onnx.TensorProto.FLOAT16))
                nodes.append(helper.make_node("Cast", [f"{out}__f16"], [out], to=FLOAT))
    del graph.node[:]
    graph.node.extend(nodes)
    return model.SerializeToString()


def run(artifact_or_path, inputs: dict[str, np.ndarray], reference=None) -> list[np.ndarray]:
    """Outputs on every sample, in batches of the file's static batch (else 64)."""
    flags = getattr(artifact_or_path, "details", {}).get("engine_flags", [])
    sess = session(artifact_or_path, emulate_fp16="--fp16" in flags)  # the engine's numerics, emulated
    feeds = sess.get_inputs()
    batch = feeds[0].shape[0] if isinstance(feeds[0].shape[0], int) else 64
    arrays = list(inputs.values())
    outs: list[list[np.ndarray]] = []
    for start in range(0, len(arrays[0]), batch):
        chunk = [np.ascontiguousarray(a[start:start + batch]) for a in arrays]
        real = len(chunk[0])
        if real < batch and isinstance(feeds[0].shape[0], int):
            chunk = [np.concatenate([c, np.zeros((batch - real, *c.shape[1:]), c.dtype)]) for c in chunk]
        results = sess.run(None, {f.name: c.astype(np.dtype(_np_type(f.type)), copy=False) for f, c in zip(feeds, chunk)})
        outs.append([r[:real] for r in results])
    return [np.concatenate([o[i] for o in outs]).astype(np.float32) for i in range(len(outs[0]))]


def _np_type(onnx_type: str) -> str:
    """'tensor(float)' -> float32, 'tensor(int64)' -> int64."""
    name = onnx_type.removeprefix("tensor(").removesuffix(")")
    return {"float": "float32", "double": "float64", "float16": "float16"}.get(name, name)


def measure(artifact) -> dict:
    """Host latency of one inference (ONNX Runtime CPU, 1 thread): a sanity figure, not the GPU's."""
    sess = session(artifact)
    feeds = {f.name: np.zeros([d if isinstance(d, int) else 1 for d in f.shape], np.dtype(_np_type(f.type)))
             for f in sess.get_inputs()}
    for _ in range(3):
        sess.run(None, feeds)
    times = []
    for _ in range(LATENCY_RUNS):
        start = time.perf_counter()
        sess.run(None, feeds)
        times.append((time.perf_counter() - start) * 1000)
    return {"latency_ms_host": {"p50": statistics.median(times), "min": min(times), "max": max(times), "runs": LATENCY_RUNS}}
