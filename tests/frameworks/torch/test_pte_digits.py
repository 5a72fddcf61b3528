"""Acceptance on the bundled torch digits CNN: int8 XNNPACK .pte vs fp32 .pte, verified on the real
ExecuTorch runtime (Python bindings) against the eager program."""

from __future__ import annotations

import pytest

from tests.frameworks.torch.helpers import verify_pte

pytestmark = pytest.mark.slow


def test_fp32_pte_matches_eager_and_records_delegation(fp32_pte, torch_digits, digits_data):
    v = verify_pte(fp32_pte, torch_digits, digits_data.eval)
    assert v.runtime == "executorch" and v.method == "executed" and v.passed, v.reason
    assert v.fidelity.cosine > 0.9999 and v.fidelity.max_abs_error < 1e-3
    assert v.accuracy.drop == 0
    d = fp32_pte.details["delegation"]
    assert fp32_pte.format == "pte" and fp32_pte.precision == "float32"
    assert d["delegated_nodes"] > 10 and d["coverage"] > 0.9  # conv/linear/relu/pool all go to XNNPACK


def test_int8_pte_accuracy_and_size(int8_model, int8_pte, fp32_pte, torch_digits, digits_data):
    model, record = int8_model
    assert record.metrics["calibration_samples"] == 200  # default cap of 200 of the 300 given
    assert record.metrics["quantized_ops"]["conv2d"] == 3 and record.metrics["quantized_ops"]["linear"] == 2
    v = verify_pte(int8_pte, torch_digits, digits_data.eval)
    assert v.passed, v.reason
    assert v.accuracy.drop <= 1.0, v.accuracy
    assert int8_pte.precision == "int8"
    assert int8_pte.bytes <= 0.35 * fp32_pte.bytes, (int8_pte.bytes, fp32_pte.bytes)
    assert v.fidelity.sqnr_db > 20 and v.fidelity.top1_agreement >= 0.98
    assert int8_pte.details["delegation"]["portable_nodes"] <= 2  # only the output getitem stays portable


def test_float_model_asked_for_int8_is_quantized_at_export(torch_digits, digits_data, android, tmp_path, int8_pte):
    from tests.frameworks.torch.helpers import export_pte

    art = export_pte(torch_digits, android, tmp_path, precision="int8", calibration=digits_data.calibration)
    assert art.precision == "int8" and any("quantized at export" in n for n in art.details["notes"])
    assert art.sha256 == int8_pte.sha256  # same pt2e code path, same calibration: byte-identical
