"""Embedding tables quantize row by row without collapsing small rows (torchao's eps replaced every
scale under 2**-12 by 1.0, flattening any row spanning less than 0.0625)."""

from __future__ import annotations

import torch

from edge_sdk.frameworks.torch.techniques.ptq import embedding_quantizer


class _Lookup(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.table = torch.nn.Embedding(8, 16)
        with torch.no_grad():
            self.table.weight.mul_(0.01)  # rows spanning ~0.05, like a trained BERT's token-type rows
            self.table.weight[3] = 0.25  # a constant row

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.table(ids)


def test_every_row_dequantizes_within_two_steps():
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    module = _Lookup().eval()
    ids = torch.arange(8)[None]
    program = torch.export.export(module, (ids,)).module()
    prepared = prepare_pt2e(program, embedding_quantizer())
    prepared(ids)
    converted = convert_pt2e(prepared)
    got, want = converted(ids)[0], module(ids)[0].detach()
    step = (want.max(dim=1).values - want.min(dim=1).values) / 255
    # within a step and a half (the float zero point is rounded on one side of torchao's round trip);
    # torchao's own eps turned these rows into a constant, 255 steps off at the ends
    assert (got - want).abs().max(dim=1).values.le(2 * step).all(), (got - want).abs().max(dim=1).values
    assert torch.equal(got[3], want[3])  # a constant row comes back exactly
