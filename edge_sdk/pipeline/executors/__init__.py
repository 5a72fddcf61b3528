"""Executors run tasks and return futures of TaskResults; the search policy decides what to submit.

    inline   in the calling process, one at a time (tests, debugging: a crash takes the caller with it)
    local    a pool of worker processes (fresh interpreters) (`--jobs N`, default 1): a worker that dies on a signal
             or passes the per-candidate time limit ends that task as `failed` and is replaced

An executor is made by `make_executor(name, jobs=..., timeout_s=..., warmup=..., say=...)`; the names
are what `--executor` and edge-sdk.yaml `executor:` accept.
"""

from __future__ import annotations

from typing import Callable

from edge_sdk.contracts.task import Executor
from edge_sdk.pipeline.executors import inline, local
from edge_sdk.registry import Registry

DEFAULT_EXECUTOR = "local"
DEFAULT_CANDIDATE_TIMEOUT_S = 1800.0  # 30 min: a trained rung of a real model on CPU takes minutes

EXECUTORS: Registry[Callable[..., Executor]] = Registry("executor")
EXECUTORS.register("inline")(inline.InlineExecutor)
EXECUTORS.register("local")(local.LocalExecutor)


def make_executor(name: str, *, jobs: int = 1, timeout_s: float = DEFAULT_CANDIDATE_TIMEOUT_S,
                  warmup: str | None = None, say: Callable[[str], None] = lambda _: None) -> Executor:
    return EXECUTORS.get(name)(jobs=jobs, timeout_s=timeout_s, warmup=warmup, say=say)
