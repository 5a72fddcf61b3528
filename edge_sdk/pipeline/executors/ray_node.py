"""The node side of the `ray` executor: one Ray task per candidate, run by `run_on_node` on whichever
node Ray picks (ray_executor.py is the driver side).

The model and data arrive as bytes from Ray's object store, keyed by content hash, and are written
once per node under `<node temp dir>/edge-sdk-ray/files/<sha256>/`; the task's paths are rewritten to
them, to a private output dir and log, and to the build cache (the driver's cache path when this node
sees it, i.e. shared storage or the same machine; else a node-local one). The task itself runs in a
local worker process (`LocalExecutor`, one per Ray worker, kept warm between tasks), so a segfault in
TensorFlow or the time limit ends that candidate as on a local build, with its signal and log tail,
while this supervising Ray task survives to report it. It is a generator: Ray streams each item back
as it is yielded, so progress lines reach the driver while the candidate runs.
"""

from __future__ import annotations

import io
import os
import queue
import shutil
import tarfile
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

from edge_sdk.contracts.task import Task, TaskData, TaskResult
from edge_sdk.pipeline.executors.output import read_log

_pool: Any = None  # this Ray worker's LocalExecutor, kept between tasks (its worker has the framework imported)
_pool_key: tuple = ()
_lines: "queue.Queue[str]" = queue.Queue()  # progress lines of the task running now (one task per Ray worker)


def run_on_node(task: Task, versions: dict[str, str], timeout_s: float, warmup: str | None,
                model: bytes, calibration: bytes, train: bytes, eval_: bytes) -> Iterator[tuple]:
    """Yields ("start", node), then ("say", line)..., then ("done", TaskResult, outputs.tar, log text);
    the blobs are `pack`ed files, resolved by Ray from the object store."""
    yield ("start", node_label())
    mismatch = _version_mismatch(versions)
    if mismatch:
        from edge_sdk.errors import ConfigError

        raise ConfigError(mismatch)
    root = Path(tempfile.gettempdir()) / f"edge-sdk-ray-{os.getuid()}"
    here = _staged(task, root, model, {"calibration": calibration, "train": train, "eval": eval_})
    try:
        pool = _local_pool(timeout_s, warmup)
        future = pool.submit(here)
        while not future.done():
            try:
                yield ("say", _lines.get(timeout=0.2))
            except queue.Empty:
                pass
        while not _lines.empty():
            yield ("say", _lines.get())
        result = future.result()
        yield ("done", _as_driver_sees(result, here.out_dir, task.out_dir), pack(here.out_dir, "."), read_log(here.log_path))
    finally:
        shutil.rmtree(here.out_dir.parent, ignore_errors=True)


def warm_up(timeout_s: float, warmup: str | None) -> None:
    """Start this Ray worker's local worker, which imports the model's framework in the background,
    while the driver is still loading the model: the first candidate on this node then finds it warm."""
    _local_pool(timeout_s, warmup)


def node_label() -> str:
    """`IP/node-id prefix`: what progress and report.json `attempts[].runs[].node` call a Ray node
    (the IP alone is ambiguous when several nodes share a machine)."""
    import ray

    return f"{ray.util.get_node_ip_address()}/{ray.get_runtime_context().get_node_id()[:12]}"


def _version_mismatch(driver: dict[str, str]) -> str:
    """The node must run the same edge-sdk and Ray as the driver, or its artifacts would not be the
    ones a local build makes."""
    from edge_sdk.pipeline.executors.ray_executor import versions

    here = versions()
    wrong = [f"{name} {here.get(name)} here, {want} on the driver" for name, want in driver.items() if here.get(name) != want]
    return f"this Ray node's environment differs from the build's: {'; '.join(wrong)}; install the same versions on every node" if wrong else ""


def _staged(task: Task, root: Path, model: bytes, data: dict[str, bytes]) -> Task:
    """The task with every path pointing at this node's copies."""
    files = root / "files"
    refs = {name: getattr(task.data, name) for name in ("calibration", "train", "eval")}
    staged = {name: replace(ref, path=_copy(files, ref.fingerprint, data[name]) / ref.path.name) for name, ref in refs.items()}
    attempt = root / "attempts" / uuid.uuid4().hex
    cache = task.cache_dir if _writable(task.cache_dir) else root / "cache"
    return replace(
        task,
        model=replace(task.model, path=_copy(files, task.model.sha256, model) / task.model.path.name),
        data=TaskData(**staged),
        out_dir=attempt / "out",
        log_path=attempt / "task.log",
        cache_dir=cache,
    )


def _copy(files: Path, digest: str, blob: bytes) -> Path:
    """`files/<digest>/`, unpacked once per node (into a temp dir renamed into place, so concurrent
    tasks on one node never read a half-written copy)."""
    target = files / digest
    if not target.exists():
        files.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(dir=files, prefix=".partial-"))
        unpack(blob, partial)
        try:
            partial.rename(target)
        except OSError:  # another task on this node got there first
            shutil.rmtree(partial, ignore_errors=True)
    return target


def _writable(directory: Path) -> bool:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(directory, os.W_OK)


def _local_pool(timeout_s: float, warmup: str | None) -> Any:
    global _pool, _pool_key
    from edge_sdk.pipeline.executors.local import LocalExecutor

    if _pool is None or _pool_key != (timeout_s, warmup):
        if _pool is not None:
            _pool.close()
        _pool, _pool_key = LocalExecutor(jobs=1, timeout_s=timeout_s, warmup=warmup, say=_lines.put), (timeout_s, warmup)
    return _pool


def _as_driver_sees(result: TaskResult, here: Path, there: Path) -> TaskResult:
    """The artifact's paths moved from this node's output dir to the driver's."""
    a = result.artifact
    if a is None:
        return result
    move = lambda p: there / Path(p).relative_to(here)  # noqa: E731
    return replace(result, artifact=replace(a, path=move(a.path), files=tuple(move(f) for f in a.files)))


def pack(path: Path, arcname: str) -> bytes:
    """A file or directory as an uncompressed tar (models and artifacts are already as small as they get)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        if path.exists():
            tar.add(path, arcname=arcname)
    return buffer.getvalue()


def unpack(blob: bytes, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r") as tar:
        tar.extractall(directory, filter="data")
