"""Real inputs for `edge-sdk bench`: one sample of the user's data (`--inputs FILE.npz`, else the eval
data report.json recorded), fed on every runner. Zeros or random tokens are not real work for a
transformer: all padding and a fully masked attention.

The sample is a .npz of `input_0`, `input_1`, ... in the model's input order: what the Python runner
(host, ssh) reads with its own `--inputs`. The other runners feed it the way their tool takes inputs,
from the same sample brought to each model input's shape and dtype here by the Python runner's own
conversion (`sample_arrays`: float data quantized with an integer input's scale and zero point):
adb pushes raw tensor files (`raw_input_files`) for benchmark_model / executor_runner, serial sends the
tensor bytes over the UART, ios copies raw files into the harness bundle, TensorRT (host, ssh with a
`.onnx`) copies raw files for trtexec's --loadInputs.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Iterator

import numpy as np

from edge_sdk.contracts.records import Artifact
from edge_sdk.devices.artifact import BenchTarget
from edge_sdk.devices.base import BenchConfig
from edge_sdk.devices.harness import PYTHON_RUNNER, script_module
from edge_sdk.errors import DeviceError, EdgeSDKError, first_line

RUNNERS_WITH_INPUTS = ("host", "ssh", "adb", "serial", "ios")  # every runner (docs/bench.md says how each feeds)
_COREML_DTYPES = {"FLOAT32": "float32", "FLOAT16": "float16", "DOUBLE": "float64", "INT32": "int32", "INT8": "int8"}


@dataclass(frozen=True)
class InputSpec:
    """One model input as the runtime on the device holds it."""

    name: str
    shape: tuple[int, ...]
    dtype: str  # numpy dtype name (or the runtime's name of a type numpy has not: refused)
    quantization: tuple[float, int] = (0.0, 0)  # (scale, zero point) of an integer input; scale 0: none


def _source(target: BenchTarget, given: Path | None, transport: str) -> Path | None:
    if given is not None:
        if transport not in RUNNERS_WITH_INPUTS:
            raise DeviceError(f"--inputs: the {transport} runner feeds its own inputs; real inputs run on "
                              f"{', '.join(RUNNERS_WITH_INPUTS)} (drop --inputs, or bench there)")
        return given
    recorded = (((target.report or {}).get("data") or {}).get("eval") or {}).get("source")
    if transport not in RUNNERS_WITH_INPUTS or not recorded or not str(recorded).endswith(".npz"):
        return None
    path = target.out_dir / recorded  # report.json's paths are relative to its directory
    return path if path.is_file() else None


def _ordered(arrays: dict[str, np.ndarray], target: BenchTarget, source: Path) -> list[np.ndarray]:
    """The arrays in the model's input order: by the names the artifact records or, for a flatbuffer,
    by its input tensors' names (the converter orders a multi-input model's inputs by name and calls them
    `serving_default_NAME:0`); else the file's order."""
    names = [i["name"] for i in target.artifact.details.get("inputs") or [] if isinstance(i, dict) and "name" in i]
    if not names and target.artifact.format in ("tflite", "tflm"):
        from edge_sdk.formats.tflite.runner import is_input_tensor

        tensors = [spec.name for spec in _tflite_inputs(target.artifact.path)]
        names = [next((k for k in arrays if is_input_tensor(t, k)), t) for t in tensors]
    if names and all(n in arrays for n in names):
        return [arrays[n] for n in names]
    if not arrays:
        raise DeviceError(f"--inputs {source}: holds no input arrays")
    return list(arrays.values())


@contextmanager
def bench_inputs(target: BenchTarget, config: BenchConfig, transport: str) -> Iterator[BenchConfig]:
    """`config` for the runner: `inputs` = a temporary .npz with the first sample of each input (None: the
    runner's own inputs), `inputs_source` = the file it came from, `inputs_required` = --inputs asked."""
    from edge_sdk.data import read_npz

    given = config.inputs
    source = _source(target, given, transport)
    if source is None:
        yield replace(config, inputs=None, inputs_source=None, inputs_required=False)
        return
    arrays, _ = read_npz(source)
    ordered = _ordered(arrays, target, source)
    with tempfile.TemporaryDirectory(prefix="edge-sdk-inputs-") as tmp:
        path = Path(tmp) / f"{source.stem}_sample0.npz"
        np.savez(path, **{f"input_{i}": arr[:1] for i, arr in enumerate(ordered)})
        yield replace(config, inputs=path, inputs_source=source, inputs_required=given is not None)


def fed(config: BenchConfig, default: str = "random") -> str:
    """What a run is fed, for `raw.start.inputs`: the sample file's name, else the runner's own inputs."""
    return config.inputs.name if config.inputs else default


def cannot_feed(config: BenchConfig, why: str) -> BenchConfig:
    """The device side cannot take the sample: an error when --inputs asked for it; the eval-data default
    falls back to the runner's own inputs (and `raw.start.inputs` says so)."""
    if config.inputs_required:
        raise DeviceError(f"--inputs {config.inputs_source}: {why}")
    return replace(config, inputs=None, inputs_source=None)


@lru_cache(maxsize=1)
def python_runner() -> ModuleType:
    """targets/jetson/bench_runner.py: its `input_values` is the one sample -> tensor conversion."""
    return script_module(PYTHON_RUNNER, "edge_sdk_bench_runner")


def _tflite_inputs(path: Path) -> list[InputSpec]:
    from edge_sdk.formats.common.flatbuffer import read_graph

    graph = read_graph(path.read_bytes())
    tensors = [graph.tensors[i] for i in graph.inputs]
    return [InputSpec(t.name, t.shape, t.dtype, (t.scales[0] if t.scales else 0.0, t.zero_points[0] if t.zero_points else 0))
            for t in tensors]


def _pte_inputs(path: Path, names: list[str]) -> list[InputSpec]:
    from executorch.runtime import Runtime

    meta = Runtime.get().load_program(path).metadata("forward")
    infos = [meta.input_tensor_meta(i) for i in range(meta.num_inputs())]
    names = names if len(names) == len(infos) else [f"input_{i}" for i in range(len(infos))]
    dtypes = python_runner().ET_DTYPES
    return [InputSpec(n, tuple(int(s) for s in info.sizes()), dtypes.get(int(info.dtype()), f"ScalarType {int(info.dtype())}"))
            for n, info in zip(names, infos)]


def _coreml_inputs(artifact: Artifact) -> list[InputSpec]:
    """The package's inputs; an image input takes its sample as the model's normalised float32 values, in
    the shape the build declared (else NHWC), which the iOS runner turns into pixels."""
    from edge_sdk import deps

    ct = deps.coremltools()
    kinds = ct.proto.FeatureTypes_pb2.ArrayFeatureType.ArrayDataType
    declared = {i["name"]: tuple(i["shape"]) for i in artifact.details.get("inputs", []) if "image" in i}
    specs = []
    for i in ct.utils.load_spec(str(artifact.path)).description.input:
        if i.type.WhichOneof("Type") == "imageType":
            image = i.type.imageType
            channels = 1 if image.colorSpace == ct.proto.FeatureTypes_pb2.ImageFeatureType.GRAYSCALE else 3
            specs.append(InputSpec(i.name, declared.get(i.name, (1, image.height, image.width, channels)), "float32"))
            continue
        if i.type.WhichOneof("Type") != "multiArrayType":
            specs.append(InputSpec(i.name, (), str(i.type.WhichOneof("Type"))))
            continue
        kind = kinds.Name(i.type.multiArrayType.dataType)
        specs.append(InputSpec(i.name, tuple(int(d) for d in i.type.multiArrayType.shape), _COREML_DTYPES.get(kind, kind)))
    return specs


def _onnx_inputs(path: Path) -> list[InputSpec]:
    """The graph's inputs (not its initializers); a dynamic dimension is 1, the shape trtexec gives it."""
    from edge_sdk import deps

    onnx = deps.module("onnx")
    graph = onnx.load(str(path), load_external_data=False).graph
    weights = {t.name for t in graph.initializer}
    return [InputSpec(v.name, tuple(d.dim_value if d.HasField("dim_value") else 1 for d in v.type.tensor_type.shape.dim),
                      str(onnx.helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type)))
            for v in graph.input if v.name not in weights]


def model_inputs(artifact: Artifact) -> list[InputSpec]:
    """The model's inputs in order, read from the artifact on this machine (.tflite/TFLM: the flatbuffer;
    .pte: ExecuTorch's method metadata; Core ML: the package's spec; .onnx: the graph's inputs)."""
    names = [i["name"] for i in artifact.details.get("inputs") or [] if isinstance(i, dict) and "name" in i]
    try:
        if artifact.format in ("tflite", "tflm"):
            return _tflite_inputs(artifact.path)
        if artifact.format == "pte":
            return _pte_inputs(artifact.path, names)
        if artifact.format == "coreml":
            return _coreml_inputs(artifact)
        if artifact.format == "onnx":
            return _onnx_inputs(artifact.path)
    except EdgeSDKError:
        raise
    except Exception as exc:  # a corrupt or foreign file: say which, not a traceback
        raise DeviceError(f"{artifact.path.name}: cannot read the model's inputs to feed --inputs ({first_line(exc)}); "
                          "rebuild it with `edge-sdk build`, or drop --inputs") from None
    raise DeviceError(f"{artifact.path.name}: --inputs cannot feed {artifact.format} artifacts; drop --inputs")


def sample_arrays(artifact: Artifact, config: BenchConfig) -> list[tuple[InputSpec, np.ndarray]]:
    """Each model input with its value from the sample (`config.inputs`), in the input's shape and dtype:
    the Python runner's own conversion (float data quantized with the input's scale and zero point)."""
    specs = model_inputs(artifact)
    with np.load(config.inputs, allow_pickle=False) as npz:
        inputs = {name: npz[name] for name in npz.files}
    runner, out = python_runner(), []
    for i, spec in enumerate(specs):
        try:
            np.dtype(spec.dtype)
        except TypeError:
            raise DeviceError(f"{artifact.path.name}: input {i} ({spec.name}) is a {spec.dtype} tensor; --inputs "
                              "feeds numeric tensors only (drop --inputs)") from None
        shape = spec.shape or (inputs[f"input_{i}"].shape if f"input_{i}" in inputs else ())
        try:
            value = runner.input_values(inputs, None, i, shape, spec.dtype, spec.quantization)
        except ValueError as exc:
            raise DeviceError(f"--inputs {config.inputs_source or config.inputs}: {str(exc).removeprefix('--inputs: ')}; "
                              "pass one array per model input, in its order, with that many values per sample") from None
        out.append((spec, np.ascontiguousarray(value)))
    return out


def tensor_bytes(value: np.ndarray) -> bytes:
    """The bytes of the tensor as the device holds it: C order, little-endian (ARM, x86)."""
    return np.ascontiguousarray(value, dtype=value.dtype.newbyteorder("<")).tobytes()


def write_raw(values: list[np.ndarray], dest: Path) -> list[Path]:
    """`dest`/input_0.bin, input_1.bin, ...: one raw tensor file per input (what benchmark_model's
    --input_layer_value_files and executor_runner's --inputs read)."""
    dest.mkdir(parents=True, exist_ok=True)
    paths = [dest / f"input_{i}.bin" for i in range(len(values))]
    for path, value in zip(paths, values):
        path.write_bytes(tensor_bytes(value))
    return paths


@contextmanager
def raw_input_files(values: list[np.ndarray]) -> Iterator[list[Path]]:
    """`write_raw` into a temporary dir that lives as long as the `with` block."""
    with tempfile.TemporaryDirectory(prefix="edge-sdk-raw-inputs-") as tmp:
        yield write_raw(values, Path(tmp))
