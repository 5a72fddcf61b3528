"""`ModelInfo` for torch.export programs, with the Keras analysis' conventions.

Layers are the exported graph's call_function nodes; consecutive nodes of one built-in torch.nn module
call (e.g. conv1, bn1) form one layer named by the module path, other nodes are layers of their own.
Shapes are per sample (symbolic dims are evaluated at 1, the batch-1 convention of model tables); a
program exported with a static batch B > 1 keeps its shapes, and its counts are divided by B.
MACs count conv / linear / matmul / bmm / addmm / attention (what torch.utils.flop_counter counts as
2 FLOPs per MAC); params are the program's parameters, each counted once at its first user.
Peak activation memory comes from tensor lifetimes under sequential execution (model/analysis.py),
with layers made only of view ops aliasing their input's tensor instead of allocating.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from edge_sdk.frameworks.torch.loading import dynamic_dims
from edge_sdk.model.analysis import assemble
from edge_sdk.contracts.model import LayerInfo, LoadedModel, ModelInfo

KINDS = {
    "conv2d": "conv", "conv1d": "conv", "convolution": "conv", "linear": "dense", "addmm": "dense",
    "matmul": "matmul", "mm": "matmul", "bmm": "matmul", "baddbmm": "matmul",
    "scaled_dot_product_attention": "matmul", "embedding": "embedding",
    "max_pool2d": "pool", "avg_pool2d": "pool", "adaptive_avg_pool2d": "pool", "max_pool1d": "pool",
    "batch_norm": "norm", "_native_batch_norm_legit_no_training": "norm", "layer_norm": "norm",
    "group_norm": "norm", "relu": "activation", "relu_": "activation", "gelu": "activation",
    "sigmoid": "activation", "tanh": "activation", "softmax": "activation", "_softmax": "activation",
    "hardtanh": "activation", "silu": "activation", "hardswish": "activation", "log_softmax": "activation",
    "add": "elementwise", "sub": "elementwise", "mul": "elementwise", "div": "elementwise",
    "mean": "elementwise", "sum": "elementwise", "pow": "elementwise", "sqrt": "elementwise",
    "rsqrt": "elementwise", "exp": "elementwise", "masked_fill": "elementwise", "where": "elementwise",
    "cat": "elementwise",
}
VIEWS = {
    "view", "reshape", "flatten", "permute", "transpose", "t", "unsqueeze", "squeeze", "expand",
    "slice", "select", "alias", "detach", "dropout", "contiguous", "clone", "unflatten", "split",
    "chunk", "getitem", "_unsafe_view", "identity",
}
MIL = {
    "conv2d": "conv", "conv1d": "conv", "convolution": "conv", "linear": "linear", "addmm": "linear",
    "matmul": "matmul", "mm": "matmul", "bmm": "matmul", "embedding": "gather",
    # coremltools lowers sdpa to matmul + softmax at every target below iOS18 (its fused op from iOS18)
    "scaled_dot_product_attention": "matmul", "max_pool2d": "max_pool",
    "avg_pool2d": "avg_pool", "adaptive_avg_pool2d": "reduce_mean", "batch_norm": "batch_norm",
    "_native_batch_norm_legit_no_training": "batch_norm", "layer_norm": "layer_norm", "relu": "relu",
    "gelu": "gelu", "sigmoid": "sigmoid", "tanh": "tanh", "softmax": "softmax", "_softmax": "softmax",
    "hardtanh": "clip", "silu": "silu", "log_softmax": "softmax", "add": "add", "sub": "sub",
    "mul": "mul", "div": "real_div", "mean": "reduce_mean", "sum": "reduce_sum", "pow": "pow",
    "sqrt": "sqrt", "rsqrt": "rsqrt", "exp": "exp", "cat": "concat", "view": "reshape",
    "reshape": "reshape", "flatten": "reshape", "permute": "transpose", "transpose": "transpose",
    "t": "transpose", "unsqueeze": "expand_dims", "squeeze": "squeeze", "masked_fill": "select",
    "where": "select", "slice": "slice_by_index", "select": "gather", "expand": "tile",
}

# aten op -> the ONNX operators torch.onnx's dynamo exporter emits for it at opset 17 (surveyed over the
# conformance zoo's torch models). An op not listed maps to `?op`, so the fit check sends the model to
# the target's next format instead of guessing; view-like ops that export to nothing map to ().
ONNX = {
    "conv2d": ("Conv",), "conv1d": ("Conv",), "convolution": ("Conv",), "linear": ("Gemm", "MatMul", "Add"),
    "addmm": ("Gemm",), "matmul": ("MatMul",), "mm": ("MatMul",), "bmm": ("MatMul",), "baddbmm": ("MatMul", "Add"),
    "embedding": ("Gather",), "scaled_dot_product_attention": ("MatMul", "Mul", "Add", "Softmax", "Where", "IsNaN"),
    "max_pool2d": ("MaxPool",), "avg_pool2d": ("AveragePool",), "adaptive_avg_pool2d": ("GlobalAveragePool",),
    "batch_norm": ("BatchNormalization",), "_native_batch_norm_legit_no_training": ("BatchNormalization",),
    "layer_norm": ("LayerNormalization",), "relu": ("Relu",), "gelu": ("Erf", "Mul", "Add", "Div"),
    "sigmoid": ("Sigmoid",), "tanh": ("Tanh",), "softmax": ("Softmax",), "_softmax": ("Softmax",),
    "log_softmax": ("LogSoftmax",), "hardtanh": ("Clip",), "clamp": ("Clip",), "clamp_min": ("Clip",),
    "clamp_max": ("Clip",), "silu": ("Sigmoid", "Mul"), "hardswish": ("HardSwish",), "hardsigmoid": ("HardSigmoid",),
    "prelu": ("PRelu",), "leaky_relu": ("LeakyRelu",), "lstm": ("LSTM",), "add": ("Add",), "sub": ("Sub",),
    "mul": ("Mul",), "div": ("Div",), "mean": ("ReduceMean",), "sum": ("ReduceSum",), "pow": ("Pow",),
    "sqrt": ("Sqrt",), "rsqrt": ("Sqrt", "Reciprocal"), "exp": ("Exp",), "cat": ("Concat",),
    "linalg_vector_norm": ("ReduceL2",), "view": ("Reshape",), "reshape": ("Reshape",), "_unsafe_view": ("Reshape",),
    "flatten": ("Reshape",), "unflatten": ("Reshape",), "permute": ("Transpose",), "transpose": ("Transpose",),
    "t": ("Transpose",), "unsqueeze": ("Unsqueeze",), "squeeze": ("Squeeze",), "slice": ("Slice",),
    "select": ("Gather",), "expand": ("Expand",), "masked_fill": ("Where",), "where": ("Where",),
    "split": ("Split",), "chunk": ("Split",), "_to_copy": ("Cast",), "bitwise_and": ("And",),
    "gather": ("GatherElements",), "index": ("GatherND",), "arange": ("Range",), "sym_size": ("Shape",),
    "__and__": ("And",), "logical_and": ("And",), "bitwise_not": ("Not",), "logical_not": ("Not",),
    "eq": ("Equal",), "ne": ("Equal", "Not"), "lt": ("Less",), "le": ("LessOrEqual",), "gt": ("Greater",),
    "ge": ("GreaterOrEqual",), "neg": ("Neg",), "abs": ("Abs",), "cumsum": ("CumSum",), "to": ("Cast",),
    "type_as": ("Cast",), "expand_as": ("Expand",), "new_ones": ("ConstantOfShape",), "ones": ("ConstantOfShape",),
    "zeros": ("ConstantOfShape",), "full": ("ConstantOfShape",), "full_like": ("ConstantOfShape",),
    "scalar_tensor": ("Constant",),
    "getitem": (), "alias": (), "detach": (), "dropout": (), "contiguous": (), "clone": (), "identity": (),
    "_assert_tensor_metadata": (),
}

def op_base(target: Any) -> str:
    """aten.conv2d.default -> conv2d; operator.getitem -> getitem."""
    name = getattr(target, "__name__", str(target))
    return name.split(".")[0]


def aten_name(target: Any) -> str:
    return str(target) if hasattr(target, "_schema") or "aten" in str(target) else op_base(target)


Sizes = dict  # symbol name -> the size a dynamic dim is analyzed at (symbols not in it: 1)


def per_sample_shape(val: Any, sizes: Sizes | None = None) -> tuple[int, ...]:
    """Concrete shape with every symbolic dim evaluated at `sizes` (the batch and anything missing: 1)."""
    if not hasattr(val, "shape"):
        return ()
    dims = []
    for d in val.shape:
        if isinstance(d, int):
            dims.append(d)
        else:
            expr = d.node.expr
            dims.append(int(expr.subs({s: (sizes or {}).get(str(s), 1) for s in expr.free_symbols})))
    return tuple(dims)


def analysis_sizes(ep: Any) -> Sizes:
    """Each non-batch dynamic dim (a sequence length) at the largest size the program declares, so
    memory and latency are estimated, and budgets checked, at the longest input it accepts; an
    unbounded one at the size it was exported with."""
    sizes: Sizes = {}
    examples = ep.example_inputs[0] if ep.example_inputs else ()
    for n, dims in enumerate(dynamic_dims(ep)):
        for i, (symbol, _, hi) in dims.items():
            if i == 0:
                continue
            exported = int(examples[n].shape[i]) if n < len(examples) else 1
            sizes[symbol] = max(sizes.get(symbol, 1), hi if hi is not None else exported)
    return sizes


def _numel(shape: tuple[int, ...]) -> int:
    return math.prod(shape) if shape else 1


def _vals(node: Any) -> list:
    val = node.meta.get("val")
    return list(val) if isinstance(val, (tuple, list)) else [val]


def _in_shape(arg: Any, sizes: Sizes) -> tuple[int, ...]:
    return per_sample_shape(arg.meta.get("val"), sizes) if hasattr(arg, "meta") else ()


def node_macs(node: Any, sizes: Sizes) -> int:
    """Multiply-accumulates of one node at batch 1 (0 for ops that are not conv/linear/matmul)."""
    base = op_base(node.target)
    out = per_sample_shape(_vals(node)[0], sizes)
    args = node.args
    if base in ("conv2d", "conv1d", "convolution"):
        w = _in_shape(args[1], sizes)  # (out, in / groups, *kernel)
        return _numel(out) * w[1] * _numel(w[2:]) if w else 0
    if base == "linear":
        return _numel(out) * _in_shape(args[1], sizes)[-1]
    if base in ("mm", "matmul", "bmm"):
        return _numel(out) * _in_shape(args[0], sizes)[-1]
    if base in ("addmm", "baddbmm"):
        return _numel(out) * _in_shape(args[1], sizes)[-1]
    if base == "scaled_dot_product_attention":
        q, k, v = (_in_shape(a, sizes) for a in args[:3])
        lead = _numel(q[:-2])
        return lead * q[-2] * k[-2] * q[-1] + lead * q[-2] * k[-2] * v[-1]
    return 0


def _node_elems(node: Any, sizes: Sizes) -> int:
    return sum(_numel(per_sample_shape(v, sizes)) for v in _vals(node) if hasattr(v, "shape"))


def _other_ops(kind: str, out_elems: int, node: Any) -> int:
    if kind == "pool":
        k = node.args[1] if len(node.args) > 1 and isinstance(node.args[1], (list, tuple)) else (1,)
        return out_elems * _numel(tuple(k))
    if kind in ("elementwise", "activation", "norm"):
        return out_elems
    return 0


@dataclass
class _Group:
    name: str
    nodes: list = field(default_factory=list)


def _module_key(node: Any) -> tuple[str, str] | None:
    """(module path, class) of the innermost built-in torch.nn module that made this node, if any."""
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return None
    path, cls = list(stack.values())[-1]
    cls = cls if isinstance(cls, str) else f"{cls.__module__}.{cls.__qualname__}"
    return (path, cls) if path and cls.startswith("torch.nn.modules.") else None


def _groups(graph: Any) -> list[_Group]:
    groups: list[_Group] = []
    prev_key: Any = object()
    used: dict[str, int] = {}
    for node in graph.nodes:
        if node.op != "call_function":
            continue
        key = _module_key(node)
        if key is not None and key == prev_key:
            groups[-1].nodes.append(node)
            continue
        base = key[0].replace(".", "_") if key else node.name
        n = used.get(base, 0)
        used[base] = n + 1
        groups.append(_Group(base if n == 0 else f"{base}_{n}", [node]))
        prev_key = key
    return groups


def _layer_kind(nodes: list) -> tuple[str, str]:
    """(kind, op) of a group: its MAC op if it has one, else its first non-view op."""
    bases = [op_base(n.target) for n in nodes]
    for b, n in zip(bases, nodes):
        kind = KINDS.get(b)
        if kind in ("conv", "dense", "matmul", "embedding"):
            groups = n.args[6] if b == "conv2d" and len(n.args) > 6 else 1
            return ("depthwise" if isinstance(groups, int) and groups > 1 else kind), aten_name(n.target)
    for b, n in zip(bases, nodes):
        if b not in VIEWS and b != "getitem":
            return KINDS.get(b, "other"), aten_name(n.target)
    return "reshape", aten_name(nodes[0].target)


def analyze_torch(model: LoadedModel) -> ModelInfo:
    ep = model.handle
    sig = ep.graph_signature
    param_of = dict(sig.inputs_to_parameters)
    state = ep.state_dict
    groups = _groups(ep.graph)
    sizes = analysis_sizes(ep)
    owner: dict[str, str] = {}  # node name -> layer name whose output it is
    for spec in model.inputs:
        owner[spec.name] = spec.name
    for g in groups:
        for n in g.nodes:
            owner[n.name] = g.name

    seen_params: set[str] = set()
    layers: list[LayerInfo] = [
        LayerInfo(s.name, "input", "input", (), (per_sample_shape_from_spec(s),), 0, 0, 0, _numel(per_sample_shape_from_spec(s)))
        for s in model.inputs
    ]
    for g in groups:
        members = {n.name for n in g.nodes}
        in_shapes, in_layers, weights, params = [], [], [], 0
        for n in g.nodes:
            for a in n.all_input_nodes:
                if a.name in members:
                    continue
                if a.op == "placeholder" and a.name in param_of:
                    fqn = param_of[a.name]
                    weights.append(tuple(state[fqn].shape))
                    if fqn not in seen_params:
                        seen_params.add(fqn)
                        params += state[fqn].numel()
                elif a.name in owner:
                    in_shapes.append(_in_shape(a, sizes))
                    if owner[a.name] not in in_layers:
                        in_layers.append(owner[a.name])
        exits = [n for n in g.nodes if any(u.name not in members for u in n.users)] or g.nodes[-1:]
        out_shapes = tuple(per_sample_shape(v, sizes) for n in exits for v in _vals(n) if hasattr(v, "shape"))
        kind, op = _layer_kind(g.nodes)
        out_elems = sum(_numel(s) for s in out_shapes)
        macs = sum(node_macs(n, sizes) for n in g.nodes)
        other = sum(_other_ops(KINDS.get(op_base(n.target), "other"), _node_elems(n, sizes), n) for n in g.nodes)
        bases = [op_base(n.target) for n in g.nodes if op_base(n.target) != "getitem"]
        runtime_ops = {
            "aten": tuple(dict.fromkeys(aten_name(n.target) for n in g.nodes if op_base(n.target) != "getitem")),
            "coreml": tuple(dict.fromkeys(MIL[b] for b in bases if b in MIL and b not in ("dropout", "detach", "alias"))),
            "onnx": tuple(dict.fromkeys(op for b in bases for op in ONNX.get(b, (f"?{b}",)))),
        }
        layers.append(LayerInfo(g.name, op, kind, tuple(in_shapes), out_shapes, int(params), int(macs), int(other),
                                int(out_elems), tuple(in_layers), runtime_ops, tuple(weights)))

    batch = model.inputs[0].shape[0] if model.inputs and model.inputs[0].shape else None
    if batch and batch > 1:
        layers = [dataclasses.replace(l, macs=l.macs // batch, other_ops=l.other_ops // batch,
                                      output_elems=l.output_elems // batch) for l in layers]
    out_node = next(n for n in ep.graph.nodes if n.op == "output")
    out_names = tuple(dict.fromkeys(owner[a.name] for a in out_node.args[0] if hasattr(a, "name") and a.name in owner))
    aliases = [g.name for g in groups if all(op_base(n.target) in VIEWS for n in g.nodes)]
    dtypes = {str(state[p].dtype).replace("torch.", "") for p in sig.parameters}
    if any(n.op == "call_function" and "quantize" in str(n.target) for n in ep.graph.nodes):
        dtypes.add("int8")  # pt2e-quantized programs store int8 weights and compute int8 where delegated
    return assemble("torch", layers, model.inputs, model.outputs, output_names=out_names, aliases=aliases,
                    dtypes=tuple(sorted(dtypes)))


def per_sample_shape_from_spec(spec: Any) -> tuple[int, ...]:
    """The input's shape at batch 1, a dynamic dim with a declared range at its maximum."""
    dims = []
    for i, d in enumerate(spec.shape):
        bounds = spec.range_of(i) if i else None
        dims.append(int(d) if d is not None else bounds[1] if bounds and bounds[1] else 1)
    return tuple(dims)
