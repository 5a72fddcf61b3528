"""tf_keras model -> ModelInfo, by walking the functional graph node by node.

Layers come out in topological order (the order a converter executes them), nested Functional /
Sequential models are flattened into their layers (named `outer/inner`), graph edges come from the
inbound nodes, shapes are taken at batch 1. Params are `layer.count_params()` for every layer object
(counted once even when the layer is called several times), so the total equals `model.count_params()`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from edge_sdk import deps
from edge_sdk.errors import ModelLoadError
from edge_sdk.frameworks.keras.ops import (
    ACTIVATIONS,
    FUSE_ACTIVATION_INTO,
    FUSE_TARGETS,
    INFERENCE_NOOPS,
    LAYER_OPS,
    activation_name,
    activation_ops,
    onnx_ops,
    tf_symbol_ops,
)
from edge_sdk.model.analysis import assemble
from edge_sdk.contracts.model import LayerInfo, LoadedModel, ModelInfo

Shape = tuple[int, ...]


@dataclass
class _Raw:
    """A layer before fusion is decided (fusion needs every layer's consumers)."""

    name: str
    cls: str
    kind: str
    layer: Any
    inputs: tuple[str, ...]
    input_shapes: tuple[Shape, ...]
    output_shapes: tuple[Shape, ...]
    params: int
    macs: int
    other_ops: int
    tflite: tuple[str, ...]
    coreml: tuple[str, ...]
    activation: str = "linear"
    weight_shapes: tuple[Shape, ...] = ()
    fuse_class: str | None = None  # conv | depthwise | separable | dense | add: can absorb BN / ReLU


def analyze_keras(loaded: LoadedModel) -> ModelInfo:
    model = loaded.handle
    if not getattr(model, "_is_graph_network", False):
        raise ModelLoadError(
            f"model {model.name!r} is a subclassed tf_keras Model; analysis needs a Functional or Sequential "
            "model (rebuild it with the functional API)"
        )
    walker = _Walker(deps.tensorflow())
    outputs = walker.walk(_at_declared_lengths(model, loaded.inputs), None, "")
    output_names = tuple(dict.fromkeys(outputs))
    layers, aliases = _fuse(walker.raws, output_names)
    dtypes = sorted({str(getattr(r.layer, "dtype", "float32")) for r in walker.raws if r.kind != "input"} - {"None"})
    from edge_sdk.frameworks.keras.techniques.equalize import find_pairs

    return assemble(
        "keras", layers, loaded.inputs, loaded.outputs, output_names=output_names, aliases=aliases,
        dtypes=tuple(dtypes) or ("float32",), equalizable_chains=len(find_pairs(model)),
    )


def _at_declared_lengths(model: Any, inputs: tuple) -> Any:
    """The model itself, or, where an input's dynamic dim has a declared size (a sequence length the
    build's data fixes, `pipeline.prepare.lengths_from_data`), a clone whose inputs have that size, so
    every layer's shape, MACs and activations are those of the length the app feeds."""
    shapes = [tuple(d if d is not None or spec.range_of(i) is None else spec.range_of(i)[1]
                    for i, d in enumerate(spec.shape))
              for spec in inputs]
    return _at_shapes(model, shapes)


def _at_shapes(model: Any, shapes: list[tuple]) -> Any:
    """The model, or a clone (same layers and names, fresh weights: analysis reads shapes, not values)
    whose inputs have `shapes` where the model's own leave a dim None. A nested model is walked at the
    shapes its caller feeds it: tf_keras rebuilds it with its own None dims when the outer model is cloned."""
    own = [tuple(t.shape) for t in model.inputs]
    if all(tuple(shape) == inner for shape, inner in zip(shapes, own)):
        return model
    keras = deps.tf_keras()
    tensors = [keras.Input(batch_shape=tuple(shape), dtype=t.dtype, name=name)
               for shape, t, name in zip(shapes, model.inputs, model.input_names)]
    return keras.models.clone_model(model, input_tensors=tensors)


def _shape(tensor: Any) -> Shape:
    """Static shape at batch 1 (other unknown dims also taken as 1)."""
    return tuple(1 if d is None else int(d) for d in tensor.shape)


class _Walker:
    def __init__(self, tf: Any) -> None:
        self.tf = tf
        self.raws: list[_Raw] = []
        self.src: dict[int, str] = {}  # id(KerasTensor) -> name of the layer that produced it
        self.params_seen: set[int] = set()
        self.names: set[str] = set()

    def _unique(self, name: str) -> str:
        base, k = name, 1
        while name in self.names:
            k += 1
            name = f"{base}#{k}"
        self.names.add(name)
        return name

    def walk(self, model: Any, input_srcs: list[str] | None, prefix: str) -> list[str]:
        """Append the model's layers; returns the producer names of its outputs."""
        input_ids = [id(t) for t in model.inputs]
        for depth in sorted(model._nodes_by_depth, reverse=True):
            for node in model._nodes_by_depth[depth]:
                outs = self.tf.nest.flatten(node.outputs)
                if node.is_input:
                    self._input(node, outs, input_ids, input_srcs, prefix)
                    continue
                ins = [self.src[id(t)] for t in node.keras_inputs if id(t) in self.src]
                layer = node.layer
                if getattr(layer, "_is_graph_network", False):
                    inner = self.walk(_at_shapes(layer, [t.shape for t in node.keras_inputs]), ins, f"{prefix}{layer.name}/")
                    for t, name in zip(outs, inner):
                        self.src[id(t)] = name
                    continue
                name = self._unique(prefix + layer.name)
                self.raws.append(self._describe(name, layer, ins, node, outs))
                for t in outs:
                    self.src[id(t)] = name
        return [self.src[id(t)] for t in model.outputs]

    def _input(self, node: Any, outs: list, input_ids: list[int], input_srcs: list[str] | None, prefix: str) -> None:
        tensor = outs[0]
        if input_srcs is not None and id(tensor) in input_ids:  # nested model: alias the caller's tensor
            self.src[id(tensor)] = input_srcs[input_ids.index(id(tensor))]
            return
        name = self._unique(prefix + node.layer.name)
        shape = _shape(tensor)
        self.raws.append(_Raw(name, "InputLayer", "input", node.layer, (), (), (shape,), 0, 0, 0, (), ()))
        self.src[id(tensor)] = name

    def _describe(self, name: str, layer: Any, ins: list[str], node: Any, outs: list) -> _Raw:
        tfk = deps.tf_keras()
        params = 0
        if id(layer) not in self.params_seen:
            self.params_seen.add(id(layer))
            params = int(layer.count_params())
        core = layer.layer if isinstance(layer, tfk.layers.Wrapper) and hasattr(layer, "layer") else layer
        cls = _known_class(core)
        in_shapes = tuple(_shape(t) for t in node.keras_inputs)
        out_shapes = tuple(_shape(t) for t in outs)
        kind, tflite, coreml = _ops_of(core, cls)
        act = activation_name(getattr(core, "activation", None)) if kind in ("conv", "depthwise", "separable", "dense") else "linear"
        fuse_class = kind if kind in FUSE_TARGETS else ("add" if cls == "Add" else None)
        return _Raw(
            name=name,
            cls=cls,
            kind=kind,
            layer=core,
            inputs=tuple(ins),
            input_shapes=in_shapes,
            output_shapes=out_shapes,
            params=params,
            macs=_macs(core, kind, cls, in_shapes, out_shapes),
            other_ops=_other_ops(core, kind, cls, in_shapes, out_shapes, act),
            tflite=tflite,
            coreml=coreml,
            activation=act,
            weight_shapes=tuple(tuple(int(d) for d in w.shape) for w in layer.weights) if params else (),
            fuse_class=fuse_class,
        )


def _known_class(layer: Any) -> str:
    """The layer's class, or the nearest known base class (user subclasses of Conv2D behave like Conv2D)."""
    for klass in type(layer).__mro__:
        if klass.__name__ in LAYER_OPS or klass.__name__ in INFERENCE_NOOPS or klass.__name__ == "Activation":
            return klass.__name__
    return type(layer).__name__


def _ops_of(layer: Any, cls: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    if cls in INFERENCE_NOOPS:
        return "other", (), ()
    if cls == "Activation":
        tflite, coreml, _ = activation_ops(activation_name(layer.activation))
        return "activation", tflite, coreml
    if cls == "ReLU":
        return ("activation",) + _relu_ops(layer)
    if cls == "TFOpLambda":
        return tf_symbol_ops(layer.symbol)[:3]
    if cls == "UpSampling2D" and getattr(layer, "interpolation", "nearest") == "bilinear":
        return "reshape", ("RESIZE_BILINEAR",), ("upsample_bilinear",)
    if cls in LAYER_OPS:
        return LAYER_OPS[cls]
    return "other", (f"?{cls}",), (f"?{cls}",)


def _relu_ops(layer: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    max_value = None if layer.max_value is None else float(layer.max_value)
    slope, threshold = float(layer.negative_slope), float(layer.threshold)
    if slope == 0 and threshold == 0 and max_value is None:
        return ("RELU",), ("relu",)
    if slope == 0 and threshold == 0 and max_value == 6.0:
        return ("RELU6",), ("relu6",)
    if threshold == 0 and max_value is None:
        return ("LEAKY_RELU",), ("leaky_relu",)
    return ("MAXIMUM", "MINIMUM"), ("clip",)


def _channels(shape: Shape, layer: Any) -> tuple[int, int]:
    """(spatial elements, channels) of a conv input/output."""
    if getattr(layer, "data_format", "channels_last") == "channels_first":
        return math.prod(shape[2:]), shape[1]
    return math.prod(shape[1:-1]), shape[-1]


def _macs(layer: Any, kind: str, cls: str, ins: tuple[Shape, ...], outs: tuple[Shape, ...]) -> int:
    if kind in ("conv", "depthwise", "separable"):
        k = math.prod(layer.kernel_size)
        in_sp, in_c = _channels(ins[0], layer)
        out_sp, out_c = _channels(outs[0], layer)
        if kind == "depthwise":
            return out_sp * in_c * int(layer.depth_multiplier) * k
        if kind == "separable":
            mid = in_c * int(layer.depth_multiplier)
            return out_sp * mid * k + out_sp * mid * out_c
        if "Transpose" in cls:  # every input pixel scatters a k x out_c patch
            return in_sp * in_c * k * out_c
        return out_sp * out_c * k * in_c // int(getattr(layer, "groups", 1) or 1)
    if cls in ("Dense", "EinsumDense"):
        return math.prod(outs[0]) * ins[0][-1]
    if cls == "Dot":
        axes = layer.axes if isinstance(layer.axes, (list, tuple)) else (layer.axes, layer.axes)
        return math.prod(outs[0]) * ins[0][axes[0]]
    if cls == "MultiHeadAttention":
        return _attention_macs(layer, ins, outs)
    if cls == "TFOpLambda" and kind == "matmul":
        return math.prod(outs[0]) * ins[0][-1]
    if cls in ("LSTM", "GRU", "SimpleRNN"):
        gates = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}[cls]
        steps, features, units = ins[0][1], ins[0][-1], int(layer.units)
        return steps * gates * units * (features + units)
    return 0


def _attention_macs(layer: Any, ins: tuple[Shape, ...], outs: tuple[Shape, ...]) -> int:
    """Query, key, value and output projections plus the scores (q k^T) and the context (scores v)."""
    query, value = ins[0], ins[1] if len(ins) > 1 else ins[0]
    key = ins[2] if len(ins) > 2 else value
    heads, key_dim = int(layer._num_heads), int(layer._key_dim)
    value_dim = int(layer._value_dim or key_dim)
    t_q, t_v = math.prod(query[1:-1]), math.prod(value[1:-1])
    projections = heads * (t_q * query[-1] * key_dim + t_v * key[-1] * key_dim + t_v * value[-1] * value_dim)
    return projections + heads * t_q * t_v * (key_dim + value_dim) + t_q * heads * value_dim * outs[0][-1]


def _other_ops(layer: Any, kind: str, cls: str, ins: tuple[Shape, ...], outs: tuple[Shape, ...], act: str) -> int:
    out = sum(math.prod(s) for s in outs)
    if cls == "MultiHeadAttention":  # the softmax over every score
        return int(layer._num_heads) * math.prod(ins[0][1:-1]) * math.prod((ins[1] if len(ins) > 1 else ins[0])[1:-1])
    if kind in ("conv", "depthwise", "separable", "dense", "matmul"):
        bias = out if getattr(layer, "use_bias", False) else 0
        return bias + (out if act != "linear" else 0)
    if kind == "pool":
        if cls.startswith("Global"):
            return math.prod(ins[0])
        return out * math.prod(layer.pool_size)
    if kind == "norm":
        return (2 if cls in ("BatchNormalization", "Normalization") else 4) * out
    if kind == "activation":
        return out
    if kind == "elementwise" and cls != "Concatenate":
        extra = out if cls in ("Average", "Rescaling") else 0
        return out * max(1, len(ins) - 1) + extra
    return 0


def _fuse(raws: list[_Raw], output_names: tuple[str, ...]) -> tuple[list[LayerInfo], set[str]]:
    """Decide what TFLite/Core ML fold away, and build the LayerInfos.

    BatchNormalization right after a conv/dense (whose output nothing else reads) is folded into its
    weights; a ReLU/ReLU6 after a conv/dense/Add (or after such a folded BN) becomes the op's fused
    activation, as does `activation="relu"` inside the layer. Folded layers alias their input.
    """
    consumers: dict[str, int] = {}
    for r in raws:
        for src in r.inputs:
            consumers[src] = consumers.get(src, 0) + 1
    for name in output_names:
        consumers[name] = consumers.get(name, 0) + 1
    slot: dict[str, str | None] = {}  # layer -> fuse class of the op its output comes from, if its activation slot is free
    aliases: set[str] = set()
    layers = []
    for r in raws:
        tflite, coreml = r.tflite, r.coreml
        src = r.inputs[0] if len(r.inputs) == 1 else None
        sole = src is not None and consumers.get(src) == 1
        if r.cls in INFERENCE_NOOPS:
            slot[r.name] = slot.get(src) if sole else None
        elif r.cls == "BatchNormalization" and sole and slot.get(src) in FUSE_TARGETS:
            tflite, coreml = (), ()
            slot[r.name] = slot[src]
        elif _is_fusable_activation(r) and sole and slot.get(src) in FUSE_ACTIVATION_INTO:
            tflite = ()
            slot[r.name] = None
        else:
            act_tflite, act_coreml, fusable = activation_ops(r.activation)
            can_fuse = fusable and r.fuse_class is not None
            tflite = tflite + (() if can_fuse else act_tflite)
            coreml = coreml + act_coreml
            slot[r.name] = r.fuse_class if r.activation == "linear" else None
        if not tflite and r.kind != "input" and r.inputs:
            aliases.add(r.name)
        layers.append(
            LayerInfo(
                name=r.name,
                op=r.cls,
                kind=r.kind,
                input_shapes=r.input_shapes,
                output_shapes=r.output_shapes,
                params=r.params,
                macs=int(r.macs),
                other_ops=int(r.other_ops),
                output_elems=sum(math.prod(s) for s in r.output_shapes),
                inputs=r.inputs,
                runtime_ops={"tflite": tflite, "coreml": coreml, "onnx": _onnx_ops(r)},
                weight_shapes=r.weight_shapes,
            )
        )
    return layers, aliases


def _onnx_ops(r: _Raw) -> tuple[str, ...]:
    return tf_symbol_ops(r.layer.symbol)[3] if r.cls == "TFOpLambda" else onnx_ops(r.cls, _applied_activation(r))


def _applied_activation(r: _Raw) -> str:
    """The activation a layer applies: its own (conv/dense) or, for an `Activation` layer, its function."""
    return activation_name(r.layer.activation) if r.cls == "Activation" else r.activation


def _is_fusable_activation(r: _Raw) -> bool:
    if r.cls == "ReLU":
        return _relu_ops(r.layer)[0] in (("RELU",), ("RELU6",))
    if r.cls == "Activation":
        name = activation_name(r.layer.activation)
        return name in ACTIVATIONS and ACTIVATIONS[name][2] and name != "linear"
    return False
