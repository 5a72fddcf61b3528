"""Each output fine-tunes by the loss of its kind (techniques/kd_loss.py): class scores by KL, regression
and detection by variance-scaled MSE, embeddings by cosine; inferred from the teacher when not given."""

from __future__ import annotations

import numpy as np
import pytest

from edge_sdk.techniques.kd_loss import output_losses


def test_given_kinds_choose_the_losses():
    assert output_losses(("classification", "regression", "detection", "embedding", "sequence"), None, 5) == (
        "kl", "mse", "mse", "cosine", "kl")
    with pytest.raises(ValueError, match="2 output kinds for 1 outputs"):
        output_losses(("classification", "regression"), None, 1)


def test_kinds_are_inferred_from_the_teacher(digits_loaded):
    assert output_losses((), digits_loaded, 1) == ("kl",)


@pytest.mark.slow
def test_a_torch_reconstruction_fine_tunes_by_mse(tmp_path):
    import torch

    from edge_sdk.data import Dataset
    from edge_sdk.model import load_model
    from edge_sdk.techniques.base import TechniqueData
    from edge_sdk.techniques.dispatch import apply_step

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 16)).eval()
    batch = torch.export.Dim("batch", min=1, max=256)
    torch.export.save(torch.export.export(net, (torch.randn(4, 16),), dynamic_shapes=({0: batch},)), tmp_path / "ae.pt2")
    model = load_model(tmp_path / "ae.pt2")
    x = np.random.default_rng(0).normal(size=(64, 16)).astype(np.float32)
    data = Dataset({model.inputs[0].name: x}, None, "random")
    _, record = apply_step("prune", model, TechniqueData(train=data, calibration=data, teacher=model),
                           {"progress": False, "epochs": 1, "sparsity": 0.5})
    assert record.metrics["losses"] == ["mse"]
