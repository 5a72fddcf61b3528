"""Tucker-2 and CP decomposition of a torch program's convolutions (issue 19): the rewritten graph
computes the original conv (per-axis strides, padding and dilation), and a zoo CNN decomposed to half
its conv MACs lowers to a .pte that runs on ExecuTorch, with the ladder's estimate its own count."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edge_sdk.frameworks.torch.reference import run_eager
from edge_sdk.model import load_model
from edge_sdk.techniques.dispatch import apply_step
from tests.frameworks.torch.helpers import export_pte, verify_pte

QUIET = {"progress": False}


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(16, 24, 3, stride=(2, 1), padding=(1, 2), dilation=(1, 2))
        self.head = torch.nn.Linear(24, 5)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).mean((2, 3)))


def _low_rank_program(method: str, tmp_path):
    """_Net with its conv kernel exactly of CP rank 6 or Tucker ranks (8, 12), saved and loaded as a .pt2."""
    torch.manual_seed(0)
    net = _Net().eval()
    rng = np.random.default_rng(0)
    if method == "cp":
        h, w, i, o = (rng.normal(size=(n, 6)) for n in (3, 3, 16, 24))
        kernel = np.einsum("hr,wr,ir,or->oihw", h, w, i, o)
    else:
        kernel = np.einsum("hwab,ia,ob->oihw", rng.normal(size=(3, 3, 8, 12)), rng.normal(size=(16, 8)), rng.normal(size=(24, 12)))
    with torch.no_grad():
        net.conv.weight.copy_(torch.from_numpy(kernel / np.abs(kernel).max()))
    batch = torch.export.Dim("batch", min=1, max=256)
    program = torch.export.export(net, (torch.randn(2, 16, 17, 17),), dynamic_shapes=({0: batch},))
    path = tmp_path / "net.pt2"
    torch.export.save(program, path)
    return load_model(path)


@pytest.mark.parametrize("method,params", [("tucker2", {"energy": 0.99999}), ("cp", {"macs_ratio": 0.17})])
def test_the_rewritten_graph_computes_the_original_conv_when_the_kernel_has_that_rank(method, params, tmp_path):
    from edge_sdk.data import Dataset
    from edge_sdk.techniques.base import TechniqueData

    model = _low_rank_program(method, tmp_path)
    x = np.random.default_rng(1).normal(size=(64, 16, 17, 17)).astype(np.float32)
    data = Dataset({model.inputs[0].name: x}, None, "random")
    student, record = apply_step("decompose", model, TechniqueData(train=data, calibration=data, teacher=model),
                                 {**QUIET, "method": method, **params, "epochs": 1, "learning_rate": 1e-12})
    (layer,) = record.metrics["layers"].values()
    assert layer["relative_error"] < 1e-4, layer
    convs = [n for n in student.handle.graph.nodes if n.op == "call_function" and "conv" in str(n.target)]
    assert len(convs) == (4 if method == "cp" else 3)
    np.testing.assert_allclose(run_eager(student, [x])[0], run_eager(model, [x])[0], atol=1e-4)


@pytest.mark.slow
def test_tucker2_of_a_zoo_cnn_halves_its_conv_macs_runs_on_executorch_and_meets_its_estimate(tmp_path):
    from edge_sdk.data import load_dataset
    from edge_sdk.model import analyze
    from edge_sdk.planner.ladder import build_ladder
    from edge_sdk.profiles import get_profile
    from edge_sdk.techniques.base import TechniqueData
    from tests.zoo.test_zoo_ptq import make

    entry = make("t_squeezenet1_1")
    model = load_model(entry["model"])
    calibration = load_dataset(entry["calibration"], model.inputs)
    evaluation = load_dataset(entry["eval"], model.inputs)
    data = TechniqueData(train=calibration, calibration=calibration, teacher=model, eval=evaluation)
    student, record = apply_step("decompose", model, data, {**QUIET, "method": "tucker2", "macs_ratio": 0.5, "epochs": 2})
    m = record.metrics
    assert abs(m["conv_macs_after"] / m["conv_macs_before"] - 0.5) < 0.03, m
    android = get_profile("android")
    ladder = {c.name: c for c in build_ladder(analyze(model), android)}
    assert abs(ladder["tucker2-int8"].params_scale - analyze(student).params / analyze(model).params) < 0.01
    artifact = export_pte(student, android, tmp_path / "pte")
    verification = verify_pte(artifact, student, evaluation)
    assert verification.method == "executed" and verification.fidelity.cosine > 0.999
