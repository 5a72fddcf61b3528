"""LiteRT runner errors a user can act on: XNNPACK (the default delegate apps get) refusing to prepare
an artifact is that artifact's failure with the delegate named (zoo: a pruned int8 Dense), not an
internal error; any other runtime error stays an internal one."""

from __future__ import annotations

import numpy as np
import pytest

from edge_sdk import deps
from edge_sdk.errors import VerificationError
from edge_sdk.formats.tflite import runner


class _Refusing:
    def __init__(self, message: str) -> None:
        self.message = message

    def __call__(self, **kwargs):
        return self

    def get_input_details(self):
        return [{"name": "x", "index": 0, "shape": np.array([1, 2]), "shape_signature": np.array([-1, 2]),
                 "dtype": np.float32, "quantization": (0.0, 0)}]

    def resize_tensor_input(self, index, shape):
        pass

    def allocate_tensors(self):
        raise RuntimeError(self.message)


def test_a_delegate_that_cannot_prepare_fails_the_artifact(monkeypatch):
    monkeypatch.setattr(deps, "litert_interpreter", lambda: _Refusing(
        "failed to delegate FULLY_CONNECTED node #16\nNode number 17 (TfLiteXNNPackDelegate) failed to prepare."))
    with pytest.raises(VerificationError, match="XNNPACK delegate cannot prepare this artifact .*FULLY_CONNECTED"):
        runner.run(b"TFL3", {"x": np.zeros((2, 2), np.float32)})


def test_other_runtime_errors_stay_internal(monkeypatch):
    monkeypatch.setattr(deps, "litert_interpreter", lambda: _Refusing("tensor 3 has the wrong shape"))
    with pytest.raises(RuntimeError, match="wrong shape"):
        runner.run(b"TFL3", {"x": np.zeros((2, 2), np.float32)})
