"""Tensor decompositions of convolution kernels and their ranks, shared by the Keras and PyTorch
`decompose` techniques (they only differ in how they rewrite the model around these factors).

A k_h x k_w convolution from C_in to C_out channels (kernel K in (k_h, k_w, C_in, C_out) layout)
becomes plain convolutions every runtime already runs:

- **Tucker-2** (Kim et al., ICLR 2016): K = core x_3 U_in x_4 U_out, i.e. a 1x1 conv C_in -> r_in,
  the k_h x k_w core conv r_in -> r_out (the original stride, padding and dilation), a 1x1 conv
  r_out -> C_out (the original bias and activation). A layer reading few channels (C_in <
  TUCKER_MIN_INPUT_CHANNELS, e.g. a first layer on RGB) keeps its input mode whole (Tucker-1), as
  Kim et al. do: there is nothing to save there and a rank-1 projection of RGB loses the image.
- **CP** (Lebedev et al., ICLR 2015): K = sum_r a_r (x) b_r (x) c_r (x) d_r, i.e. a 1x1 conv C_in -> R,
  a depthwise k_h x 1 conv (vertical stride and dilation), a depthwise 1 x k_w conv (horizontal ones),
  a 1x1 conv R -> C_out (bias, activation). SAME/VALID padding separates per axis, so the chain
  computes the same function as the original at full rank.

Ranks come from a MAC budget (`macs_ratio`: each decomposed layer keeps that fraction of its MACs,
so the planner can estimate the rung from shapes alone) or, for Tucker-2, from an energy threshold on
each mode's unfolding (HOSVD). The decompositions themselves are tensorly's (partial_tucker, parafac),
seeded, in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import model_validator

from edge_sdk.errors import MissingDependencyError
from edge_sdk.techniques.config import Fraction, TechniqueConfig, UpToOne

TUCKER_MIN_INPUT_CHANNELS = 16  # fewer input channels: Tucker-1 (output mode only)
# CP's ALS sweeps: each costs about a second on a 3x3x64x256 kernel at rank 226 (2 cores), and the
# fine-tune repairs what more sweeps would; Tucker's HOOI converges in a few SVDs
CP_SWEEPS = 50
Method = Literal["tucker2", "cp"]


class DecompositionKeys(TechniqueConfig):
    """How `decompose` chooses layers and ranks (the framework adds its training keys)."""

    method: Method = "tucker2"
    macs_ratio: Fraction | None = None  # each decomposed conv keeps this fraction of its MACs
    energy: UpToOne = 0.9  # tucker2 without macs_ratio: fraction of each mode's squared singular values kept
    layers: tuple[str, ...] | None = None  # names to decompose; default every ungrouped conv wider than 1x1
    include_output: bool = False  # also decompose the model's output layers

    @model_validator(mode="after")
    def _cp_needs_a_budget(self) -> "DecompositionKeys":
        if self.method == "cp" and self.macs_ratio is None:
            raise ValueError("method cp chooses its rank from macs_ratio: set macs_ratio (e.g. 0.5)")
        return self


@dataclass(frozen=True)
class ConvGeometry:
    """One convolution's kernel and feature-map sizes (batch 1)."""

    kh: int
    kw: int
    cin: int
    cout: int
    in_hw: tuple[int, int]
    out_hw: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    padding: str = "valid"  # or "same" (TensorFlow's: the output is ceil(input / stride))
    per_axis_strides: bool = False  # the framework's depthwise conv takes a stride per axis (torch, not TF)

    @property
    def macs(self) -> int:
        return self.kh * self.kw * self.cin * self.cout * _pixels(self.out_hw)


@dataclass(frozen=True)
class Factors:
    """The decomposed layers' kernels, in order, each in the original kernel's (k_h, k_w, in, out)
    layout; `None` entries are layers left out (Tucker-1's input side). `depthwise` marks which are
    depthwise (CP's middle two, with `in` = the channels and `out` = 1)."""

    kernels: tuple[np.ndarray | None, ...]
    depthwise: tuple[bool, ...]
    relative_error: float


def decomposable(kernel_hw: tuple[int, int], groups: int) -> bool:
    """Only ungrouped convolutions with a spatial extent: 1x1 convs are `lowrank`'s (SVD)."""
    return groups == 1 and kernel_hw[0] * kernel_hw[1] > 1


def tucker_ranks(g: ConvGeometry, macs_ratio: float) -> tuple[int, int]:
    """(r_in, r_out) whose Tucker-2 (or -1) layers cost about `macs_ratio` of the conv's MACs; r_in ==
    C_in means the input mode is kept whole. Ranks scale both modes by one factor f: solve
    a f^2 + b f = ratio * MACs for the two projections and the core."""
    pin, pout = _pixels(g.in_hw), _pixels(g.out_hw)
    budget = macs_ratio * g.macs
    if g.cin < TUCKER_MIN_INPUT_CHANNELS:  # core C_in -> r_out, then 1x1 r_out -> C_out: linear in r_out
        r_out = budget / (g.kh * g.kw * g.cin * pout + g.cout * pout)
        return g.cin, _clamp(r_out, g.cout)
    a = g.kh * g.kw * g.cin * g.cout * pout
    b = g.cin * g.cin * pin + g.cout * g.cout * pout
    f = (-b + math.sqrt(b * b + 4 * a * budget)) / (2 * a)
    return _clamp(f * g.cin, g.cin), _clamp(f * g.cout, g.cout)


def tucker_energy_ranks(kernel: np.ndarray, energy: float) -> tuple[int, int]:
    """(r_in, r_out): the fewest singular vectors of each channel mode's unfolding keeping `energy`."""
    cin, cout = kernel.shape[2], kernel.shape[3]
    r_in = cin if cin < TUCKER_MIN_INPUT_CHANNELS else _energy_rank(np.moveaxis(kernel, 2, 0).reshape(cin, -1), energy)
    return r_in, _energy_rank(np.moveaxis(kernel, 3, 0).reshape(cout, -1), energy)


def tucker_macs(g: ConvGeometry, r_in: int, r_out: int) -> int:
    pin, pout = _pixels(g.in_hw), _pixels(g.out_hw)
    first = g.cin * r_in * pin if r_in < g.cin else 0
    return first + g.kh * g.kw * r_in * r_out * pout + r_out * g.cout * pout


def tucker_params(g: ConvGeometry, r_in: int, r_out: int) -> int:
    first = g.cin * r_in if r_in < g.cin else 0
    return first + g.kh * g.kw * r_in * r_out + r_out * g.cout


def cp_rank(g: ConvGeometry, macs_ratio: float) -> int:
    """R whose four CP layers cost about `macs_ratio` of the conv's MACs (linear in R)."""
    return max(1, round(macs_ratio * g.macs / _cp_macs_per_rank(g)))


def cp_macs(g: ConvGeometry, rank: int) -> int:
    return rank * _cp_macs_per_rank(g)


def cp_params(g: ConvGeometry, rank: int) -> int:
    return rank * (g.cin + g.kh + g.kw + g.cout)


def cp_pads(g: ConvGeometry) -> tuple[tuple[int, int], tuple[int, int]]:
    """The zero padding a strided CP chain adds itself, as TensorFlow's SAME padding would: its
    depthwise convs then run unpadded, the vertical one at stride 1 and the horizontal one at the
    conv's strides (TensorFlow's depthwise convs take equal strides on both axes only)."""
    if g.padding != "same":
        return (0, 0), (0, 0)
    pads = []
    for size, k, stride in zip(g.in_hw, (g.kh, g.kw), g.strides):
        total = max((-(-size // stride) - 1) * stride + k - size, 0)
        pads.append((total // 2, total - total // 2))
    return pads[0], pads[1]


def _cp_macs_per_rank(g: ConvGeometry) -> int:
    pin, pout = _pixels(g.in_hw), _pixels(g.out_hw)
    if max(g.strides) > 1 and not g.per_axis_strides:  # TF: the vertical conv runs at stride 1 over the padded input
        (top, bottom), (left, right) = cp_pads(g)
        middle = (g.in_hw[0] + top + bottom - g.kh + 1) * (g.in_hw[1] + left + right)
    else:  # after the vertical conv: output rows, input columns
        middle = g.out_hw[0] * g.in_hw[1]
    return g.cin * pin + g.kh * middle + g.kw * pout + g.cout * pout


def ranks_for(g: ConvGeometry, keys: DecompositionKeys, kernel: np.ndarray | None = None) -> tuple[int, ...]:
    """The ranks `decompose` uses for this conv: (r_in, r_out) for Tucker-2, (R,) for CP."""
    if keys.method == "cp":
        return (cp_rank(g, keys.macs_ratio),)
    if keys.macs_ratio is not None:
        return tucker_ranks(g, keys.macs_ratio)
    if kernel is None:
        raise ValueError("energy-based ranks need the kernel")
    return tucker_energy_ranks(kernel, keys.energy)


def decomposed_cost(g: ConvGeometry, method: Method, ranks: tuple[int, ...]) -> tuple[int, int]:
    """(MACs, kernel params) of the decomposed layers."""
    if method == "cp":
        return cp_macs(g, ranks[0]), cp_params(g, ranks[0])
    return tucker_macs(g, *ranks), tucker_params(g, *ranks)


def decompose(kernel: np.ndarray, method: Method, ranks: tuple[int, ...], seed: int) -> Factors:
    """The factor kernels of `kernel` (k_h, k_w, C_in, C_out) at `ranks` (see `ranks_for`)."""
    tl, decomposition = _tensorly()
    tl.set_backend("numpy")
    full = kernel.astype(np.float64)
    if method == "cp":
        (rank,) = ranks
        weights, (vertical, horizontal, into, out) = decomposition.parafac(
            full, rank, init="svd", n_iter_max=CP_SWEEPS, tol=1e-10, random_state=seed, normalize_factors=True)
        out = out * weights[None, :]
        kernels = (into[None, None], vertical[:, None, :, None], horizontal[None, :, :, None], out.T[None, None])
        approx = np.einsum("hr,wr,ir,or->hwio", vertical, horizontal, into, out)
        depthwise = (False, True, True, False)
    else:
        r_in, r_out = ranks
        modes = [3] if r_in >= kernel.shape[2] else [2, 3]
        rank = [r_out] if modes == [3] else [r_in, r_out]
        (core, factors), _ = decomposition.partial_tucker(full, rank, modes=modes, init="svd", n_iter_max=100,
                                                          tol=1e-10, random_state=seed)
        u_in = None if modes == [3] else factors[0]
        u_out = factors[-1]
        kernels = (None if u_in is None else u_in[None, None], core, u_out.T[None, None])
        approx = np.einsum("hwab,ob->hwao", core, u_out)
        if u_in is not None:
            approx = np.einsum("hwao,ia->hwio", approx, u_in)
        depthwise = (False, False, False)
    error = float(np.linalg.norm(approx - full) / max(np.linalg.norm(full), 1e-30))
    return Factors(tuple(None if k is None else k.astype(np.float32) for k in kernels), depthwise, error)


def _tensorly():
    try:
        import tensorly
        import tensorly.decomposition
    except ImportError as exc:
        raise MissingDependencyError(
            f"tensorly is not installed ({exc}); install it with: pip install 'edge-deploy-sdk[tf]' (or [torch])"
        ) from None
    return tensorly, tensorly.decomposition


def _energy_rank(matrix: np.ndarray, energy: float) -> int:
    singular = np.linalg.svd(matrix.astype(np.float64), compute_uv=False)
    cumulative = np.cumsum(singular**2) / max(float((singular**2).sum()), 1e-30)
    return int(min(len(singular), np.searchsorted(cumulative, energy - 1e-9) + 1))


def _clamp(rank: float, full: int) -> int:
    return max(1, min(full, round(rank)))


def _pixels(hw: tuple[int, int]) -> int:
    return hw[0] * hw[1]
