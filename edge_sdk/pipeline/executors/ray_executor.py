"""The `ray` executor: candidates as Ray tasks on a cluster (`--executor ray[:ADDRESS]`, extra `[ray]`).

Without an address it joins the cluster Ray finds by itself (RAY_ADDRESS, or one `ray start` began on
this machine) or starts a private one. Each candidate is one Ray task (ray_node.run_on_node) asking for
one CPU and a memory estimate; the model and data files go into the object store once per build, by
content hash, and each node unpacks them once. A node lost mid-task (Ray's NodeDiedError, or the
supervising worker killed with it) runs the task again elsewhere, at most `RETRIES` more times, and
every run is recorded (`TaskResult.runs`: node and outcome). A candidate's own failure (an exception,
a segfault, the time limit) is not retried: it is that candidate's result, as on a local build.

Tasks that share a trained step are held here until no running task computes it (dependencies.py),
so a shared step is trained once and no Ray worker sits blocked on another's lock.
"""

from __future__ import annotations

import socket
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from edge_sdk.contracts.task import Run, Task, TaskError, TaskResult
from edge_sdk.errors import ConfigError
from edge_sdk.pipeline.executors.dependencies import computing, step_keys_of
from edge_sdk.pipeline.executors.output import relay, with_log_tail

RETRIES = 2  # extra runs of a task whose node was lost
CONNECT_TIMEOUT_S = 10.0
MEMORY_BASE = {"keras": 3 << 30, "torch": 3 << 30}  # a worker with its framework loaded and one conversion running
MEMORY_DEFAULT = 2 << 30
MEMORY_PER_MODEL_BYTE = 16  # weights, their trained copy, optimizer state, the converter's copies


def versions() -> dict[str, str]:
    """What must match between the driver and every node (ray_node checks it before running)."""
    import ray

    import edge_sdk

    return {"edge-sdk": edge_sdk.__version__, "ray": ray.__version__}


@dataclass
class _Job:
    task: Task
    future: "Future[TaskResult]"
    keys: frozenset[str]
    generator: Any = None
    node: str | None = None
    cancelled: bool = False
    runs: list[Run] = field(default_factory=list)


class RayExecutor:
    def __init__(self, *, jobs: int | None = None, timeout_s: float = 1800.0, warmup: str | None = None,
                 say: Callable[[str], None] = lambda _: None, address: str | None = None) -> None:
        from edge_sdk import deps

        ray = deps.module("ray")
        self._ray = ray
        self._address = address
        self._timeout_s = timeout_s
        self._warmup = warmup
        self._say = say
        if address:
            _check_reachable(address)
        self._owns = not ray.is_initialized()
        if self._owns:
            try:
                ray.init(address=address, log_to_driver=False, logging_level="ERROR")
            except ConnectionError as exc:  # `ray:auto` with no cluster running, a head that went away
                raise ConfigError(f"--executor ray:{address}: {' '.join(str(exc).split())}") from None
        self._remote = ray.remote(max_retries=0)(_node_function("run_on_node"))
        alive = [n for n in ray.nodes() if n.get("Alive")]
        self._nodes = sorted(_label(n) for n in alive)
        warm_up = ray.remote(_node_function("warm_up"))
        for node in alive:
            if node["Resources"].get("CPU"):
                _warm_up_on(warm_up, node["NodeID"], timeout_s, warmup)
        self.jobs = jobs or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._versions = versions()
        self._blobs: dict[str, Any] = {}  # content hash -> ObjectRef of the packed file
        self._lock = threading.Lock()
        self._held: list[_Job] = []
        self._running: list[_Job] = []
        self._threads: list[threading.Thread] = []
        self._done: dict[str, int] = {}
        self._last_progress = ""
        self._closed = False
        say(f"ray: {len(self._nodes)} node(s), {self.jobs} task(s) at once ({address or 'cluster found by Ray'})")

    # -- the Executor protocol -------------------------------------------------------------------

    def submit(self, task: Task) -> "Future[TaskResult]":
        future: Future[TaskResult] = Future()
        task.cache_dir.mkdir(parents=True, exist_ok=True)  # nodes on this machine (or shared storage) then share it
        keys = step_keys_of(task)
        with self._lock:
            if self._closed:
                raise RuntimeError("executor is closed")
            self._held.append(_Job(task, future, keys))
            self._release()
        return future

    def cancel(self, future: "Future[TaskResult]") -> None:
        """Drop a held task, or cancel the Ray task running it (its worker is killed)."""
        with self._lock:
            for job in self._held:
                if job.future is future:
                    self._held.remove(job)
                    future.cancel()
                    return
            for job in self._running:
                if job.future is future:
                    job.cancelled = True
                    if job.generator is not None:
                        self._ray.cancel(job.generator, force=True)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for job in self._held:
                job.future.cancel()
            self._held.clear()
            for job in self._running:
                job.cancelled = True
                if job.generator is not None:
                    self._ray.cancel(job.generator, force=True)
        for thread in self._threads:
            thread.join()
        if self._owns:
            self._ray.shutdown()

    def describe(self) -> dict:
        return {"name": "ray", "address": self._address, "jobs": self.jobs, "nodes": self._nodes}

    # -- scheduling ------------------------------------------------------------------------------

    def _release(self) -> None:
        """Start every held task none of whose trained steps a running task is computing (lock held)."""
        busy = computing(job.keys for job in self._running)
        for job in list(self._held):
            if job.keys & busy or not job.future.set_running_or_notify_cancel():
                if job.future.cancelled():
                    self._held.remove(job)
                continue
            self._held.remove(job)
            self._running.append(job)
            busy |= job.keys
            thread = threading.Thread(target=self._run, args=(job,), name=f"edge-sdk-ray {job.task.name}", daemon=True)
            self._threads.append(thread)
            thread.start()
        self._progress()

    def _run(self, job: _Job) -> None:
        """One task to its end: runs it, runs it again while its node is lost, then records the result;
        a bug here still ends the task (internal, with its traceback), never leaves its future waiting."""
        try:
            result = self._result(job)
        except Exception as exc:  # noqa: BLE001 - ours: recorded as an internal error of this candidate
            import traceback

            result = TaskResult(error=TaskError("exception", type(exc).__name__, str(exc) or repr(exc), internal=True,
                                                traceback=traceback.format_exc()))
        result = replace(result, runs=tuple(job.runs))
        result = with_log_tail(result, job.task.log_path)
        with self._lock:
            self._running.remove(job)
            if job.node is not None:
                self._done[job.node] = self._done.get(job.node, 0) + 1
            if not job.future.done():
                job.future.set_result(result)
            if not self._closed:
                self._release()

    def _result(self, job: _Job) -> TaskResult:
        ray = self._ray
        lost = (ray.exceptions.NodeDiedError, ray.exceptions.WorkerCrashedError)
        result = None
        for _ in range(1 + RETRIES):
            try:
                result = self._one_run(job)
                break
            except ray.exceptions.TaskCancelledError:
                job.cancelled = True
                break
            except lost as exc:
                if job.cancelled:
                    break
                job.runs.append(Run(job.node or "unknown", "node lost"))
                self._say(f"  ray: {job.task.name}: lost its node {job.node or '(not started)'} "
                          f"({type(exc).__name__}); running it again")
                job.node = None
            except ray.exceptions.RayTaskError as exc:
                result = _supervisor_failure(exc)
                job.runs.append(Run(job.node or "unknown", "finished"))
                break
        if job.cancelled:
            result = _failure("cancelled", "cancelled", "a decision made this candidate unnecessary")
        elif result is None:
            result = _failure("lost", "node lost", f"every node that ran {job.task.name} was lost "
                              f"({1 + RETRIES} runs); see report.json attempts[].runs")
        return result

    def _one_run(self, job: _Job) -> TaskResult | None:
        """One Ray task for the job; None when it was cancelled before it started."""
        from edge_sdk.pipeline.executors.ray_node import unpack

        task = job.task
        blobs = [self._blob(task.model.sha256, task.model.path)]
        blobs += [self._blob(ref.fingerprint, ref.path) for ref in (task.data.calibration, task.data.train, task.data.eval)]
        with self._lock:
            if job.cancelled:
                return None
            job.generator = self._remote.options(num_cpus=1, memory=self._memory(task), name=task.name).remote(
                task, self._versions, self._timeout_s, self._warmup, *blobs)
        for ref in job.generator:
            kind, *payload = self._ray.get(ref)
            if kind == "start":
                with self._lock:
                    job.node = payload[0]
                    self._progress()
            elif kind == "say":
                self._say(payload[0])
            elif kind == "done":
                result, outputs, log = payload
                unpack(outputs, task.out_dir)
                task.log_path.parent.mkdir(parents=True, exist_ok=True)
                task.log_path.write_text(log)
                relay(task.log_path, task.name)
                job.runs.append(Run(job.node or "unknown", "finished"))
                return result
        if job.cancelled:  # a cancelled generator can simply stop
            return None
        raise RuntimeError(f"the Ray task for {task.name} ended without a result")

    def _blob(self, digest: str, path: Path) -> Any:
        """The packed file in the object store, put there once per build."""
        from edge_sdk.pipeline.executors.ray_node import pack

        with self._lock:
            if digest not in self._blobs:
                self._blobs[digest] = self._ray.put(pack(path, path.name))
            return self._blobs[digest]

    def _memory(self, task: Task) -> int:
        """Bytes of memory a task asks Ray for: the framework's worker plus a multiple of the model."""
        path = task.model.path
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size
        return MEMORY_BASE.get(self._warmup or "", MEMORY_DEFAULT) + MEMORY_PER_MODEL_BYTE * size

    def _progress(self) -> None:
        """One line per change: tasks held or queued here, and per node those running and done (lock held)."""
        waiting = len(self._held) + sum(job.node is None for job in self._running)
        nodes = sorted({job.node for job in self._running if job.node} | set(self._done))
        per_node = "; ".join(f"{node}: {sum(job.node == node for job in self._running)} running, {self._done.get(node, 0)} done"
                             for node in nodes)
        line = f"  ray: {waiting} queued" + (f"; {per_node}" if per_node else "")
        if line != self._last_progress:
            self._last_progress = line
            self._say(line)


def _node_function(name: str) -> Callable:
    from edge_sdk.pipeline.executors import ray_node

    return getattr(ray_node, name)


def _warm_up_on(warm_up: Any, node_id: str, timeout_s: float, warmup: str | None) -> Any:
    """One Ray worker on the node starts importing the framework now (ray_node.warm_up); Ray reuses that
    worker for this build's tasks on the node."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return warm_up.options(num_cpus=1, scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=True)).remote(
        timeout_s, warmup)


def _label(node: dict) -> str:
    return f"{node['NodeManagerAddress']}/{node['NodeID'][:12]}"


def _check_reachable(address: str) -> None:
    """Fail in one line, before Ray's own retries (minutes), when nothing listens at the address."""
    if address.startswith("ray://"):
        raise ConfigError(f"--executor ray:{address}: Ray Client addresses are not supported; run the build where "
                          "it can join the cluster (a node, or a pod beside it) and give the head's HOST:PORT")
    if address in ("auto", "local"):
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--executor ray:{address}: expected ray:HOST:PORT (the head node's address, port 6379 by default)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ConfigError(f"--executor ray:{address}: no Ray cluster answers there ({exc.strerror or exc}); "
                          "start one with `ray start --head` or give the head node's address") from None


def _supervisor_failure(exc: Exception) -> TaskResult:
    """The Ray task itself raised: the node's environment is wrong (a ConfigError: the user's to fix),
    or a bug of ours (internal, with the traceback Ray carried over)."""
    from edge_sdk.errors import EdgeSDKError

    cause = getattr(exc, "cause", None)
    if isinstance(cause, EdgeSDKError):
        return TaskResult(error=TaskError("error", type(cause).__name__, str(cause), internal=False, traceback=str(exc)))
    return TaskResult(error=TaskError("exception", type(cause or exc).__name__, str(cause or exc), internal=True,
                                      traceback=str(exc)))


def _failure(kind: str, type_: str, message: str) -> TaskResult:
    return TaskResult(error=TaskError(kind, type_, message, internal=False))
