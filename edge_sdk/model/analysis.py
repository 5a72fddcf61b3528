"""The framework-neutral half of analysis (`edge_sdk.model.analyze` -> ModelInfo).

Each framework's analyzer (`edge_sdk/frameworks/<name>/analysis.py`) lists the layers; they all
finish through `assemble()`, which adds the totals and the peak activation memory, so every framework
gets the same conventions:

* MACs count the multiply-accumulates of convolution, depthwise, separable, transposed convolution and
  dense/matmul work at batch 1 (the convention of published model tables); bias adds, activations,
  pooling, normalisation and elementwise merges are counted apart in `other_ops`.
* Peak activation memory is the largest sum of simultaneously live tensors when the layers run one
  after another in topological order. A tensor is live from the step of its producer to the step of
  its last consumer (graph outputs until the end); graph inputs count. Layers that do nothing at
  inference (Dropout, a BatchNormalization folded into the conv before it, ...) alias their input and
  allocate nothing. This is what an arena planner must hold at once, not the sum of all activations.
"""

from __future__ import annotations

from typing import Iterable

from edge_sdk.contracts.model import LayerInfo, ModelInfo, TensorSpec


def peak_live_elems(layers: Iterable[LayerInfo], output_names: Iterable[str], aliases: Iterable[str] = ()) -> int:
    """Peak of simultaneously live activation elements, executing `layers` in the given order.

    `aliases` names layers that produce no new tensor (their output *is* their first input's tensor).
    """
    layers = list(layers)
    alias = set(aliases)
    owner: dict[str, str] = {}  # layer name -> name of the layer whose tensor its output is
    birth: dict[str, int] = {}
    death: dict[str, int] = {}
    size: dict[str, int] = {}
    for step, layer in enumerate(layers):
        for src in layer.inputs:
            tensor = owner.get(src, src)
            death[tensor] = max(death.get(tensor, step), step)
        if layer.name in alias and layer.inputs:
            owner[layer.name] = owner.get(layer.inputs[0], layer.inputs[0])
            continue
        owner[layer.name] = layer.name
        birth[layer.name], size[layer.name] = step, layer.output_elems
        death.setdefault(layer.name, step)
    end = len(layers)
    for name in output_names:
        tensor = owner.get(name, name)
        if tensor in death:
            death[tensor] = end
    peak = 0
    for step in range(len(layers)):
        live = sum(size[t] for t in size if birth[t] <= step <= death[t])
        peak = max(peak, live)
    return peak


def assemble(
    framework: str,
    layers: Iterable[LayerInfo],
    inputs: tuple[TensorSpec, ...],
    outputs: tuple[TensorSpec, ...],
    *,
    output_names: tuple[str, ...],
    aliases: Iterable[str] = (),
    dtypes: tuple[str, ...] = (),
    equalizable_chains: int = 0,
) -> ModelInfo:
    """ModelInfo with totals and the liveness peak from layers listed in execution order."""
    layers, aliases = tuple(layers), frozenset(aliases)
    return ModelInfo(
        framework=framework,
        layers=layers,
        inputs=inputs,
        outputs=outputs,
        params=sum(l.params for l in layers),
        macs=sum(l.macs for l in layers),
        other_ops=sum(l.other_ops for l in layers),
        peak_activation_elems=peak_live_elems(layers, output_names, aliases),
        input_names=tuple(l.name for l in layers if l.kind == "input"),
        output_names=output_names,
        dtypes=dtypes,
        equalizable_chains=equalizable_chains,
        aliases=aliases,
    )
