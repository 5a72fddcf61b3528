"""Data passed from the load and analyze stages to everything after them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DTYPE_BYTES = {"int8": 1, "uint8": 1, "int16": 2, "float16": 2, "float32": 4, "int32": 4, "int64": 8, "bool": 1}


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int | None, ...]  # batch dimension first, None where dynamic
    dtype: str = "float32"
    # per dim, (min, max or None when unbounded) where the program declares a range for a dynamic dim
    # (a torch.export Dim, e.g. a sequence length); () when nothing is declared
    ranges: tuple[tuple[int, int | None] | None, ...] = ()

    def range_of(self, dim: int) -> tuple[int, int | None] | None:
        return self.ranges[dim] if dim < len(self.ranges) else None

    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one sample (batch dim dropped); raises if another dim is dynamic."""
        dims = self.shape[1:]
        if any(d is None for d in dims):
            raise ValueError(f"input {self.name!r} has dynamic dims {self.shape}")
        return tuple(int(d) for d in dims)  # type: ignore[arg-type]


@dataclass(frozen=True, eq=False)
class FrontendResult:
    """What a frontend's `load()` returns; `load_model` adds the path, format and content hash."""

    framework: str
    handle: Any
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    bridged_from: str | None = None
    example_inputs: Any = None


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A model ready for analysis and compression.

    framework: "keras" (handle is a tf_keras.Model; Keras 3 files are bridged to it), "torch" (handle is
    a torch.export.ExportedProgram), or "tflite" (handle is the flatbuffer bytes; inspect/bench only).
    """

    framework: str
    handle: Any
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    source_format: str  # keras3 | tf_keras | h5 | savedmodel | pt2 | tflite | memory
    path: Path | None = None
    sha256: str | None = None
    bridged_from: str | None = None  # "keras3" when the handle was translated from a Keras 3 model
    example_inputs: tuple[Any, ...] | None = None  # torch: the example inputs saved with the program


@dataclass(frozen=True)
class LayerInfo:
    name: str
    op: str  # the framework's op/class name, e.g. Conv2D, aten.conv2d.default, CONV_2D
    kind: str  # conv | depthwise | separable | dense | matmul | embedding | pool | norm | elementwise | activation | reshape | input | other
    input_shapes: tuple[tuple[int, ...], ...]
    output_shapes: tuple[tuple[int, ...], ...]
    params: int
    macs: int  # multiply-accumulates of conv/depthwise/separable/dense/matmul (batch 1)
    other_ops: int  # elementwise/pooling/normalisation work, reported apart from MACs (batch 1)
    output_elems: int  # activation elements produced (batch 1)
    inputs: tuple[str, ...] = ()  # names of the layers whose outputs this layer reads
    runtime_ops: dict[str, tuple[str, ...]] = field(default_factory=dict)  # {"tflite": ..., "coreml": ..., "aten": ...}
    weight_shapes: tuple[tuple[int, ...], ...] = ()

    def activation_bytes(self, dtype: str = "float32") -> int:
        return self.output_elems * DTYPE_BYTES[dtype]


@dataclass(frozen=True)
class ModelInfo:
    framework: str
    layers: tuple[LayerInfo, ...]
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    params: int
    macs: int
    other_ops: int
    peak_activation_elems: int  # from tensor lifetimes under sequential execution
    input_names: tuple[str, ...] = ()  # layer names that are graph inputs
    output_names: tuple[str, ...] = ()  # layer names whose outputs are graph outputs
    dtypes: tuple[str, ...] = ()  # dtypes of the model's weights/activations as stored (e.g. float32, int8)
    # producer -> consumer chains whose channels cross-layer equalization can rescale without changing
    # the function (Keras: frameworks/keras/techniques/equalize.py); 0 where not analysed
    equalizable_chains: int = 0
    # layers that allocate no tensor at inference (Dropout, a BatchNormalization folded into its conv)
    aliases: frozenset[str] = frozenset()

    def peak_activation_bytes(self, dtype: str = "float32") -> int:
        return self.peak_activation_elems * DTYPE_BYTES[dtype]

    def runtime_ops(self, namespace: str) -> dict[str, tuple[str, ...]]:
        """layer name -> that layer's ops in one runtime vocabulary (tflite / coreml / aten)."""
        return {l.name: l.runtime_ops.get(namespace, ()) for l in self.layers if l.kind != "input"}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["peak_activation_bytes"] = {dt: self.peak_activation_bytes(dt) for dt in ("float32", "float16", "int8")}
        for layer, raw in zip(self.layers, d["layers"]):
            raw["activation_bytes"] = {dt: layer.activation_bytes(dt) for dt in ("float32", "int8")}
        return d
