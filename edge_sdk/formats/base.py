"""The format spec, the exporter contract and the runtime runner record shared by every format folder.

    export(model, profile, config, out_dir) -> Artifact
        `model` is a `LoadedModel` (tf_keras or torch handle); `out_dir` is where the artifact's files go
        (written through `common.atomic`, so a failed export leaves nothing behind).
    run(artifact_or_bytes, inputs, reference=None) -> list[np.ndarray]
        float outputs in model order; `inputs` maps input name -> (N, ...) arrays in the model's input
        order. Quantized I/O is (de)quantized inside the runner (`common.quant`), so callers see floats.

A `Format` bundles one format's exporter, runner, the frameworks and
precisions that produce it, and what the planner needs to know about it before exporting (its size
overhead, hooks such as the weight compressions a profile allows); `edge_sdk.formats.FORMATS` registers
one per folder by the name users type.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from edge_sdk.artifact_metadata import ArtifactMetadata
from edge_sdk.data import Dataset
from edge_sdk.errors import ExportError, UnsupportedOpError, first_line
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.profiles import Profile
from edge_sdk.contracts.records import Artifact

RunFn = Callable[..., list]
Exporter = Callable[[LoadedModel, Profile, "ExportConfig", Path], Artifact]

@dataclass(frozen=True, eq=False)
class ExportConfig:
    precision: str = "float32"  # float32 | float16 | dynamic-int8 | int8 | int16x8
    io_dtype: str = "float32"  # int8 (int16 for int16x8) for full-integer targets (TFLM, NPUs)
    calibration: Dataset | None = None
    max_calibration_samples: int = 200
    # Core ML weight compression (coremltools.optimize.coreml): None | linear8 | palettize4 |
    # palettize6 | palettize8 | sparse | sparse-palettize4
    coreml_compression: str | None = None
    sparsity_aware: bool = False  # the model was pruned: Core ML keeps its zeros sparse (TFLite exports dense)
    dense_per_tensor: bool = False  # TFLite int8: one weight scale per FULLY_CONNECTED (Candidate.dense_per_tensor)
    tuned: bool = False  # TFLite int8: ranges and bias correction chosen per model (Candidate.tuned)
    # what an export that searches (int8-mixed's fallback, int8-tuned) aims for: the build's fidelity floor
    min_fidelity: dict[str, float] | None = None
    output_kinds: dict[str, str] | None = None  # output name -> task kind, in output order
    arena_margin: float = 0.10  # TFLM: arena given to the harness = measured * (1 + margin), 16-byte aligned
    metadata: ArtifactMetadata = ArtifactMetadata()  # what the artifact says about itself, where its format can
    seed: int = 0


@dataclass(frozen=True)
class Runtime:
    runtime: str  # litert | tflm | coreml | executorch: what report.json `verification.runtime` says
    method: str  # executed | simulated
    run: RunFn
    checks: Callable[[Any], dict] | None = None  # structural checks of the artifact (Core ML on Linux)
    measure: Callable[[Any], dict] | None = None  # measured host numbers, e.g. the TFLM arena
    # another runtime that must agree with this one on the same file, bit for bit (TFLM vs LiteRT's
    # reference kernels); also what verifies the file when this runtime's host interpreter crashes
    cross_check: "Runtime | None" = None


@contextmanager
def export_errors(what: str) -> Iterator[None]:
    """Turn what the third-party call in the block raises into `ExportError("<what>: <first line>")`,
    chained to it. Wrap only that call, so a bug in our own code keeps its own traceback."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - converters raise many types; the user can act on the message
        raise ExportError(f"{what}: {first_line(exc)}") from exc


class RuntimeCrashed(UnsupportedOpError):
    """The runtime's host interpreter aborted on the model (its bug or limit); verify falls back to the
    runner's cross-check runtime on the same artifact and says so (`method: simulated`)."""


@dataclass(frozen=True)
class SizeModel:
    """What the planner's artifact-size estimate (planner/memory.py) charges beyond the weights, calibrated
    against real artifacts (docs/export.md): fixed bytes, bytes per tensor and per op of the op graph."""

    base_bytes: int
    per_tensor_bytes: int
    per_op_bytes: int
    flatbuffer: bool = False  # TFLite flatbuffer: quantization tables per tensor, a DEQUANTIZE per fp16 constant
    float_io: bool = True  # quantized models keep float I/O (a QUANTIZE and a DEQUANTIZE tensor at the edges)
    # The format's own estimate instead of the generic one:
    # artifact_bytes(info, [(kernel elems, bias elems) per weight tensor], params scale, precision) -> bytes
    artifact_bytes: Callable[..., int] | None = None


@dataclass(frozen=True, eq=False)
class Format:
    """One output format. Calling it exports: `FORMATS.get("tflm")(model, profile, config, out_dir)`."""

    name: str  # what users type: profile `runtime.formats`, plan files, `Artifact.format`
    exporter: Exporter
    runner: Runtime  # what `verify` runs the artifact on
    frameworks: Mapping[str, tuple[str, ...]]  # LoadedModel.framework -> the precisions it is exported at
    size: SizeModel
    # ops outside the profile's op list still run, on slower portable kernels (not unsupported)
    portable_fallback: bool = False
    # the weight compressions (ExportConfig.coreml_compression) the exporter can apply for a profile
    weight_compressions: Callable[[Profile], tuple[str, ...]] = lambda profile: ()

    def __call__(self, model: LoadedModel, profile: Profile, config: ExportConfig, out_dir: Path) -> Artifact:
        return self.exporter(model, profile, config, out_dir)
