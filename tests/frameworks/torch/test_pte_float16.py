"""The `pte` format's float16 precision (formats/executorch/float16.py): float16 weights and compute on
XNNPACK's f16 kernels, float32 inputs and outputs, integer token inputs untouched, masks kept finite;
verified on the real ExecuTorch runtime. The ladder offers it where the profile computes float16."""

from __future__ import annotations

import pytest

from tests.frameworks.torch.helpers import export_pte, verify_pte

pytestmark = pytest.mark.slow


def test_a_float16_cnn_keeps_float32_io_and_halves_its_linear_weights(torch_digits, digits_data, android, tmp_path):
    """XNNPACK stores linear weights float16; conv weights it keeps float32 (ExecuTorch 1.5.1), which
    the fp16 rung's size estimate counts."""
    half = export_pte(torch_digits, android, tmp_path / "fp16", precision="float16")
    full = export_pte(torch_digits, android, tmp_path / "fp32")
    assert half.precision == "float16" and half.details["inputs"][0]["dtype"] == "float32"
    linear_weights = 64 * 256 + 10 * 64
    assert full.bytes - half.bytes >= 0.95 * 2 * linear_weights, (half.bytes, full.bytes)
    v = verify_pte(half, torch_digits, digits_data.eval)
    assert v.method == "executed" and v.passed and v.fidelity.top1_agreement >= 0.99 and v.fidelity.cosine > 0.999, v.fidelity


def test_float16_transformers_keep_their_masks_finite(android, tmp_path):
    """A -inf causal mask (masked_fill) and an sdpa bool mask: in float16 a float32-minimum constant
    would be -inf too, and a fully masked score row NaN. Both programs run finite and close to fp32."""
    import torch

    from edge_sdk.data import Dataset, load_dataset
    from edge_sdk.model import load_model
    from tests.frameworks.torch.models import tiny_transformer, token_batches
    from tests.frameworks.torch.test_pte_attention import encoder, tokens

    causal = load_model((tiny_transformer(), (token_batches(2),)))
    art = export_pte(causal, android, tmp_path / "causal", precision="float16")
    v = verify_pte(art, causal, load_dataset({"tokens": token_batches(32).numpy()}, causal.inputs))
    assert v.passed and v.fidelity.cosine > 0.99, v.fidelity

    ids, mask = tokens(8)
    sdpa = load_model((encoder(layers=2), (torch.from_numpy(ids[:1]), torch.from_numpy(mask[:1]))))
    art = export_pte(sdpa, android, tmp_path / "sdpa", precision="float16")
    assert [i["dtype"] for i in art.details["inputs"]] == ["int64", "int64"]
    v = verify_pte(art, sdpa, Dataset({s.name: a for s, a in zip(sdpa.inputs, (ids, mask))}, None, "test"))
    assert v.passed and v.fidelity.cosine > 0.99, v.fidelity


def test_the_ladder_offers_fp16_after_fp32_where_the_profile_computes_float16(torch_digits, android, tmp_path):
    import yaml

    from edge_sdk import analyze, get_profile
    from edge_sdk.frameworks.torch.rungs import rungs

    assert "float16" in android.runtime.dtypes
    info = analyze(torch_digits)
    assert [r.name for r in rungs(info, android, "pte", allows_float=True)][:3] == ["fp32", "fp16", "dynamic-int8"]
    (tmp_path / "no-fp16.yaml").write_text(yaml.safe_dump({
        "name": "no-fp16", "extends": "pixel-8", "runtime": {"dtypes": ["float32", "int8"]}}))
    plain = get_profile("no-fp16", tmp_path)
    assert "fp16" not in {r.name for r in rungs(info, plain, "pte", allows_float=True)}
