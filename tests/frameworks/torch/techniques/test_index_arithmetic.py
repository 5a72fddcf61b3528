"""pt2e quantization keeps integer index arithmetic integer (pytorch/executorch#22062, fixed by
edge_sdk/frameworks/torch/techniques/xnnpack_scalar_fix.py): transformers' position-id pattern
`x[:, torch.arange(n) + 0]` made every PTQ rung of a BERT-style encoder exit 1."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edge_sdk.data import load_dataset
from edge_sdk.model import load_model
from edge_sdk.techniques.base import TechniqueData
from edge_sdk.techniques.dispatch import apply_step


class PositionIds(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("positions", torch.arange(32).unsqueeze(0))
        self.embed = torch.nn.Embedding(32, 8)
        self.head = torch.nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids = self.positions[:, torch.arange(x.shape[1]) + 0]  # int64 add with a scalar, used as an index
        return self.head(x + self.embed(ids)).mean(dim=1)


@pytest.mark.parametrize("mode", ["int8", "dynamic-int8"])
def test_int64_scalar_add_used_as_an_index_survives_ptq(mode):
    x = torch.randn(1, 16, 8)
    model = load_model(torch.export.export(PositionIds().eval(), (x,)))
    data = load_dataset({"x": np.random.default_rng(0).normal(size=(8, 16, 8)).astype(np.float32)}, model.inputs)
    out, record = apply_step("ptq", model, TechniqueData(train=data, calibration=data, teacher=model), {"mode": mode})
    assert record.metrics["quantized_ops"], record.metrics
    y = out.handle.module()(x)
    assert y.shape == (1, 4) and torch.isfinite(y).all()
