"""Keras 3 config -> tf_keras config: the translation half of the bridge (`bridge.py` loads, copies the
weights and checks the result).

Class names, renamed/removed arguments, dtype policies, initializer/regularizer/constraint dicts,
functional `inbound_nodes`, Sequential InputLayers, nested models and keras.ops nodes are rewritten so
tf_keras can build the model from the config; anything without a tf_keras equivalent is a
ModelLoadError naming the layer.
"""

from __future__ import annotations

import inspect
from functools import lru_cache
from typing import Any, Callable, Iterator

from edge_sdk import deps
from edge_sdk.errors import ModelLoadError

MODEL_CLASSES = {"Functional", "Sequential", "Model"}
# Arguments Keras 3 writes that tf_keras lacks, with the values that mean "feature not used".
DROPPABLE = {
    "optional": (False,),
    "lora_rank": (None,),
    "lora_alpha": (None,),
    "quantization_config": (None,),
    "rms_scaling": (False,),
    "sparse": (False,),
    "ragged": (False,),
    "use_gate": (False,),
    "flash_attention": (None, False),
    "seed": (None,),
    "sliding_window": (None,),
}
# tf_keras's RNN base takes these through **kwargs with Keras 3's meaning (not in the signature)
RNN_KWARGS = frozenset({"zero_output_for_mask"})
RENAMED = {("LeakyReLU", "negative_slope"): "alpha", ("InputLayer", "batch_shape"): "batch_input_shape"}
BASE_LAYER_ARGS = {
    "name", "trainable", "dtype", "dynamic", "input_dim", "input_shape", "batch_input_shape",
    "batch_size", "weights", "activity_regularizer", "autocast", "implementation",
}  # fmt: skip
# Activations whose name means the same function in both Keras versions (tf_keras resolves them).
SAME_ACTIVATIONS = {
    "linear", "relu", "relu6", "sigmoid", "tanh", "softmax", "log_softmax", "softplus", "softsign",
    "elu", "selu", "exponential", "swish", "mish", "gelu", "leaky_relu",
}  # fmt: skip
RENAMED_ACTIVATIONS = {"silu": "swish"}
# Keras 3 op nodes (x + 3.0, x * y in a functional graph) and the tf_keras merge layer for two tensors.
MERGE_OPS = {"Add": "Add", "Subtract": "Subtract", "Multiply": "Multiply", "Maximum": "Maximum", "Minimum": "Minimum"}
SCALAR_OPS = {"Add", "Subtract", "Multiply", "Divide", "TrueDivide"}


def bridge_error(layer: str, cls: str, what: str) -> ModelLoadError:
    return ModelLoadError(
        f"Keras 3 layer {layer!r} ({cls}): {what}; the tf_keras bridge cannot translate it. Replace it with "
        "a supported layer (see docs/models.md), or save the model with tf_keras (TF_USE_LEGACY_KERAS=1)"
    )


class Translator:
    """Rewrites one Keras 3 serialized model (with its live object, for Lambda functions) for tf_keras."""

    def __init__(self, tfk: Any, trust_model: bool) -> None:
        self.tfk = tfk
        self.trust_model = trust_model
        self.custom_objects: dict[str, Callable] = {}

    def model(self, cfg: dict, live: Any) -> dict:
        cls, conf = cfg["class_name"], cfg["config"]
        if cls == "Sequential":
            layers = [self.layer(layer, live) for layer in conf["layers"]]
            out = {"name": conf["name"], "layers": layers}
            if conf.get("build_input_shape") is not None:
                out["build_input_shape"] = conf["build_input_shape"]
            return {"class_name": "Sequential", "config": out}
        out = {
            "name": conf["name"],
            "trainable": conf.get("trainable", True),
            "layers": [self.graph_layer(layer, live) for layer in conf["layers"]],
            "input_layers": _history_list(conf["input_layers"]),
            "output_layers": _history_list(conf["output_layers"]),
        }
        _shift_nested_model_nodes(out)
        return {"class_name": "Functional", "config": out}

    def graph_layer(self, cfg: dict, live: Any) -> dict:
        """A Functional layer entry: the layer plus its inbound nodes in tf_keras's list format."""
        name = cfg["name"]
        if str(cfg.get("module", "")).startswith("keras.src.ops"):
            return self.op_node(cfg)
        out = self.layer(cfg, live)
        out["name"] = name
        tf_cls = self.tfk.Model if out["class_name"] in MODEL_CLASSES else getattr(self.tfk.layers, out["class_name"])
        params = _call_params(tf_cls)
        out["inbound_nodes"] = [_node(node, name, cfg["class_name"], params) for node in cfg["inbound_nodes"]]
        return out

    def layer(self, cfg: dict, live: Any) -> dict:
        cls, conf = cfg["class_name"], dict(cfg.get("config", {}))
        name = conf.get("name", cfg.get("name", "?"))
        if cls in MODEL_CLASSES and "layers" in conf:
            return self.model(cfg, live.get_layer(name))
        if cls == "Lambda":
            return {"class_name": "Lambda", "config": self.lambda_config(name, conf, live)}
        tf_cls = getattr(self.tfk.layers, cls, None) if cfg.get("module") == "keras.layers" else None
        if tf_cls is None:
            raise bridge_error(name, cls, "no tf_keras equivalent")
        out = self.arguments(name, cls, conf, tf_cls)
        if cls == "MultiHeadAttention":  # tf_keras rebuilds its sublayers from shapes kept in the config
            shapes = (cfg.get("build_config") or {}).get("shapes_dict", {})
            value_shape = shapes.get("value_shape")
            out.update(query_shape=shapes.get("query_shape"), value_shape=value_shape,
                       key_shape=shapes.get("key_shape", value_shape))
        return {"class_name": cls, "config": out}

    def arguments(self, name: str, cls: str, conf: dict, tf_cls: type) -> dict:
        accepted = _init_args(tf_cls)
        if issubclass(tf_cls, self.tfk.layers.RNN):
            accepted = accepted | RNN_KWARGS
        out = {}
        for key, value in conf.items():
            key = RENAMED.get((cls, key), key)
            if key not in accepted:
                if value in DROPPABLE.get(key, ()):
                    continue
                raise bridge_error(name, cls, f"argument {key}={value!r} has no tf_keras equivalent")
            out[key] = self.value(name, cls, key, value)
        return out

    def value(self, name: str, cls: str, key: str, value: Any) -> Any:
        if key == "dtype":
            return _dtype(name, cls, value)
        if key.endswith("activation"):
            return _activation(name, cls, value)
        for suffix, module in (("initializer", "initializers"), ("regularizer", "regularizers"), ("constraint", "constraints")):
            if key.endswith(suffix):
                return self.keras_object(name, cls, key, value, getattr(self.tfk, module), optional=suffix == "initializer")
        return value

    def keras_object(self, name: str, cls: str, key: str, value: Any, module: Any, optional: bool) -> Any:
        """A Keras 3 {module, class_name, config, registered_name} dict as a tf_keras one. Initializers
        tf_keras lacks fall back to its default: the weights are copied, so they never run."""
        if not isinstance(value, dict):
            return value
        obj_cls = getattr(module, value.get("class_name", ""), None)
        if obj_cls is None:
            if optional:
                return None
            raise bridge_error(name, cls, f"{key} {value.get('class_name')} has no tf_keras equivalent")
        accepted = _init_args(obj_cls)
        conf = value.get("config") or {}
        return {"class_name": value["class_name"], "config": {k: v for k, v in conf.items() if k in accepted}}

    def lambda_config(self, name: str, conf: dict, live: Any) -> dict:
        """A tf_keras Lambda calling the live Keras 3 function (keras.ops run on TF tensors under the TF
        backend). Only reached with trust: the untrusted scan refuses Lambdas before loading."""
        if not self.trust_model:
            raise ModelLoadError(
                f"Keras 3 layer {name!r} (Lambda) runs Python code; refused. Pass --trust-model if you trust it"
            )
        layer = live.get_layer(name)
        key = f"edge_sdk_bridged_lambda_{len(self.custom_objects)}"
        self.custom_objects[key] = layer.function
        out = {
            "name": name,
            "trainable": conf.get("trainable", True),
            "dtype": _dtype(name, "Lambda", conf.get("dtype")),
            "function": key,
            "function_type": "function",
            "module": None,
            "output_shape": None,
            "output_shape_type": "raw",
            "output_shape_module": None,
            "arguments": dict(getattr(layer, "arguments", None) or {}),
        }
        shape = getattr(layer, "_output_shape", None)
        if callable(shape):
            shape_key = f"{key}_output_shape"
            self.custom_objects[shape_key] = shape
            out.update(output_shape=shape_key, output_shape_type="function")
        elif shape is not None:
            out["output_shape"] = list(shape)
        return out

    def op_node(self, cfg: dict) -> dict:
        """A keras.ops call recorded in a functional graph (e.g. `x + 3.0`): two tensors become a tf_keras
        merge layer, tensor-and-scalar arithmetic becomes a Rescaling layer (scale * x + offset)."""
        name, op = cfg["name"], cfg["class_name"]
        nodes = cfg.get("inbound_nodes", [])
        if len(nodes) != 1 or nodes[0].get("kwargs"):
            raise bridge_error(name, f"keras.ops.{op}", "op called with keyword arguments or shared")
        args = nodes[0]["args"]
        tensors = [a for a in args if _is_tensor(a)]
        if len(args) == 2 and len(tensors) == 2 and op in MERGE_OPS:
            inbound = [[_history(t, {}) for t in tensors]]
            return {"class_name": MERGE_OPS[op], "config": {"name": name}, "name": name, "inbound_nodes": inbound}
        if len(args) == 2 and len(tensors) == 1 and op in SCALAR_OPS:
            const = args[1] if _is_tensor(args[0]) else args[0]
            if isinstance(const, (int, float)) and not isinstance(const, bool):
                scale, offset = _affine(op, float(const), tensor_first=_is_tensor(args[0]))
                if scale is not None:
                    return {
                        "class_name": "Rescaling",
                        "config": {"name": name, "scale": scale, "offset": offset},
                        "name": name,
                        "inbound_nodes": [[_history(tensors[0], {})]],
                    }
        raise bridge_error(name, f"keras.ops.{op}", "of keras.ops calls in a functional graph only +, -, *, / "
                            "with a constant or between two tensors are supported")


def _affine(op: str, c: float, tensor_first: bool) -> tuple[float | None, float]:
    """(scale, offset) with op(x, c) (or op(c, x)) == scale * x + offset; scale None if not affine."""
    if op == "Add":
        return 1.0, c
    if op == "Multiply":
        return c, 0.0
    if op == "Subtract":
        return (1.0, -c) if tensor_first else (-1.0, c)
    if tensor_first and c != 0.0:  # Divide / TrueDivide: x / c
        return 1.0 / c, 0.0
    return None, 0.0


def _is_tensor(value: Any) -> bool:
    return isinstance(value, dict) and value.get("class_name") == "__keras_tensor__"


def _history(tensor: dict, kwargs: dict) -> list:
    layer, node, index = tensor["config"]["keras_history"]
    return [layer, node, index, kwargs]


def _history_list(value: list) -> list:
    """Keras 3 writes one model input/output as a flat [layer, node, tensor]; tf_keras wants a list."""
    if isinstance(value, dict):
        value = list(value.values())
    if len(value) == 3 and isinstance(value[0], str):
        return [list(value)]
    return [list(v) for v in value]


def _shift_nested_model_nodes(conf: dict) -> None:
    """tf_keras counts a nested model's calls from 1 when the model owns a graph node of its own (the
    one that built it: Functional, or Sequential with an InputLayer); Keras 3 counts from 0. Without the
    shift tf_keras waits forever for a node that never comes."""
    nested = {layer["name"] for layer in conf["layers"] if _owns_first_node(layer)}
    refs = [ref for layer in conf["layers"] for node in layer["inbound_nodes"] for ref in node]
    refs += [obj for ref in refs for obj in _lists(ref[3]) if len(obj) == 3 and isinstance(obj[0], str)]
    for ref in refs + conf["input_layers"] + conf["output_layers"]:
        if ref[0] in nested:
            ref[1] += 1


def _lists(value: Any) -> Iterator[list]:
    """Every list inside keyword arguments (tensor references are [layer, node, tensor] lists)."""
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    if isinstance(value, list):
        yield value
    for item in items:
        yield from _lists(item)


def _owns_first_node(layer: dict) -> bool:
    if layer["class_name"] == "Functional":
        return True
    first = layer["config"].get("layers", [])[:1] if layer["class_name"] == "Sequential" else []
    return bool(first) and first[0]["class_name"] == "InputLayer"


def _node(node: dict, name: str, cls: str, call_params: tuple[str, ...]) -> list:
    """Keras 3 {"args": [...], "kwargs": {...}} -> tf_keras [[layer, node, tensor, kwargs], ...]. Extra
    positional arguments (MultiHeadAttention's value) become keyword arguments by the call signature;
    tensors in keyword arguments become [layer, node, tensor] references, as tf_keras writes them."""
    args, kwargs = node.get("args", []), dict(node.get("kwargs", {}))
    if not args or len(args) > len(call_params):
        raise bridge_error(name, cls, "the layer is called with positional arguments its tf_keras twin lacks")
    kwargs.update(zip(call_params[1:], args[1:]))
    kwargs = _tensor_refs(kwargs)
    first = args[0]
    tensors = first if isinstance(first, list) else [first]
    if not all(_is_tensor(t) for t in tensors):
        raise bridge_error(name, cls, "the layer is called on a nested structure or on constants")
    return [_history(t, kwargs) for t in tensors]


def _tensor_refs(value: Any) -> Any:
    if _is_tensor(value):
        return _history(value, {})[:3]
    if isinstance(value, dict):
        return {k: _tensor_refs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tensor_refs(v) for v in value]
    return value


def _call_params(layer_cls: type) -> tuple[str, ...]:
    params = inspect.signature(layer_cls.call).parameters.values()
    return tuple(p.name for p in params if p.name != "self" and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


def _dtype(name: str, cls: str, value: Any) -> Any:
    """Keras 3 DTypePolicy dicts -> the policy name tf_keras accepts ("float32", "mixed_float16")."""
    if not isinstance(value, dict):
        return value
    policy = value.get("config", {}).get("name")
    if value.get("class_name") not in ("DTypePolicy", "FloatDTypePolicy") or not isinstance(policy, str):
        raise bridge_error(name, cls, f"dtype policy {value.get('class_name')} (quantized Keras 3 layer)")
    return policy


def _activation(name: str, cls: str, value: Any) -> Any:
    if isinstance(value, dict):  # {"module": "keras.activations", "class_name": "function", "config": "relu"}
        value = value.get("config") if value.get("class_name") == "function" else None
    if value is None or not isinstance(value, str):
        raise bridge_error(name, cls, "its activation is not a built-in Keras activation")
    value = RENAMED_ACTIVATIONS.get(value, value)
    if value in SAME_ACTIVATIONS:
        return value
    if value in register_activations():
        return register_activations()[value]
    raise bridge_error(name, cls, f"activation {value!r} has no tf_keras equivalent")


@lru_cache(maxsize=None)
def register_activations() -> dict[str, str]:
    """Keras 3 activations tf_keras lacks or defines differently (its hard_sigmoid is 0.2x+0.5), written
    with TF ops so TFLite converts them (hard_swish fuses into HARD_SWISH). Registered with tf_keras as
    "edge_sdk>name" so a saved bridged model reloads (loading.py calls this before loading).
    Returns Keras 3 name -> registered name."""
    tf = deps.tensorflow()
    register = deps.tf_keras().saving.register_keras_serializable(package="edge_sdk")

    @register
    def hard_sigmoid(x):
        return tf.nn.relu6(x + 3.0) * (1.0 / 6.0)

    @register
    def hard_silu(x):
        return x * hard_sigmoid(x)

    return {"hard_sigmoid": "edge_sdk>hard_sigmoid", "hard_silu": "edge_sdk>hard_silu", "hard_swish": "edge_sdk>hard_silu"}


@lru_cache(maxsize=None)
def _init_args(cls: type) -> frozenset[str]:
    """Constructor argument names of a tf_keras class, its bases' included."""
    names: set[str] = set(BASE_LAYER_ARGS)
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            continue
        names |= {p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name != "self"}
    return frozenset(names)
