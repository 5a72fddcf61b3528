"""One candidate as a task: everything a worker process needs to build and check it, and what it returns.

A `Task` is frozen and picklable and refers to files by path and content hash (the model, the data the
build validated and wrote once), so any process - the CLI's own, a local worker, a remote one - can run
it and get the same result. Trained steps are shared between tasks through the content-addressed
cache on disk (`cache_dir`), never through memory.

A `TaskResult` carries either the built artifact with its verification, or a `TaskError` saying how the
task ended: an `EdgeSDKError` the user can act on (`kind="error"`), an exception from our own code or a
library we call (`kind="exception"`, `internal=True`, full traceback), a signal that killed the worker
(`kind="signal"`, e.g. SIGSEGV inside TensorFlow) or the per-candidate time limit (`kind="timeout"`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from concurrent.futures import Future
from typing import TYPE_CHECKING, Protocol

from edge_sdk.artifact_metadata import ArtifactMetadata
from edge_sdk.contracts.records import Artifact, StepRecord, Verification

if TYPE_CHECKING:
    from edge_sdk.contracts.plan import Candidate
    from edge_sdk.profiles import Profile


@dataclass(frozen=True)
class DataRef:
    """A data set the build validated and wrote as .npz, with its content hash."""

    path: Path
    fingerprint: str
    source: str  # what the user gave (file, module:function, in-memory)


@dataclass(frozen=True)
class TaskData:
    calibration: DataRef
    train: DataRef
    eval: DataRef


@dataclass(frozen=True)
class ModelRef:
    path: Path
    sha256: str
    trust_model: bool


@dataclass(frozen=True)
class Task:
    candidate: "Candidate"
    profile: "Profile"
    model: ModelRef
    data: TaskData
    seed: int
    cache_dir: Path  # the build cache (the user's, or a build-private one with --no-cache)
    out_dir: Path  # where the artifact files are written
    log_path: Path  # the worker's stdout/stderr while it runs this task (third-party output)
    output_kinds: dict[str, str] | None = None  # output name -> task kind (fidelity metrics); None: by shape
    min_fidelity: dict[str, float] | None = None  # the build's floor, for rungs that search against it (int8-mixed)
    progress: bool = True  # progress lines for training steps (display only)
    metadata: ArtifactMetadata = ArtifactMetadata()  # labels, normalisation, name... the artifact carries

    @property
    def name(self) -> str:
        return f"{self.profile.name}/{self.candidate.name}"


@dataclass(frozen=True)
class TaskError:
    kind: str  # error | exception | signal | timeout
    type: str  # the exception class, the signal name (SIGSEGV) or "timeout"
    message: str
    internal: bool = False  # a bug (ours or a library's) rather than an input problem: the CLI says so
    traceback: str = ""
    log_tail: str = ""  # the last lines the task printed (native crash messages land here)

    def summary(self) -> str:
        if self.kind == "signal":
            return f"worker killed by {self.type} ({self.message})"
        if self.kind == "timeout":
            return self.message
        if self.internal:
            return f"internal error {self.type}: {self.message} (traceback in report.json error.traceback and build.log)"
        return self.message

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Run:
    """One execution of a task: the node (host, or Ray node) that ran it and how that run ended."""

    node: str
    outcome: str  # "finished" (with a result or an error of its own) | "node lost" (retried elsewhere)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TaskResult:
    artifact: Artifact | None = None
    verification: Verification | None = None
    records: tuple[StepRecord, ...] = ()
    timings_s: dict[str, float] = field(default_factory=dict)  # compress / export / verify
    wall_s: float = 0.0
    cache_hits: int = 0  # trained steps or whole attempts reused from the build cache
    error: TaskError | None = None
    cache_discarded: int = 0  # cache entries found damaged (a file no longer matching its sha256) and rebuilt
    runs: tuple[Run, ...] = ()  # where it ran, in order: every run but the last lost its node

    @property
    def built(self) -> bool:
        return self.error is None and self.artifact is not None and self.verification is not None


class Executor(Protocol):
    """Runs tasks (edge_sdk.pipeline.executors): the search submits, waits on futures, cancels."""

    jobs: int  # tasks it runs at once

    def submit(self, task: Task) -> "Future[TaskResult]": ...

    def cancel(self, future: "Future[TaskResult]") -> None: ...

    def close(self) -> None: ...

    def describe(self) -> dict:
        """What report.json `executor` records: {"name": ..., plus e.g. "address" and "nodes"}."""
        ...
