"""Core ML from a torch program (coremltools torch.export frontend) and its simulated verification on
Linux (coremltools cannot predict here: the package's decompressed weights run in the torch program)."""

from __future__ import annotations

import numpy as np
import pytest

from edge_sdk.errors import ConfigError
from edge_sdk.formats.base import ExportConfig
from edge_sdk.formats.coreml.exporter_torch import convert
from edge_sdk.formats.coreml.runner_torch import simulate
from edge_sdk.frameworks.torch.reference import run_eager

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mlmodel(torch_digits):
    from edge_sdk.profiles import get_profile

    return convert(torch_digits, get_profile("ios"), ExportConfig())


def test_converted_package_has_the_program_io(mlmodel, tmp_path):
    spec = mlmodel.get_spec()
    assert [i.name for i in spec.description.input] == ["image"]
    assert list(spec.description.input[0].type.multiArrayType.shape) == [1, 8, 8, 1]
    assert spec.WhichOneof("Type") == "mlProgram"


def test_simulated_verification_sees_weight_compression(mlmodel, torch_digits, digits_data, tmp_path):
    from coremltools.optimize.coreml import OpPalettizerConfig, OptimizationConfig, palettize_weights

    x = {"image": digits_data.eval.inputs["image"]}
    ref = run_eager(torch_digits, [x["image"]])[0]
    mlmodel.save(str(tmp_path / "fp32.mlpackage"))
    same, info = simulate(tmp_path / "fp32.mlpackage", torch_digits, x)
    # bn1 was folded into conv1 by the converter: conv1 gets the folded weights, bn1 becomes the identity
    assert info["convs_with_folded_batch_norm"] == ["conv1"] and info["params_kept_from_program"] == []
    assert info["params_from_package"] == 10
    np.testing.assert_allclose(same[0], ref, atol=1e-4)
    pal = palettize_weights(mlmodel, OptimizationConfig(global_config=OpPalettizerConfig(nbits=2, weight_threshold=0)))
    pal.save(str(tmp_path / "p2.mlpackage"))
    changed, _ = simulate(tmp_path / "p2.mlpackage", torch_digits, x)
    assert np.abs(changed[0] - ref).max() > 0.01  # 2-bit palettes really changed the weights


def test_quantized_program_is_refused(int8_model):
    from edge_sdk.profiles import get_profile

    with pytest.raises(ConfigError, match="coreml_compression"):
        convert(int8_model[0], get_profile("ios"), ExportConfig())


def test_a_program_concatenating_a_weight_with_activations_is_simulated(tmp_path):
    """A ViT concatenates its class-token parameter with the patch embeddings; coremltools'
    get_weights_metadata raised on the concat's list input (`'list' object has no attribute 'val'`) and
    every ios rung of the zoo ViT failed as an internal error."""
    import torch

    from edge_sdk.model import load_model
    from edge_sdk.profiles import get_profile

    class TokenNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Linear(6, 8)
            self.cls = torch.nn.Parameter(torch.randn(1, 1, 8))
            self.head = torch.nn.Linear(8, 3)

        def forward(self, x):
            tokens = torch.cat([self.cls, self.embed(x)], dim=1)
            return self.head(tokens[:, 0] + tokens.mean(dim=1)).softmax(-1)

    torch.manual_seed(0)
    net = TokenNet().eval()
    x = torch.randn(1, 4, 6)
    model = load_model(torch.export.export(net, (x,)))
    convert(model, get_profile("ios"), ExportConfig(precision="float16")).save(str(tmp_path / "m.mlpackage"))
    name = model.inputs[0].name
    got, _ = simulate(tmp_path / "m.mlpackage", model, {name: x.numpy()})
    assert np.allclose(got[0], net(x).detach().numpy(), atol=1e-2)
