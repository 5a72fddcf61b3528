"""Lazy, correctly-configured imports of the heavy frameworks.

TFMOT only works with tf_keras (Keras 2), so `TF_USE_LEGACY_KERAS=1` must be set before tensorflow is
first imported; the SDK does that here so users never have to. Every module that needs TF, torch or
coremltools calls these functions inside the function that needs them, never at import time, so that
`edge-sdk --help` stays fast.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import tempfile
from types import ModuleType
from typing import Iterator

from edge_sdk.errors import MissingDependencyError

_EXTRA_FOR = {
    "tensorflow": "tf",
    "tf_keras": "tf",
    "tensorflow_model_optimization": "tf",
    "ai_edge_litert": "tf",
    "tflite_micro": "tf",
    "keras": "tf",
    "coremltools": "coreml",
    "torch": "torch",
    "executorch": "torch",
    "torchao": "torch",
}


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        extra = _EXTRA_FOR.get(name.split(".")[0], "all")
        raise MissingDependencyError(
            f"{name} is not installed ({exc}); install it with: pip install 'edge-deploy-sdk[{extra}]'"
        ) from None


@contextlib.contextmanager
def captured_native_stderr() -> Iterator[list[str]]:
    """Capture what C++ code writes to fd 2 (TF's CUDA probes, TFLM's MicroPrintf) into box[0]."""
    box: list[str] = [""]
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield box
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            box[0] = sink.read().decode(errors="replace")


@contextlib.contextmanager
def _native_stderr_quiet() -> Iterator[None]:
    """Hide what C++ code prints on fd 2 while importing (TF's CUDA probes on CPU-only machines log
    before absl is initialised, which no env var silences); replay it if the import fails."""
    failure: BaseException | None = None
    with captured_native_stderr() as log:
        try:
            yield
        except BaseException as exc:  # noqa: BLE001 - re-raised below, after the output is restored
            failure = exc
    if failure is not None:
        sys.stderr.write(log[0])
        raise failure


def tensorflow() -> ModuleType:
    """tensorflow with tf.keras pointing at tf_keras (what TFMOT needs)."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    with _native_stderr_quiet():
        return _import("tensorflow")


def tf_keras() -> ModuleType:
    tensorflow()
    return _import("tf_keras")


def keras3() -> ModuleType:
    """The Keras 3 package (only used to read Keras 3 files before bridging them to tf_keras)."""
    tensorflow()
    return _import("keras")


def tfmot() -> ModuleType:
    tensorflow()
    return _import("tensorflow_model_optimization")


def litert_interpreter() -> type:
    return _import("ai_edge_litert.interpreter").Interpreter


def tflite_micro() -> ModuleType:
    return _import("tflite_micro")


def torch() -> ModuleType:
    return _import("torch")


def coremltools() -> ModuleType:
    return _import("coremltools")


def module(name: str) -> ModuleType:
    """Any other optional module, with the same install hint on failure."""
    return _import(name)


def version_of(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


FRAMEWORK_DISTS = (
    "tensorflow",
    "tf-keras",
    "keras",
    "tensorflow-model-optimization",
    "ai-edge-litert",
    "tflite-micro",
    "coremltools",
    "torch",
    "executorch",
    "torchao",
    "numpy",
)


def versions() -> dict[str, str]:
    """Installed versions of every framework the SDK may use (for report.json `versions`)."""
    from edge_sdk import __version__

    found = {d: version_of(d) for d in FRAMEWORK_DISTS}
    return {"edge-sdk": __version__, **{d: v for d, v in found.items() if v}}
