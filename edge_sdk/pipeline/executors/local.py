"""The `local` executor: tasks run in a pool of worker processes (fresh interpreters), never in the CLI's own.

Why processes: a trained rung can die inside native code (a segfault in TensorFlow's `fit`) or hang;
in its own process that ends one candidate, recorded as `failed` with the signal or the time limit and
the tail of its output, and the build goes on with the next rung and the other targets.

Each worker is a fresh interpreter (`worker.py`; not multiprocessing's spawn, which would re-run the
caller's main script) that imports the model's framework once (`warmup`) and then runs tasks one at a
time, sent over a socket; it sends back progress lines and the TaskResult. A dispatcher
thread in the parent hands queued tasks to idle workers and watches the busy ones: a result, a death
(its socket closes: the exit code names the signal), the deadline (kill), or a cancellation
(kill). A worker that was killed or died is replaced by a fresh one.
"""

from __future__ import annotations

import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Callable

from edge_sdk.contracts.task import Run, Task, TaskError, TaskResult
from edge_sdk.pipeline.executors.dependencies import computing, step_keys_of
from edge_sdk.pipeline.executors.output import relay, with_log_tail

POLL_S = 0.1
STOP_GRACE_S = 5.0
STARTUP_ALLOWANCE_S = 300.0  # a fresh worker imports its framework before it takes the task


@dataclass
class _Job:
    task: Task
    future: "Future[TaskResult]"
    keys: frozenset[str] = frozenset()  # the trained steps it needs (dependencies.py)
    deadline: float = 0.0
    started: float = 0.0
    cancelled: bool = False


class _Worker:
    """One worker process (edge_sdk/pipeline/executors/worker.py) and its end of their socket."""

    def __init__(self, warmup: str | None) -> None:
        import edge_sdk

        ours, theirs = socket.socketpair()
        # the caller's import path, so the worker imports the same edge_sdk and the same plugins
        paths = [str(Path(edge_sdk.__file__).resolve().parents[1]), *(p for p in sys.path if p)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "edge_sdk.pipeline.executors.worker", str(theirs.fileno()), warmup or ""],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=env,
        )
        theirs.close()
        self.conn = Connection(os.dup(ours.fileno()))
        ours.close()
        self.job: _Job | None = None

    def alive(self) -> bool:
        return self.process.poll() is None

    def exitcode(self) -> int:
        """The exit code (negative: the signal that killed it), waiting briefly for a dying process."""
        try:
            return self.process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait()
        self.conn.close()


class LocalExecutor:
    def __init__(self, *, jobs: int = 1, timeout_s: float = 1800.0, warmup: str | None = None,
                 say: Callable[[str], None] = lambda _: None) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be at least 1, got {jobs}")
        self.jobs = jobs
        self._timeout_s = timeout_s
        self._warmup = warmup
        self._say = say
        # One worker warms up while the caller loads and checks the model; the others start with the
        # first task: N + 1 processes importing TensorFlow at once slowed the load that everything waits for.
        self._workers = [_Worker(warmup)]
        self._queue: deque[_Job] = deque()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._dispatch, name="edge-sdk-executor", daemon=True)
        self._thread.start()

    def submit(self, task: Task) -> "Future[TaskResult]":
        future: Future[TaskResult] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("executor is closed")
            self._queue.append(_Job(task, future, step_keys_of(task)))
            self._workers += [_Worker(self._warmup) for _ in range(self.jobs - len(self._workers))]
        return future

    def cancel(self, future: "Future[TaskResult]") -> None:
        """Drop a queued task, or kill the worker running it (its worker is replaced)."""
        with self._lock:
            for job in list(self._queue):
                if job.future is future:
                    self._queue.remove(job)
                    future.cancel()
                    return
            for worker in self._workers:
                if worker.job is not None and worker.job.future is future:
                    worker.job.cancelled = True

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for job in self._queue:
                job.future.cancel()
            self._queue.clear()
        self._thread.join()
        for worker in self._workers:
            if worker.job is None and worker.alive():
                try:
                    worker.conn.send(None)
                    worker.process.wait(timeout=STOP_GRACE_S)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            worker.kill()

    def describe(self) -> dict:
        return {"name": "local", "jobs": self.jobs, "nodes": [platform.node()]}

    def __enter__(self) -> "LocalExecutor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the dispatcher thread -------------------------------------------------------------------

    def _dispatch(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    for worker in self._workers:
                        if worker.job is not None:
                            worker.kill()
                            self._finish(worker, _failure(worker.job.task, "cancelled", "cancelled", "the build ended"))
                    return
                self._assign()
                busy = [w for w in self._workers if w.job is not None]
            if not busy:
                time.sleep(POLL_S)
                continue
            wait([w.conn for w in busy], timeout=POLL_S)  # a worker's death closes its socket: readable too
            with self._lock:
                for worker in busy:
                    self._watch(worker)

    def _assign(self) -> None:
        """Hand idle workers the first queued tasks that need no step a running task is computing."""
        for i, worker in enumerate(self._workers):
            if worker.job is not None:
                continue
            busy = computing(w.job.keys for w in self._workers if w.job is not None)
            job = next((j for j in self._queue if not j.keys & busy), None)
            if job is None:
                return
            if not worker.alive():
                worker.kill()
                worker = self._workers[i] = _Worker(self._warmup)
            self._queue.remove(job)
            if not job.future.set_running_or_notify_cancel():
                continue
            job.deadline = time.monotonic() + STARTUP_ALLOWANCE_S + self._timeout_s
            worker.conn.send(job.task)
            worker.job = job

    def _watch(self, worker: _Worker) -> None:
        job = worker.job
        assert job is not None
        dead = False
        try:
            while worker.conn.poll():
                kind, payload = worker.conn.recv()
                if kind == "start":
                    job.started = time.monotonic()
                    job.deadline = job.started + self._timeout_s
                elif kind == "say":
                    self._say(payload)
                elif kind == "done":
                    self._finish(worker, payload)
                    return
        except (EOFError, OSError):
            dead = True  # the worker died (mid-message or between): its exit code below says how
        if job.cancelled:
            self._replace(worker, _failure(job.task, "cancelled", "cancelled", "a decision made this candidate unnecessary"))
        elif dead or not worker.alive():
            code = worker.exitcode()
            if code < 0:
                name = signal.Signals(-code).name
                error = _failure(job.task, "signal", name, f"signal {-code} in {job.task.name}")
            else:
                error = _failure(job.task, "exit", f"exit {code}", f"the worker exited with code {code} in {job.task.name}")
            self._replace(worker, error)
        elif time.monotonic() > job.deadline:
            limit = f"{self._timeout_s:g} s"
            self._replace(worker, _failure(job.task, "timeout", "timeout",
                                           f"timed out after {limit} (--candidate-timeout); the worker was stopped"))

    def _replace(self, worker: _Worker, result: TaskResult) -> None:
        worker.kill()
        index = self._workers.index(worker)
        job = worker.job
        self._workers[index] = _Worker(self._warmup)
        worker.job = job
        self._finish(worker, result)

    def _finish(self, worker: _Worker, result: TaskResult) -> None:
        job = worker.job
        assert job is not None
        worker.job = None
        result = with_log_tail(result, job.task.log_path)
        if not result.wall_s and job.started:
            result = replace(result, wall_s=time.monotonic() - job.started)
        result = replace(result, runs=(Run(platform.node(), "finished"),))
        relay(job.task.log_path, job.task.name)
        if not job.future.done():
            job.future.set_result(result)


def _failure(task: Task, kind: str, type_: str, message: str) -> TaskResult:
    return TaskResult(error=TaskError(kind, type_, message, internal=False))
