"""Records passed forward from compress, export, verify and bench into the report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class StepRecord:
    """What one compression step did, as measured (not as asked)."""

    technique: str
    params: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)  # e.g. per-layer sparsity, samples used, epochs run
    notes: tuple[str, ...] = ()  # e.g. layers left float
    wall_s: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "StepRecord":
        return cls(**{**d, "notes": tuple(d.get("notes", ()))})


@dataclass(frozen=True)
class ArenaInfo:
    """The TFLM tensor arena of an artifact: what the harness reserves and what that figure rests on.

    `basis_bytes` is measured in the TFLM interpreter (RecordingMicroAllocator) when `measured`, else
    estimated from the flatbuffer's op graph (the interpreter could not load the model); `bytes` is
    basis * (1 + margin), aligned, the kTensorArenaSize the harness gets.
    """

    bytes: int
    basis_bytes: int
    measured: bool
    margin: float
    head_bytes: int | None = None  # planned activations and scratch (measured only)
    tail_bytes: int | None = None  # persistent allocations (measured only)
    note: str = ""  # why it is an estimate

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Artifact:
    format: str  # tflite | tflm | coreml | pte | pte-coreml
    path: Path  # the main file (model.tflite, model.mlpackage, model.pte)
    bytes: int
    gzip_bytes: int
    sha256: str
    files: tuple[Path, ...] = ()  # every file written (e.g. model_data.cc/.h, op_resolver.h)
    precision: str = "float32"  # float32 | float16 | dynamic-int8 | int8 | int16x8 | palettized-4bit ...
    tool_versions: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)  # format specifics for people (ops, I/O dtypes, ...)
    arena: ArenaInfo | None = None  # TFLM formats: the tensor arena (typed: the planner reads it)
    stored_bytes: int | None = None  # bytes in device storage when not `bytes` (e.g. the flatbuffer in flash)

    @property
    def flash_bytes(self) -> int:
        """Bytes the model occupies where it is stored (the flatbuffer in flash for TFLM)."""
        return self.stored_bytes if self.stored_bytes is not None else self.bytes

    def to_dict(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path)
        d["files"] = [str(p) for p in self.files]
        return d

    @classmethod
    def from_dict(cls, d: dict, directory: Path) -> "Artifact":
        """An artifact whose files now live in `directory` (restored from the build cache)."""
        arena = ArenaInfo(**d["arena"]) if d.get("arena") else None
        return cls(**{**d, "path": directory / Path(d["path"]).name, "arena": arena,
                      "files": tuple(directory / Path(f).name for f in d["files"])})


@dataclass(frozen=True)
class OutputFidelity:
    output: str
    kind: str
    metrics: dict[str, float]  # metric -> the value budgets compare
    per_sample: dict[str, dict[str, float]] = field(default_factory=dict)  # metric -> {min, p5, median, mean}

    def to_dict(self) -> dict:
        return {"output": self.output, "kind": self.kind, "metrics": self.metrics, "per_sample": self.per_sample}


@dataclass(frozen=True)
class Fidelity:
    """Per output, the metrics of its task (`outputs`, edge_sdk/fidelity.py); and over all outputs flattened,
    the summary kept since report.json v1 (top-1 agreement of a first classification output)."""

    top1_agreement: float | None
    cosine: float
    sqnr_db: float
    max_abs_error: float
    outputs: tuple[OutputFidelity, ...] = ()


@dataclass(frozen=True)
class Accuracy:
    reference: float  # points, 0-100
    compressed: float
    drop: float


@dataclass(frozen=True)
class Verification:
    runtime: str  # litert | tflm | executorch | coreml
    method: str  # executed | simulated | not_run
    samples: int
    fidelity: Fidelity | None
    accuracy: Accuracy | None = None
    measured: dict[str, Any] = field(default_factory=dict)  # e.g. arena_bytes, latency_ms on host
    checks: dict[str, Any] = field(default_factory=dict)  # structural checks (Core ML on Linux)
    passed: bool = True
    reason: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Verification":
        fid = d.get("fidelity")
        if fid:
            fid = Fidelity(**{**fid, "outputs": tuple(OutputFidelity(**o) for o in fid.get("outputs", ()))})
        return cls(**{**d, "fidelity": fid or None,
                      "accuracy": Accuracy(**d["accuracy"]) if d.get("accuracy") else None})


@dataclass(frozen=True)
class BenchResult:
    device: str
    runner: str
    artifact: str
    runs: int
    warmup: int
    latency_ms: dict[str, float]  # p50, p90, p99, mean, min, max
    peak_memory_bytes: int | None = None
    arena_bytes: int | None = None
    complete: bool = True  # False when the device disconnected; latency from the runs that finished
    error: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    # per operator, where the runtime traces them (ExecuTorch's ETDump, benchmark_model's op profiling):
    # [{name, ms, stat (p50 | avg), runs}] in run order
    op_profile: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict:
        return asdict(self)
