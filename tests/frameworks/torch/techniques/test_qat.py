"""Label-free QAT on the torch digits CNN: int8 .pte within 0.5 points of the fp32 model."""

from __future__ import annotations

import dataclasses

import pytest

from edge_sdk.frameworks.torch.techniques import qat as torch_qat
from tests.frameworks.torch.helpers import export_pte, verify_pte

pytestmark = pytest.mark.slow


def test_label_free_qat_int8_pte_drop(torch_digits, digits_data, digits_train_set, android, tmp_path):
    data = dataclasses.replace(digits_data, train=digits_train_set)
    model, record = torch_qat.apply(torch_digits, data, {"epochs": 2, "progress": False})
    assert record.metrics["labels_used"] is False and record.metrics["epochs_run"] >= 1
    assert record.metrics["quantized_ops"]["conv2d"] == 3
    art = export_pte(model, android, tmp_path)
    assert art.precision == "int8"  # already quantized: lowered as is
    v = verify_pte(art, torch_digits, digits_data.eval)
    assert v.method == "executed" and v.passed, v.reason
    assert v.accuracy.drop <= 0.5, v.accuracy
