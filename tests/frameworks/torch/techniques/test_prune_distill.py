"""Pruning and distillation on the exported graph: export -> compress -> export round trips (the
compressed program saves as .pt2, loads back, lowers to a .pte and runs on ExecuTorch)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from edge_sdk.frameworks.torch.analysis import analyze_torch
from edge_sdk.frameworks.torch.reference import run_eager
from edge_sdk.frameworks.torch.techniques import distill as torch_distill
from edge_sdk.frameworks.torch.techniques import prune as torch_prune
from edge_sdk.model import load_model
from tests.frameworks.torch.helpers import export_pte, verify_pte

pytestmark = pytest.mark.slow


def _round_trip(model, tmp_path):
    buffer = io.BytesIO()
    torch.export.save(model.handle, buffer)
    path = tmp_path / "compressed.pt2"
    path.write_bytes(buffer.getvalue())
    return load_model(path)


def _accuracy(model, data) -> float:
    return float((run_eager(model, [data.eval.inputs["image"]])[0].argmax(1) == data.eval.labels).mean() * 100)


def test_unstructured_prune_keeps_zeros_through_export(torch_digits, digits_data, android, tmp_path):
    before = {k: v.clone() for k, v in torch_digits.handle.state_dict.items()}
    pruned, record = torch_prune.apply(torch_digits, digits_data, {"sparsity": 0.5, "epochs": 2, "progress": False})
    # the input program (also the teacher) is never changed: ep.module() shares its weight tensors
    assert all(torch.equal(before[k], v) for k, v in torch_digits.handle.state_dict.items())
    assert all(s >= 0.49 for s in record.metrics["layer_sparsity"].values()), record.metrics
    reloaded = _round_trip(pruned, tmp_path)
    state = reloaded.handle.state_dict
    for name in ("conv2.weight", "fc1.weight"):
        assert float((state[name] == 0).float().mean()) >= 0.49
    x = digits_data.eval.inputs["image"][:32]
    np.testing.assert_allclose(run_eager(reloaded, [x])[0], run_eager(pruned, [x])[0], atol=1e-5)
    art = export_pte(reloaded, android, tmp_path / "pte")
    v = verify_pte(art, pruned, digits_data.eval)
    assert v.method == "executed" and v.fidelity.cosine > 0.9999


def test_channel_prune_and_distill_shrink_the_graph(torch_digits, digits_data, digits_train_set, android, tmp_path):
    teacher_params = analyze_torch(torch_digits).params
    channel, rec = torch_prune.apply(torch_digits, digits_data, {"structure": "channel", "sparsity": 0.25,
                                                                 "epochs": 2, "progress": False})
    assert rec.metrics["channels"]["conv2"] == [32, 24] and rec.metrics["left_whole"] == ["linear_1"]
    assert analyze_torch(channel).params < 0.7 * teacher_params

    import dataclasses

    data = dataclasses.replace(digits_data, train=digits_train_set)
    student, rec = torch_distill.apply(torch_digits, data, {"width": 0.5, "epochs": 8, "progress": False})
    assert rec.metrics["params_ratio"] <= 0.35 and rec.metrics["channels"]["conv3"] == [64, 32]
    assert _accuracy(student, data) >= _accuracy(torch_digits, data) - 5.0
    reloaded = _round_trip(student, tmp_path)
    assert analyze_torch(reloaded).params == rec.metrics["params"]
    art = export_pte(reloaded, android, tmp_path / "pte")
    v = verify_pte(art, student, digits_data.eval)
    assert v.method == "executed" and v.passed and v.fidelity.cosine > 0.9999, v
    assert art.details["delegation"]["coverage"] > 0.9
