"""A PReLU after a linear layer (MTCNN's ONet/RNet heads) lowers to XNNPACK and runs on ExecuTorch.

executorch 1.5.1's XNNPACK lowering needs every PReLU input channels-last and failed the whole program
("ChannelsLastTaggedReshapePass") on a 2-D one; formats/executorch/xnnpack_prelu.py leaves those to the
portable kernels."""

from __future__ import annotations

import numpy as np
import pytest

from tests.frameworks.torch.helpers import export_pte, verify_pte

pytestmark = pytest.mark.slow


def test_prelu_on_a_linear_output_lowers_and_matches_eager(android, tmp_path):
    import torch
    from torch import nn

    from edge_sdk.data import Dataset
    from edge_sdk.model import load_model

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.PReLU(4), nn.Flatten(), nn.Linear(4 * 6 * 6, 16), nn.PReLU(16),
                        nn.Linear(16, 3)).eval()
    model = load_model((net, (torch.randn(1, 3, 8, 8),)))
    art = export_pte(model, android, tmp_path)
    coverage = art.details["delegation"]
    assert coverage["delegated_subgraphs"] >= 1 and "aten_convolution_default" not in coverage["portable_ops"], coverage
    x = np.random.default_rng(0).standard_normal((4, 3, 8, 8)).astype(np.float32)
    v = verify_pte(art, model, Dataset({model.inputs[0].name: x}, None, "test"))
    assert v.passed and v.fidelity.max_abs_error < 1e-4, v.reason
