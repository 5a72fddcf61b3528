"""PyTorch attention graphs to Core ML: what transformers' default export carries (sdpa, `new_ones`,
`aten.alias`) converts at iOS17, and the fit check does not call sdpa unsupported there (coremltools
lowers it to matmul + softmax below iOS18)."""

from __future__ import annotations

import numpy as np
import pytest

from edge_sdk.formats import FORMATS, ExportConfig

pytestmark = pytest.mark.slow


def test_sdpa_new_ones_and_alias_convert_for_ios17(tmp_path):
    import torch

    from edge_sdk import analyze, check_fit, get_profile
    from edge_sdk.formats.coreml.weights import load_program
    from edge_sdk.model import load_model

    class Attention(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qkv = torch.nn.Linear(16, 48)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            q, k, v = self.qkv(x).view(1, 8, 3, 2, 8).permute(2, 0, 3, 1, 4)
            mask = x.new_ones((8, 8)).bool()  # transformers builds masks this way
            out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            return torch.ops.aten.alias(out.transpose(1, 2).reshape(1, 8, 16))

    torch.manual_seed(0)
    program = torch.export.export(Attention().eval(), (torch.randn(1, 8, 16),))
    targets = {str(n.target) for n in program.graph.nodes if n.op == "call_function"}
    assert {"aten.scaled_dot_product_attention.default", "aten.new_ones.default", "aten.alias.default"} <= targets
    model = load_model(program)
    profile = get_profile("ios")
    assert profile.runtime.constraints["minimum_deployment_target"] == "iOS17"
    assert check_fit(analyze(model), profile).ok
    artifact = FORMATS.get("coreml")(model, profile, ExportConfig(precision="float16"), tmp_path)
    ops = {op.op_type for op in load_program(artifact.path)[1].functions["main"].operations}
    assert {"matmul", "softmax"} <= ops and "scaled_dot_product_attention" not in ops  # lowered at iOS17


def test_an_ios18_profile_keeps_sdpa_fused_and_the_float16_package_is_safe(tmp_path):
    """A profile that extends the iPhone 15 Pro with iOS18 as its minimum target: coremltools keeps sdpa as its
    fused iOS18 op (no matmul/softmax lowering) and the float16 package passes the fp16 checks."""
    import torch
    import yaml

    from edge_sdk import get_profile
    from edge_sdk.formats.coreml.fp16 import fp16_hazards
    from edge_sdk.formats.coreml.weights import load_program
    from edge_sdk.model import load_model

    (tmp_path / "ios18.yaml").write_text(yaml.safe_dump({
        "name": "ios18", "extends": "iphone-15-pro", "runtime": {"constraints": {"minimum_deployment_target": "iOS18"}}}))
    profile = get_profile("ios18", tmp_path)

    class Attention(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qkv = torch.nn.Linear(16, 48)

        def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            q, k, v = self.qkv(x).view(1, 8, 3, 2, 8).permute(2, 0, 3, 1, 4)
            out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :].bool())
            return out.transpose(1, 2).reshape(1, 8, 16)

    torch.manual_seed(0)
    program = torch.export.export(Attention().eval(), (torch.randn(1, 8, 16), torch.ones(1, 8, dtype=torch.int64)))
    artifact = FORMATS.get("coreml")(load_model(program), profile, ExportConfig(precision="float16"), tmp_path / "out")
    spec, mil = load_program(artifact.path)
    ops = {op.op_type for op in mil.functions["main"].operations}
    assert "scaled_dot_product_attention" in ops and "softmax" not in ops, ops
    assert spec.specificationVersion >= 9 and fp16_hazards(mil) == []


def test_ios18_palettizes_per_grouped_channel_and_the_simulation_decodes_it(tmp_path):
    """From iOS18 a palettized weight has one LUT per 16 output channels (coremltools'
    per_grouped_channel); below it one per tensor. The Linux simulation decodes both."""
    import torch
    import yaml

    from edge_sdk import get_profile
    from edge_sdk.data import Dataset
    from edge_sdk.formats.coreml.weights import load_program
    from edge_sdk.model import load_model
    from edge_sdk.verify import verify

    (tmp_path / "ios18.yaml").write_text(yaml.safe_dump({
        "name": "ios18", "extends": "iphone-15-pro", "runtime": {"constraints": {"minimum_deployment_target": "iOS18"}}}))
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 96), torch.nn.ReLU(), torch.nn.Linear(96, 8)).eval()
    model = load_model(torch.export.export(net, (torch.randn(1, 64),)))
    x = np.random.default_rng(0).standard_normal((32, 64)).astype(np.float32)
    luts = {}
    for name, profile in (("ios17", get_profile("ios")), ("ios18", get_profile("ios18", tmp_path))):
        art = FORMATS.get("coreml")(model, profile, ExportConfig(precision="float16", coreml_compression="palettize4"),
                                    tmp_path / name)
        ops = [op for op in load_program(art.path)[1].functions["main"].operations if op.op_type.startswith("constexpr_lut")]
        luts[name] = {tuple(op.inputs["lut"].val.shape) for op in ops}
        v = verify(art, model, Dataset({model.inputs[0].name: x}, None, "test"))
        assert v.method == "simulated" and v.passed and v.fidelity.cosine > 0.99, (name, v.fidelity)
    assert (6, 1, 16, 1) in luts["ios18"], luts  # 96 output channels / 16 per group, 16 entries each
    assert all(shape[0] == 1 or len(shape) == 1 for shape in luts["ios17"]), luts
