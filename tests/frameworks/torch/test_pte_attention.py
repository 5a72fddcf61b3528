"""scaled_dot_product_attention written out for XNNPACK (formats/executorch/attention.py): the same
outputs as sdpa for every mask form, a bool mask made additive once for all layers, and a .pte whose
attention ops are all delegated (sdpa's math decomposition left where / any / logical_not per layer to
the portable kernels, splitting the delegate)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.frameworks.torch.helpers import export_pte, verify_pte

pytestmark = pytest.mark.slow


def encoder(layers: int = 2):
    """Token ids and a padding mask in, like transformers' BERT: the int mask becomes one bool mask
    [1, 1, seq, seq] shared by every layer's sdpa."""
    import torch
    from torch import nn

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(50, 16)
            self.qkv = nn.ModuleList(nn.Linear(16, 48) for _ in range(layers))

        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            h = self.embed(ids)
            keep = mask[:, None, None, :].bool().expand(-1, 1, ids.shape[1], -1)
            for qkv in self.qkv:
                q, k, v = qkv(h).view(1, -1, 3, 2, 8).permute(2, 0, 3, 1, 4)
                a = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=keep)
                h = h + a.transpose(1, 2).reshape(h.shape)
            return h.mean(1)

    torch.manual_seed(0)
    return Encoder().eval()


def tokens(n: int, seq: int = 12) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 50, size=(n, seq)).astype(np.int64)
    mask = (np.arange(seq)[None, :] < rng.integers(3, seq + 1, size=n)[:, None]).astype(np.int64)
    return ids, mask


def test_written_out_attention_computes_what_sdpa_computes_for_every_mask_form():
    import torch

    from edge_sdk.formats.executorch.attention import write_out_attention

    class Forms(torch.nn.Module):
        def forward(self, q, k, v, bias):
            f = torch.nn.functional.scaled_dot_product_attention
            keep = bias > -1.0  # bool, with masked keys but no fully masked row
            additive = torch.where(keep, 0.0, float("-inf"))
            return (f(q, k, v, attn_mask=keep) + f(q, k, v, attn_mask=additive, scale=0.3)
                    + f(q, k, v, is_causal=True) + f(q, k, v, attn_mask=bias))

    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 2, 6, 8) for _ in range(3))
    bias = torch.randn(1, 1, 6, 6)
    bias[..., 0] = 0.0  # every row keeps key 0
    program = torch.export.export(Forms(), (q, k, v, bias))
    module = program.module()
    assert write_out_attention(module) == 4
    rewritten = torch.export.export(module, (q, k, v, bias))
    targets = [str(n.target) for n in rewritten.graph.nodes if n.op == "call_function"]
    assert not any("scaled_dot_product" in t for t in targets), targets
    torch.testing.assert_close(rewritten.module()(q, k, v, bias), Forms()(q, k, v, bias), rtol=1e-5, atol=1e-5)


def test_a_shared_bool_mask_is_made_additive_once_and_the_pte_delegates_the_attention(android, tmp_path):
    import torch

    from edge_sdk.data import Dataset
    from edge_sdk.model import load_model

    ids, mask = tokens(6)
    model = load_model((encoder(layers=3), (torch.from_numpy(ids[:1]), torch.from_numpy(mask[:1]))))
    art = export_pte(model, android, tmp_path)
    coverage = art.details["delegation"]
    assert coverage["rewritten_nodes"] == 3, coverage
    portable = coverage["portable_ops"]
    # sdpa's math path left per layer: any, eq, logical_not, where (x2), full_like
    assert not {"aten_any_dim", "aten_logical_not_default", "aten_full_like_default"} & set(portable), portable
    assert portable.get("aten_where_self", 0) <= 1, portable
    assert not any("bmm" in op or "softmax" in op for op in portable), portable
    v = verify_pte(art, model, Dataset({s.name: a for s, a in zip(model.inputs, (ids, mask))}, None, "test"))
    assert v.passed and v.fidelity.max_abs_error < 1e-4, v.reason
