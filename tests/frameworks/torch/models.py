"""Small torch models defined for the tests (the bundled digits CNN lives in examples/torch_digits)."""

from __future__ import annotations

import math

import torch
from torch import nn

VOCAB, SEQ, DIM = 64, 16, 32


class TinyTransformer(nn.Module):
    """Embedding + causal self-attention + MLP, with the two things quantization must not break:
    integer index arithmetic (positions computed from the sequence length) and an additive -inf mask."""

    def __init__(self) -> None:
        super().__init__()
        self.tok = nn.Embedding(VOCAB, DIM)
        self.pos = nn.Embedding(SEQ, DIM)
        self.qkv = nn.Linear(DIM, 3 * DIM)
        self.proj = nn.Linear(DIM, DIM)
        self.norm1 = nn.LayerNorm(DIM)
        self.norm2 = nn.LayerNorm(DIM)
        self.mlp = nn.Sequential(nn.Linear(DIM, 4 * DIM), nn.GELU(), nn.Linear(4 * DIM, DIM))
        self.head = nn.Linear(DIM, VOCAB)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        length = tokens.shape[1]
        positions = torch.arange(length, device=tokens.device) % SEQ  # integer arithmetic on indices
        x = self.tok(tokens) + self.pos(positions)[None]
        q, k, v = self.qkv(self.norm1(x)).chunk(3, dim=-1)
        scores = q @ k.transpose(1, 2) / math.sqrt(DIM)
        causal = torch.ones(length, length, dtype=torch.bool).triu(1)
        attn = torch.softmax(scores.masked_fill(causal, float("-inf")), dim=-1)
        x = x + self.proj(attn @ v)
        x = x + self.mlp(self.norm2(x))
        return self.head(x)[:, -1]


def tiny_transformer(seed: int = 0) -> TinyTransformer:
    torch.manual_seed(seed)
    return TinyTransformer().eval()


def token_batches(n: int, seed: int = 1):
    return torch.randint(0, VOCAB, (n, SEQ), generator=torch.Generator().manual_seed(seed))
