"""Read the weights stored in an mlpackage and decompress them in numpy.

Every const and constexpr op of the MIL program's main function is evaluated here, independently of
coremltools' own decompression: LUT palettization (iOS16 packed indices, iOS18 per-block LUTs),
affine / blockwise int8 quantization, sparse masks, and joint sparse+LUT. The conv/linear ops'
(decompressed) weights are then returned per op, ready to be mapped back onto Keras layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk import deps


@dataclass(frozen=True)
class WeightOp:
    name: str  # the MIL op name (derived from the TF op, so it contains the Keras layer name)
    op_type: str  # conv | linear | ...
    weight: np.ndarray  # as Core ML stores it: conv OIHW, linear (out, in)
    bias: np.ndarray | None
    groups: int
    compressed_by: str | None  # the constexpr op that produced the weight, if any


def load_program(package: Path) -> tuple[Any, Any]:
    """(spec, pymil Program) of a saved mlpackage, weights resolved from its weights dir."""
    ct = deps.coremltools()
    milproto = deps.module("coremltools.converters.mil.frontend.milproto.load")
    spec = ct.utils.load_spec(str(package))
    weights = package / "Data" / "com.apple.CoreML" / "weights"
    return spec, milproto.load(spec, spec.specificationVersion, str(weights))


def _unpack(packed: np.ndarray, nbits: int, count: int) -> np.ndarray:
    """iOS16 packed unsigned ints: little-endian bit order, first element in the lowest bits."""
    bits = np.unpackbits(packed.astype(np.uint8).reshape(-1), bitorder="little")[: count * nbits]
    return (bits.reshape(count, nbits).astype(np.int64) << np.arange(nbits)).sum(axis=1)


def _expand(blocks: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Repeat a per-block array (same rank as `shape`) up to `shape`."""
    out = blocks
    for axis, size in enumerate(shape):
        if out.shape[axis] != size:
            out = np.repeat(out, size // out.shape[axis], axis=axis)
    return out


def _lut(op, get) -> np.ndarray:
    lut, indices = np.asarray(get("lut")), np.asarray(get("indices"))
    if "shape" in op.inputs:  # iOS16/17: per-tensor LUT, packed indices
        shape = tuple(int(d) for d in get("shape"))
        nbits = int(np.log2(lut.size))
        return lut[_unpack(indices, nbits, int(np.prod(shape)))].reshape(shape)
    # iOS18: lut shape = per-axis block counts + (2^n, vector size); indices full shape
    if lut.shape[-1] != 1:
        raise NotImplementedError("vector palettization (cluster_dim > 1)")
    table = _expand(lut[..., 0], indices.shape + (lut.shape[-2],))
    return np.take_along_axis(table, indices.astype(np.int64)[..., None], axis=-1)[..., 0]


def _affine(op, get) -> np.ndarray:
    q = np.asarray(get("quantized_data")).astype(np.float32)
    axis = int(get("axis"))
    shape = [1] * q.ndim
    zp, scale = np.asarray(get("zero_point")).astype(np.float32), np.asarray(get("scale")).astype(np.float32)
    if zp.size > 1 or scale.size > 1:
        shape[axis] = -1
    return (q - zp.reshape(shape if zp.size > 1 else [1] * q.ndim)) * scale.reshape(shape if scale.size > 1 else [1] * q.ndim)


def _blockwise(op, get) -> np.ndarray:
    data = np.asarray(get("data")).astype(np.float32)
    scale = _expand(np.asarray(get("scale")).astype(np.float32), data.shape)
    offset = get("offset") if "offset" in op.inputs else None
    if offset is not None:
        data = data - _expand(np.asarray(offset).astype(np.float32), data.shape)
    return data * scale


def _sparse(op, get) -> np.ndarray:
    nonzero, mask = np.asarray(get("nonzero_data")), np.asarray(get("mask"))
    if "shape" in op.inputs:  # iOS16/17: packed bit mask
        shape = tuple(int(d) for d in get("shape"))
        flags = _unpack(mask, 1, int(np.prod(shape))).astype(bool).reshape(shape)
    else:
        flags = mask.astype(bool)
    dense = np.zeros(flags.shape, dtype=np.float32)
    dense[flags] = nonzero.astype(np.float32).reshape(-1)
    return dense


def _lut_to_sparse(op, get) -> tuple[np.ndarray, np.ndarray]:
    """iOS18 joint compression: (mask, non-zero values looked up in a per-tensor LUT)."""
    lut = np.asarray(get("lut"))
    if int(np.prod(lut.shape[:-2])) != 1 or lut.shape[-1] != 1:
        raise NotImplementedError("per-channel LUTs with sparsity")
    return np.asarray(get("indices_mask")), lut.reshape(-1)[np.asarray(get("indices_nonzero_data")).astype(np.int64)]


DECODERS = {
    "constexpr_lut_to_dense": _lut,
    "constexpr_affine_dequantize": _affine,
    "constexpr_blockwise_shift_scale": _blockwise,
    "constexpr_sparse_to_dense": _sparse,
}


def program_values(program: Any) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(var name -> decompressed value, var name -> the constexpr op type that produced it)."""
    values: dict[str, np.ndarray] = {}
    producers: dict[str, str] = {}
    for op in program.functions["main"].operations:
        def get(name, op=op):
            var = op.inputs[name]
            return values[var.name] if var.name in values else var.val

        if op.op_type == "const":
            values[op.outputs[0].name] = op.outputs[0].val
        elif op.op_type == "constexpr_lut_to_sparse":
            for out, val in zip(op.outputs, _lut_to_sparse(op, get)):
                values[out.name], producers[out.name] = val, op.op_type
        elif op.op_type in DECODERS:
            values[op.outputs[0].name] = DECODERS[op.op_type](op, get)
            first = op.inputs.get("nonzero_data")
            producers[op.outputs[0].name] = producers.get(first.name, op.op_type) if first is not None else op.op_type
    return values, producers


def weight_ops(program: Any) -> list[WeightOp]:
    """Every conv / linear op with its decompressed weight and bias, in program order."""
    values, producers = program_values(program)
    found = []
    for op in program.functions["main"].operations:
        if op.op_type not in ("conv", "linear") or "weight" not in op.inputs:
            continue
        weight = op.inputs["weight"].name
        bias = op.inputs.get("bias")
        groups = op.inputs.get("groups")
        found.append(WeightOp(
            op.name, op.op_type, np.asarray(values[weight], dtype=np.float32),
            None if bias is None else np.asarray(values.get(bias.name, bias.val), dtype=np.float32),
            int(groups.val) if groups is not None else 1, producers.get(weight),
        ))
    return found
