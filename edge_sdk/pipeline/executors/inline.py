"""The `inline` executor: each task runs in the calling process when submitted (tests, debugging).

No isolation: a native crash ends the caller, the time limit is not enforced, and the frameworks keep
the caller's thread pools (a `local` worker has one thread: trained bytes can differ). Use `local` for
builds; `inline` exists so a failing candidate can be stepped through in a debugger.
"""

from __future__ import annotations

import platform
from concurrent.futures import Future
from dataclasses import replace
from typing import Callable

from edge_sdk.contracts.task import Run, Task, TaskResult
from edge_sdk.pipeline.executors.output import redirected_to, relay, with_log_tail


class InlineExecutor:
    def __init__(self, *, jobs: int = 1, timeout_s: float = 0.0, warmup: str | None = None,
                 say: Callable[[str], None] = lambda _: None) -> None:
        self.jobs = 1
        self._say = say

    def submit(self, task: Task) -> "Future[TaskResult]":
        from edge_sdk.pipeline.evaluate import run_task

        future: Future[TaskResult] = Future()
        with redirected_to(task.log_path):
            result = run_task(task, self._say)
        result = with_log_tail(result, task.log_path)
        relay(task.log_path, task.name)
        future.set_result(replace(result, runs=(Run(platform.node(), "finished"),)))
        return future

    def cancel(self, future: "Future[TaskResult]") -> None:
        """Nothing runs in the background here."""

    def close(self) -> None:
        """Nothing to release."""

    def describe(self) -> dict:
        return {"name": "inline", "jobs": 1, "nodes": [platform.node()]}
