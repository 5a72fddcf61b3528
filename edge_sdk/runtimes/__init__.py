"""Runtime runners: execute an exported artifact on its real runtime (or simulate it, and say so).

One module per runtime, each registering the artifact format it runs:

    @register_runtime("tflite", runtime="litert")
    def run(artifact_or_bytes, inputs, reference=None) -> list[np.ndarray]   # float outputs, model order

`inputs` maps input name -> (N, ...) arrays in the model's input order. Quantized I/O is (de)quantized
inside the runner with the tensor's scale and zero point, so callers always see floats.
`verify.py` looks the runner up by `artifact.format`; adding a runtime is one module + one import here.
Reference (original model) outputs come from the model's frontend (`edge_sdk.frameworks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from edge_sdk.errors import UnsupportedOpError
from edge_sdk.registry import Registry

RunFn = Callable[..., list]


@dataclass(frozen=True)
class Runtime:
    runtime: str  # litert | tflm | coreml | executorch: what report.json `verification.runtime` says
    method: str  # executed | simulated
    run: RunFn
    checks: Callable[[Any], dict] | None = None  # structural checks of the artifact (Core ML on Linux)
    measure: Callable[[Any], dict] | None = None  # measured host numbers, e.g. the TFLM arena
    cross_check: str | None = None  # another format whose runner must agree with this one (TFLM vs LiteRT)


class RuntimeCrashed(UnsupportedOpError):
    """The runtime's host interpreter aborted on the model (its bug or limit); verify falls back to the
    runner's cross-check runtime on the same artifact and says so (`method: simulated`)."""


RUNTIMES: Registry[Runtime] = Registry("runtime")


def register_runtime(fmt: str, *, runtime: str, method: str = "executed", checks=None, measure=None, cross_check=None):
    def decorator(run: RunFn) -> RunFn:
        RUNTIMES.register(fmt)(Runtime(runtime, method, run, checks, measure, cross_check))
        return run

    return decorator


from edge_sdk.runtimes import coreml_sim, litert, tflm  # noqa: E402,F401  (fill the registry)
from edge_sdk.runtimes import executorch  # noqa: E402,F401  (PyTorch path: pte runner)
