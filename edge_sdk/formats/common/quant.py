"""(De)quantization of interpreter I/O with the tensor's own scale and zero point."""

from __future__ import annotations

import numpy as np


def _params(details: dict) -> tuple[float, int]:
    q = details.get("quantization_parameters") or {}
    scales = q.get("scales")
    if scales is not None and len(scales):
        return float(scales[0]), int(q["zero_points"][0])
    scale, zp = details.get("quantization", (0.0, 0))
    return float(scale), int(zp)


def to_input(x: np.ndarray, details: dict) -> np.ndarray:
    """Float data -> the input tensor's dtype (quantized with its scale/zero point when integer)."""
    dtype = np.dtype(details["dtype"])
    if dtype.kind == "f":
        return x.astype(dtype)
    scale, zp = _params(details)
    if scale == 0:
        return x.astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale) + zp, info.min, info.max).astype(dtype)


def from_output(y: np.ndarray, details: dict) -> np.ndarray:
    """An output tensor -> float32 (dequantized when integer)."""
    if np.dtype(details["dtype"]).kind == "f":
        return y.astype(np.float32)
    scale, zp = _params(details)
    return ((y.astype(np.float32) - zp) * scale) if scale else y.astype(np.float32)
