"""ExecuTorch runner for `.pte` artifacts: the real runtime (Python bindings, `executorch.runtime`),
with the XNNPACK delegate and the portable kernels compiled in.

A `.pte` has a static batch (usually 1, see Artifact.details["batch"]): samples run in chunks of it.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from edge_sdk import deps
from edge_sdk.frameworks.torch.reference import predict

LATENCY_RUNS = 20


def load_method(artifact_or_path) -> object:
    # the quantized kernels (embedding_byte, ...) register on import; without them a dynamic-int8 .pte with
    # quantized embeddings fails to load ("Missing operator") in any process that did not quantize it
    import executorch.kernels.quantized  # noqa: F401
    from executorch.runtime import Runtime

    path = artifact_or_path if isinstance(artifact_or_path, (str, Path)) else artifact_or_path.path
    return Runtime.get().load_program(Path(path)).load_method("forward")


def run_pte(artifact_or_path, inputs: dict[str, np.ndarray], reference=None) -> list[np.ndarray]:
    """Outputs of the .pte on every sample (input order = the model's), as float arrays."""
    method = load_method(artifact_or_path)
    details = getattr(artifact_or_path, "details", {}) or {}
    outs = predict(lambda *xs: [o.clone() for o in method.execute(list(xs))], list(inputs.values()), details.get("batch", 1))
    return [o.astype(np.float32) for o in outs]


def host_latency_ms(artifact_or_path, inputs: list, runs: int = LATENCY_RUNS, warmup: int = 3) -> dict[str, float]:
    """Median / min / max host latency of one batch-1 inference, in ms."""
    method = load_method(artifact_or_path)
    for _ in range(warmup):
        method.execute(inputs)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        method.execute(inputs)
        times.append((time.perf_counter() - start) * 1000)
    return {"p50": statistics.median(times), "min": min(times), "max": max(times), "runs": runs}


def measure(artifact) -> dict:
    """What verification reports as measured: host latency and the delegation coverage."""
    torch = deps.torch()
    example = [torch.zeros(spec["shape"], dtype=getattr(torch, spec["dtype"])) for spec in artifact.details["inputs"]]
    return {"latency_ms_host": host_latency_ms(artifact, example), "delegation": artifact.details.get("delegation")}
