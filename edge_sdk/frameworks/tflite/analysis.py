"""TFLite flatbuffer -> ModelInfo, from the LiteRT interpreter's op and tensor tables.

Each op is one layer (named after its output tensor), its op name is already the runtime op, params
are the elements of the constant tensors (after the converter's folding, so a BatchNormalization folded
into a conv contributes nothing), and MACs follow the same convention as the Keras analysis.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING
from edge_sdk import deps
from edge_sdk.errors import ModelLoadError
from edge_sdk.model.analysis import assemble
from edge_sdk.contracts.model import LayerInfo, LoadedModel, ModelInfo

if TYPE_CHECKING:
    from edge_sdk.formats.common.flatbuffer import Graph

KINDS = {
    "CONV_2D": "conv",
    "CONV_3D": "conv",
    "TRANSPOSE_CONV": "conv",
    "DEPTHWISE_CONV_2D": "depthwise",
    "FULLY_CONNECTED": "dense",
    "BATCH_MATMUL": "matmul",
    "GATHER": "embedding",
    "MAX_POOL_2D": "pool",
    "AVERAGE_POOL_2D": "pool",
    "MEAN": "pool",
    "REDUCE_MAX": "pool",
    "RESHAPE": "reshape",
    "SQUEEZE": "reshape",
    "EXPAND_DIMS": "reshape",
    "TRANSPOSE": "reshape",
    "PAD": "reshape",
    "STRIDED_SLICE": "reshape",
    "CONCATENATION": "elementwise",
    "ADD": "elementwise",
    "SUB": "elementwise",
    "MUL": "elementwise",
    "MAXIMUM": "elementwise",
    "MINIMUM": "elementwise",
    "SQUARED_DIFFERENCE": "elementwise",
    "RELU": "activation",
    "RELU6": "activation",
    "LEAKY_RELU": "activation",
    "PRELU": "activation",
    "LOGISTIC": "activation",
    "TANH": "activation",
    "SOFTMAX": "activation",
    "HARD_SWISH": "activation",
    "GELU": "activation",
    "ELU": "activation",
}


def analyze_tflite(loaded: LoadedModel) -> ModelInfo:
    Interpreter = deps.litert_interpreter()
    try:
        interp = Interpreter(model_content=bytes(loaded.handle))
    except ValueError as exc:
        raise ModelLoadError(f"{loaded.path or 'model'}: LiteRT cannot read this flatbuffer ({exc})") from exc
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    ops = interp._get_ops_details()
    produced = {int(o) for op in ops for o in op["outputs"]}
    input_details = interp.get_input_details()
    graph_inputs = [d["index"] for d in input_details]
    constants = {i for i in tensors if i not in produced and i not in graph_inputs}

    def shape(i: int) -> tuple[int, ...]:
        return tuple(int(d) for d in tensors[i]["shape"])

    producer: dict[int, str] = {}
    layers: list[LayerInfo] = []
    used: set[str] = set()
    for k, index in enumerate(graph_inputs):
        name = _unique(loaded.inputs[k].name if k < len(loaded.inputs) else input_details[k]["name"], used)
        producer[index] = name
        layers.append(LayerInfo(name, "INPUT", "input", (), (shape(index),), 0, 0, 0, math.prod(shape(index))))
    for op in ops:
        if op["op_name"] == "DELEGATE":
            continue
        ins = [int(i) for i in op["inputs"] if i >= 0]
        outs = [int(i) for i in op["outputs"]]
        data_ins = [i for i in ins if i not in constants]
        weights = [i for i in ins if i in constants]
        name = _unique(_tensor_label(tensors[outs[0]]["name"]) or f"op{op['index']}", used)
        for i in outs:
            producer[i] = name
        out_elems = sum(math.prod(shape(i)) for i in outs)
        kind = KINDS.get(op["op_name"], "other")
        layers.append(
            LayerInfo(
                name=name,
                op=op["op_name"],
                kind=kind,
                input_shapes=tuple(shape(i) for i in data_ins),
                output_shapes=tuple(shape(i) for i in outs),
                params=sum(math.prod(shape(i)) for i in weights),
                macs=_macs(op["op_name"], [shape(i) for i in ins], shape(outs[0])),
                other_ops=out_elems if kind in ("activation", "elementwise", "pool", "norm") else 0,
                output_elems=out_elems,
                inputs=tuple(dict.fromkeys(producer[i] for i in data_ins if i in producer)),
                runtime_ops={"tflite": (op["op_name"],)},
                weight_shapes=tuple(shape(i) for i in weights),
            )
        )
    outputs = tuple(dict.fromkeys(producer[d["index"]] for d in interp.get_output_details() if d["index"] in producer))
    dtypes = sorted({_dtype(tensors[i]) for i in tensors if i not in constants} - {"int32", "int64", "bool"})
    return assemble("tflite", layers, loaded.inputs, loaded.outputs, output_names=outputs, dtypes=tuple(dtypes))


def _tensor_label(name: str) -> str:
    """The first of the names the converter joined with ';' when it fused ops."""
    return name.split(";")[0].strip()


def _unique(name: str, used: set[str]) -> str:
    base, k = name, 1
    while name in used:
        k += 1
        name = f"{base}#{k}"
    used.add(name)
    return name


def _dtype(tensor: dict) -> str:
    import numpy as np

    return np.dtype(tensor["dtype"]).name


def float_macs_fraction(graph: Graph) -> float:
    """Of a flatbuffer's MACs, the share its float ops run (int8-mixed: the ops kept float)."""
    total = floating = 0
    for op in graph.ops:
        macs = _macs(op.name, [graph.tensors[i].shape for i in op.inputs if i >= 0], graph.tensors[op.outputs[0]].shape)
        total += macs
        floating += macs if graph.tensors[op.outputs[0]].dtype == "float32" else 0
    return floating / total if total else 0.0


def _macs(op: str, ins: list[tuple[int, ...]], out: tuple[int, ...]) -> int:
    """MACs from operand shapes (TFLite layouts: conv filters OHWI, depthwise 1HWO, FC weights [out, in])."""
    if op in ("CONV_2D", "CONV_3D"):
        filt = ins[1]
        return math.prod(out) * math.prod(filt[1:])
    if op == "DEPTHWISE_CONV_2D":
        filt = ins[1]
        return math.prod(out) * math.prod(filt[1:-1])
    if op == "TRANSPOSE_CONV":  # inputs: output_shape, filter [O, H, W, I], input
        filt, x = ins[1], ins[2]
        return math.prod(x) * math.prod(filt[:-1])
    if op == "FULLY_CONNECTED":
        return math.prod(out) * ins[1][-1]
    if op == "BATCH_MATMUL":
        return math.prod(out) * ins[0][-1]
    return 0
