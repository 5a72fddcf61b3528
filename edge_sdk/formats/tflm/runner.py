"""TensorFlow Lite Micro runner: the `tflite_micro` Python interpreter (TFLM's reference kernels, the
same C++ interpreter and memory planner firmware links), one sample per invoke as on a device.

The arena is measured with TFLM's RecordingMicroAllocator (`print_allocations`), which reports the
bytes the planner really placed (head: activations and scratch) plus persistent allocations (tail).
The host build is 64-bit, so pointer-sized structs are larger than on a 32-bit Cortex-M: the measured
number is an upper bound for the device (not counting optimized-kernel scratch, e.g. CMSIS-NN im2col,
which the arena margin covers).
"""

from __future__ import annotations

import re
import sys
import tempfile

import numpy as np

from edge_sdk import deps
from edge_sdk.errors import UnsupportedOpError
from edge_sdk.formats.base import RuntimeCrashed
from edge_sdk.formats.common.flatbuffer import read_graph
from edge_sdk.formats.common.quant import from_output, to_input
from edge_sdk.formats.tflite.runner import input_order, model_bytes, output_names_of, output_order

_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")
_HEAD = re.compile(r"Arena allocation head (\d+) bytes")
_TAIL = re.compile(r"Arena allocation tail (\d+) bytes")
MAX_PROBE_ARENA = 256 << 20


_probed: set[str] = set()


class TFLMCrashed(RuntimeCrashed):
    """TFLM's interpreter aborted loading the model (a tflite-micro bug or limit, not a user error)."""


def _survives_loading(flatbuffer: bytes, arena_size: int) -> None:
    """Load the model once in a child process first: TFLM's interpreter can abort() the whole process
    on a model it mishandles, which must end this candidate with a clear error, not the build."""
    import hashlib
    import subprocess

    key = hashlib.sha256(flatbuffer).hexdigest()
    if key in _probed:
        return
    with tempfile.NamedTemporaryFile(suffix=".tflite") as f:
        f.write(flatbuffer)
        f.flush()
        code = "import sys\nfrom tflite_micro import runtime\nruntime.Interpreter.from_bytes(open(sys.argv[1], 'rb').read(), arena_size=int(sys.argv[2]))\n"
        proc = subprocess.run([sys.executable, "-c", code, f.name, str(arena_size)], capture_output=True, text=True, timeout=600)
    if proc.returncode < 0:
        raise TFLMCrashed(
            f"TFLite Micro's host interpreter crashed (signal {-proc.returncode}) loading this model "
            "(a tflite-micro bug or limit), so its arena could not be measured"
        )
    _probed.add(key)


def interpreter(flatbuffer: bytes, arena_size: int | None = None):
    """A TFLM interpreter for `flatbuffer`; grows a probe arena until allocation succeeds."""
    runtime = deps.tflite_micro().runtime
    _survives_loading(flatbuffer, arena_size or MAX_PROBE_ARENA)
    size = arena_size or max(64 << 10, 4 * len(flatbuffer))
    while True:
        with deps.captured_native_stderr() as log:
            try:
                interp = runtime.Interpreter.from_bytes(flatbuffer, arena_size=size)
            except RuntimeError:
                interp = None
        if interp is not None:
            return interp
        missing = [line.strip() for line in log[0].splitlines() if "Didn't find op" in line]
        if missing:
            raise UnsupportedOpError(f"TFLite Micro cannot run this model: {missing[0]}")
        if arena_size is not None or size >= MAX_PROBE_ARENA:
            detail = log[0].strip().splitlines()[-1] if log[0].strip() else "allocation failed"
            raise UnsupportedOpError(f"TFLite Micro could not allocate the model ({detail})")
        size *= 4


def measure_arena(artifact_or_bytes) -> dict[str, int]:
    """Arena bytes used after allocation and one invoke: total, head (planned), tail (persistent)."""
    flatbuffer = model_bytes(artifact_or_bytes)
    interp = interpreter(flatbuffer)
    _zero_inputs(interp, flatbuffer)
    interp.invoke()
    with deps.captured_native_stderr() as log:
        interp.print_allocations()
    found = {k: rx.search(log[0]) for k, rx in (("total", _TOTAL), ("head", _HEAD), ("tail", _TAIL))}
    if not all(found.values()):
        raise RuntimeError(f"TFLM did not report its arena allocations: {log[0][:200]!r}")
    return {f"arena_{k}_bytes": int(m.group(1)) for k, m in found.items()}  # type: ignore[union-attr]


def fits_in_arena(flatbuffer: bytes, size: int) -> bool:
    """Does the model allocate and invoke in an arena of exactly `size` bytes (as the harness's
    kTensorArenaSize gives it)?"""
    runtime = deps.tflite_micro().runtime
    with deps.captured_native_stderr():
        try:
            interp = runtime.Interpreter.from_bytes(flatbuffer, arena_size=size)
            _zero_inputs(interp, flatbuffer)
            interp.invoke()
        except RuntimeError:
            return False
    return True


def _zero_inputs(interp, flatbuffer: bytes) -> None:
    for i in range(len(read_graph(flatbuffer).inputs)):
        d = interp.get_input_details(i)
        interp.set_input(np.zeros(tuple(d["shape"]), dtype=d["dtype"]), i)


def measure(artifact) -> dict:
    """What verification reports as measured: the arena."""
    arena = measure_arena(artifact)
    return {"arena_bytes": arena["arena_total_bytes"], **arena}


def run(artifact_or_bytes, inputs: dict[str, np.ndarray], reference=None) -> list[np.ndarray]:
    flatbuffer = model_bytes(artifact_or_bytes)
    interp = interpreter(flatbuffer)
    graph = read_graph(flatbuffer)
    order = input_order([{"name": graph.tensors[t].name} for t in graph.inputs], list(inputs))
    arrays = list(inputs.values())
    in_details = [interp.get_input_details(i) for i in range(len(graph.inputs))]
    out_details = [interp.get_output_details(i) for i in range(len(graph.outputs))]
    results: list[list[np.ndarray]] = [[] for _ in out_details]
    for s in range(len(arrays[0])):
        for arr, i in zip(arrays, order):
            d = in_details[i]
            interp.set_input(to_input(arr[s : s + 1], d).reshape(tuple(d["shape"])), i)
        interp.invoke()
        for j, d in enumerate(out_details):
            results[j].append(from_output(interp.get_output(j), d))
    merged = [np.concatenate(r) for r in results]
    names = output_names_of(reference)
    if len(names) < 2:
        return merged
    litert = deps.litert_interpreter()(model_content=flatbuffer)  # reads the signature TFLM does not expose
    return [merged[i] for i in output_order(litert, names)]
