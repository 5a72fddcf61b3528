"""Read a TFLite flatbuffer: its ops, tensors and dtypes, and which Keras layer each op came from.

Uses the schema bindings shipped with the `tflite_micro` package (the same schema TFLM itself reads).
The converter names tensors after the TF ops they came from ("model/conv1/BiasAdd;model/conv1/Conv2D"),
so an op is mapped back to a layer by finding a layer name among the path components of its output
tensor names.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from edge_sdk import deps

_TENSOR_TYPES = {
    0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string", 6: "bool", 7: "int16",
    8: "complex64", 9: "int8", 10: "float64", 11: "complex128", 12: "uint64", 13: "resource",
    14: "variant", 15: "uint32", 16: "uint16", 17: "int4",
}


@dataclass(frozen=True)
class Tensor:
    index: int
    name: str
    dtype: str
    shape: tuple[int, ...]
    constant: bool  # has data in the flatbuffer (weights, biases, shape operands)
    scales: tuple[float, ...] = ()
    zero_points: tuple[int, ...] = ()


@dataclass(frozen=True)
class Op:
    index: int
    name: str  # builtin name, e.g. CONV_2D, or the custom code for CUSTOM ops
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@dataclass(frozen=True)
class Graph:
    ops: tuple[Op, ...]
    tensors: tuple[Tensor, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]

    def op_names(self) -> list[str]:
        """Distinct op names in order of first use (a deterministic order for generated code)."""
        return list(dict.fromkeys(op.name for op in self.ops))


@lru_cache(maxsize=1)
def _builtin_names() -> dict[int, str]:
    schema = deps.tflite_micro().runtime.schema_fb
    return {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}


def model_object(flatbuffer: bytes):
    """The flatbuffer as the schema's mutable object tree (ModelT), for passes that edit it."""
    return deps.tflite_micro().runtime.convert_bytearray_to_object(bytearray(flatbuffer))


def pack(model) -> bytes:
    """A ModelT (from `model_object`, edited) back to flatbuffer bytes, each buffer's data starting on a
    16-byte boundary as TensorFlow's converter writes it (kernels read weights in place; the generated
    Pack would align them to 1 byte)."""
    import flatbuffers

    model.buffers = [_Aligned(b) for b in model.buffers]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    model.buffers = [b.buffer for b in model.buffers]
    return bytes(builder.Output())


class _Aligned:
    """Packs a BufferT like the generated code, but with its data vector 16-byte aligned."""

    ALIGNMENT = 16

    def __init__(self, buffer):
        self.buffer = buffer

    def Pack(self, builder):  # noqa: N802 - the generated ModelT.Pack calls this name
        schema = deps.tflite_micro().runtime.schema_fb
        data = None
        if self.buffer.data is not None:
            raw = bytes(self.buffer.data)  # a uint8 array, or a list of ints without numpy
            builder.StartVector(1, len(raw), self.ALIGNMENT)
            builder.head -= len(raw)
            builder.Bytes[builder.head:builder.head + len(raw)] = raw
            data = builder.EndVector()
        schema.BufferStart(builder)
        if data is not None:
            schema.BufferAddData(builder, data)
        schema.BufferAddOffset(builder, self.buffer.offset)
        schema.BufferAddSize(builder, self.buffer.size)
        return schema.BufferEnd(builder)


def op_codes(model) -> list[str]:
    """A ModelT's op names by opcode index (builtin name, or the custom code for CUSTOM ops)."""
    runtime = deps.tflite_micro().runtime
    names = _builtin_names()
    codes = []
    for oc in model.operatorCodes:
        code = runtime.get_builtin_code_from_operator_code(oc)
        custom = oc.customCode.decode() if oc.customCode else None
        codes.append(custom if names.get(code) == "CUSTOM" and custom else names.get(code, f"BUILTIN_{code}"))
    return codes


def read_graph(flatbuffer: bytes) -> Graph:
    """The main subgraph of a .tflite flatbuffer."""
    model = model_object(flatbuffer)
    codes = op_codes(model)
    sub = model.subgraphs[0]
    tensors = []
    for i, t in enumerate(sub.tensors):
        buf = model.buffers[t.buffer] if t.buffer < len(model.buffers) else None
        has_data = buf is not None and ((buf.data is not None and len(buf.data) > 0) or (buf.size or 0) > 0)
        q = t.quantization
        scales = tuple(float(s) for s in (q.scale if q is not None and q.scale is not None else ()))
        zps = tuple(int(z) for z in (q.zeroPoint if q is not None and q.zeroPoint is not None else ()))
        shape = tuple(int(d) for d in (t.shape if t.shape is not None else ()))
        tensors.append(Tensor(i, (t.name or b"").decode(), _TENSOR_TYPES.get(t.type, str(t.type)), shape, has_data, scales, zps))
    ops = tuple(
        Op(i, codes[o.opcodeIndex], tuple(int(x) for x in o.inputs if x >= 0), tuple(int(x) for x in o.outputs))
        for i, o in enumerate(sub.operators or ())
    )
    return Graph(ops, tuple(tensors), tuple(int(x) for x in sub.inputs), tuple(int(x) for x in sub.outputs))


def layer_of(op: Op, graph: Graph, layer_names: Iterable[str]) -> str | None:
    """The Keras layer an op was converted from (by tensor names), or None when it cannot be told."""
    known = set(layer_names)
    # Outputs first; an op whose output was renamed (the graph output) is named by its inputs.
    candidates = list(op.outputs) + [t for t in op.inputs if not graph.tensors[t].constant]
    for t in candidates:
        for part in graph.tensors[t].name.split(";"):
            for component in part.split("/"):
                if component in known:
                    return component
    return None
