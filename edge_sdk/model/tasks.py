"""What each model output is for, so that fidelity is measured the way that task needs (edge_sdk.fidelity).

Inferred from the graph, output by output (first rule that applies):
1. the same sample shape as a model input: `regression` (a reconstruction, whatever its last activation);
2. a softmax or sigmoid at the end (through reshapes/activations): `classification`;
3. an L2 normalisation at the end: `embedding`;
4. an output named like boxes (`box` in the name): `detection`;
5. a dense/linear layer's (N, C >= 2) output: `classification` (logits), unless another output ends in a
   softmax/sigmoid (then it is a regression head: boxes, landmarks); (N, T, C >= 2): `sequence`;
6. anything else: `regression`.
`--task KIND` (every output) or `--task OUTPUT=KIND`, and edge-sdk.yaml `tasks:`, override the inference.
"""

from __future__ import annotations

from edge_sdk.contracts.model import LayerInfo, ModelInfo
from edge_sdk.errors import ConfigError
from edge_sdk.fidelity import KINDS

_PASS_THROUGH = ("reshape", "activation", "elementwise", "other")
_CLASSIFY = ("softmax", "sigmoid", "logistic")
_NORMALISE = ("l2_normal", "unitnormalization", "linalg_vector_norm", "normalize", "l2norm")
_LINEAR = ("dense", "matmul")


def _tail_ops(layer: LayerInfo, by_name: dict[str, LayerInfo], depth: int = 4) -> list[str]:
    """Op names (framework and runtime) of the output layer and the pass-through layers feeding it."""
    ops = [layer.op, *[op for ops in layer.runtime_ops.values() for op in ops]]
    if depth and layer.kind in _PASS_THROUGH:
        for name in layer.inputs:
            if name in by_name:
                ops += _tail_ops(by_name[name], by_name, depth - 1)
    return [o.lower() for o in ops]


def _producer_kind(layer: LayerInfo, by_name: dict[str, LayerInfo], depth: int = 3) -> str:
    if depth and layer.kind in ("reshape", "activation") and layer.inputs and layer.inputs[0] in by_name:
        return _producer_kind(by_name[layer.inputs[0]], by_name, depth - 1)
    return layer.kind


def _output_layer(info: ModelInfo, index: int, by_name: dict[str, LayerInfo]) -> LayerInfo | None:
    return by_name.get(info.output_names[index]) if index < len(info.output_names) else None


def _ends_in_classifier(info: ModelInfo, index: int, by_name: dict[str, LayerInfo]) -> bool:
    layer = _output_layer(info, index, by_name)
    return layer is not None and any(k in op for op in _tail_ops(layer, by_name) for k in _CLASSIFY)


def infer_kind(info: ModelInfo, index: int) -> str:
    spec = info.outputs[index]
    by_name = {layer.name: layer for layer in info.layers}
    layer = _output_layer(info, index, by_name)
    ops = _tail_ops(layer, by_name) if layer is not None else []
    if any(tuple(spec.shape[1:]) == tuple(i.shape[1:]) for i in info.inputs):
        return "regression"
    if _ends_in_classifier(info, index, by_name):
        return "classification"
    if any(k in op for op in ops for k in _NORMALISE) and not any("batch_norm" in op or "layer_norm" in op for op in ops[:1]):
        return "embedding"
    if "box" in spec.name.lower() or (layer is not None and "box" in layer.name.lower()):
        return "detection"
    linear = layer is not None and _producer_kind(layer, by_name) in _LINEAR
    dims = len(spec.shape)
    # beside an output that does end in a softmax/sigmoid, a plain linear head is a regression one
    # (MTCNN: box and landmark coordinates next to the face scores), not a second set of logits
    classifier_beside = any(_ends_in_classifier(info, i, by_name) for i in range(len(info.outputs)) if i != index)
    if linear and (spec.shape[-1] or 0) >= 2 and dims == 2:
        return "regression" if classifier_beside else "classification"
    if linear and (spec.shape[-1] or 0) >= 2 and dims == 3:
        return "sequence"
    return "regression"


def output_kinds(info: ModelInfo, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Output name -> kind, in the model's output order: inferred, then the user's overrides applied.

    `overrides` maps an output name to a kind; the key "*" sets every output."""
    kinds = {spec.name: infer_kind(info, i) for i, spec in enumerate(info.outputs)}
    for name, kind in (overrides or {}).items():
        if kind not in KINDS:
            raise ConfigError(f"task {kind!r} for output {name!r} is unknown; valid: {', '.join(KINDS)}")
        if name == "*":
            kinds = {k: kind for k in kinds}
        elif name not in kinds:
            raise ConfigError(f"--task names output {name!r}, which the model does not have; outputs: {', '.join(kinds)}")
        else:
            kinds[name] = kind
    return kinds


def parse_tasks(values: list[str] | dict | str | None) -> dict[str, str] | None:
    """`--task KIND` / `--task OUTPUT=KIND` (repeatable), or edge-sdk.yaml `tasks: {OUTPUT: KIND}`."""
    if values is None or values == []:
        return None
    if isinstance(values, dict):
        return {str(k): str(v) for k, v in values.items()}
    out = {}
    for value in [values] if isinstance(values, str) else values:
        name, sep, kind = str(value).rpartition("=")
        out[name if sep else "*"] = kind
    return out
