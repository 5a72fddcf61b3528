"""verify(): metrics, cross-checks, check(), dispatch by artifact format, I/O (de)quantization.

Fast tests: the format and reference here are stand-ins registered for a made-up format/framework
(the real runtimes are exercised in tests/formats/)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from edge_sdk.data import Dataset
from edge_sdk.errors import VerificationError
from edge_sdk.frameworks import FRONTENDS
from edge_sdk.contracts.model import LoadedModel, TensorSpec
from edge_sdk.contracts.records import Artifact
from edge_sdk.formats import FORMATS
from edge_sdk.formats.base import Format, Runtime, SizeModel
from edge_sdk.formats.common.quant import from_output, to_input
from edge_sdk.verify import SQNR_CAP_DB, check, fidelity, verify

RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(50, 10)).astype(np.float32)
NOISE = {"level": 0.0}


def _reference(model, inputs):
    return [LOGITS]


@pytest.fixture(scope="module", autouse=True)
def standin_frontend():
    """A frontend whose reference runner returns LOGITS (registered only while these tests run)."""
    FRONTENDS._items["standin-framework"] = dataclasses.replace(FRONTENDS.get("keras"), name="standin-framework", reference=_reference)
    yield
    del FRONTENDS._items["standin-framework"]


def _run(artifact, inputs, reference=None):
    return [LOGITS + NOISE["level"] * RNG.normal(size=LOGITS.shape).astype(np.float32)]


STANDIN = FORMATS.register("standin-format")(Format(
    "standin-format", exporter=None, runner=Runtime("standin", "executed", _run), frameworks={},
    size=SizeModel(0, 0, 0),
))


def _artifact(fmt="standin-format", precision="int8") -> Artifact:
    return Artifact(fmt, Path("x"), 1, 1, "0" * 64, precision=precision)


def _inputs():
    model = LoadedModel("standin-framework", None, (TensorSpec("x", (None, 4)),), (TensorSpec("y", (None, 10)),), "memory")
    labels = LOGITS.argmax(1)
    labels[:5] = (labels[:5] + 1) % 10  # the reference is 90% accurate
    return model, Dataset({"x": np.zeros((50, 4), np.float32)}, labels, "test")


def test_identical_outputs():
    f = fidelity([LOGITS], [LOGITS.copy()])
    assert f.top1_agreement == 1.0 and f.cosine == pytest.approx(1.0) and f.max_abs_error == 0.0
    assert f.sqnr_db == SQNR_CAP_DB


def test_metrics_match_their_definitions():
    noisy = LOGITS + 0.1 * RNG.normal(size=LOGITS.shape).astype(np.float32)
    f = fidelity([LOGITS], [noisy])
    ref, out = LOGITS.astype(np.float64).ravel(), noisy.astype(np.float64).ravel()
    assert f.sqnr_db == pytest.approx(10 * np.log10((ref**2).sum() / ((ref - out) ** 2).sum()))
    assert f.cosine == pytest.approx(ref @ out / np.linalg.norm(ref) / np.linalg.norm(out))
    assert f.top1_agreement == pytest.approx((LOGITS.argmax(1) == noisy.argmax(1)).mean())
    assert f.max_abs_error == pytest.approx(np.abs(ref - out).max(), rel=1e-6)


def test_regression_outputs_have_no_top1():
    assert fidelity([LOGITS[:, :1]], [LOGITS[:, :1]]).top1_agreement is None


def test_verify_passes_and_reports_accuracy():
    NOISE["level"] = 0.0
    model, data = _inputs()
    v = verify(_artifact(), model, data)
    assert v.passed and v.reason == "" and v.runtime == "standin" and v.method == "executed"
    assert v.accuracy.reference == pytest.approx(90.0) and v.accuracy.drop == pytest.approx(0.0)


def test_a_lossy_artifact_is_measured_not_failed_the_budget_judges_it():
    NOISE["level"] = 3.0
    model, data = _inputs()
    v = verify(_artifact(), model, data)
    assert v.passed and v.fidelity.outputs[0].metrics["top1_agreement"] < 0.9  # the build's budget rejects it
    NOISE["level"] = 0.0


def test_a_runtime_that_disagrees_with_its_cross_check_fails_and_check_raises():
    twin = Runtime("standin-reference", "executed", lambda artifact, inputs, reference=None: [LOGITS + 1.0])
    FORMATS._items["standin-checked"] = Format("standin-checked", exporter=None, frameworks={}, size=SizeModel(0, 0, 0),
                                               runner=Runtime("standin", "executed", _run, cross_check=twin))
    try:
        model, data = _inputs()
        v = verify(_artifact("standin-checked"), model, data)
        assert not v.passed and v.measured["vs_standin-reference"]["differing_values"] == LOGITS.size
        with pytest.raises(VerificationError, match="standin differs from standin-reference .* more than its kernels' rounding"):
            check(v)
    finally:
        del FORMATS._items["standin-checked"]


def test_one_step_and_rare_larger_differences_between_runtimes_are_rounding_not_a_failure():
    from edge_sdk.verify import _compare_runtimes

    step = 8 / 256
    expected = (np.arange(1000) % 256 - 128).reshape(10, 100) * step  # a dequantized int8 output
    rounded = expected.copy()
    rounded[0, :3] += step  # three values one step apart
    rounded[1, 0] -= 2 * step  # one two steps apart
    same = _compare_runtimes([rounded], [expected])
    assert not same["identical"] and same["within_rounding"] and same["differing_values"] == 4
    one_step = expected.copy()
    one_step[:, :20] += step  # 20% of the values one step apart: FULLY_CONNECTED rounding through a deep MLP
    assert _compare_runtimes([one_step], [expected])["within_rounding"]
    broken = expected.copy()
    broken[:, :20] += 2 * step  # 20% of the values two steps apart
    assert not _compare_runtimes([broken], [expected])["within_rounding"]
    far = expected.copy()
    far[0, 0] += 5 * step  # one value five steps off
    assert not _compare_runtimes([far], [expected])["within_rounding"]


def test_unknown_format_lists_valid_runtimes():
    from edge_sdk.errors import EdgeSDKError

    model, data = _inputs()
    with pytest.raises(EdgeSDKError, match="valid: .*tflite"):
        verify(_artifact("nope"), model, data)


def test_int8_io_quantization_round_trip():
    details = {"dtype": np.int8, "quantization_parameters": {"scales": np.array([0.5]), "zero_points": np.array([-3])}}
    x = np.array([[-10.0, 0.0, 1.2, 100.0]], np.float32)
    q = to_input(x, details)
    assert q.dtype == np.int8 and q.tolist() == [[-23, -3, -1, 127]]  # clipped at 127
    assert from_output(q, details).tolist() == [[-10.0, 0.0, 1.0, 65.0]]
