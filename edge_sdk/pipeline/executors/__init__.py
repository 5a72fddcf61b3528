"""Executors run tasks and return futures of TaskResults; the search policy decides what to submit.

    inline   in the calling process, one at a time (tests, debugging: a crash takes the caller with it)
    local    a pool of worker processes (fresh interpreters) (`--jobs N`, default 1): a worker that dies on a signal
             or passes the per-candidate time limit ends that task as `failed` and is replaced
    ray      Ray tasks on a cluster (`ray` or `ray:ADDRESS`, extra [ray]; docs/scale.md): each runs in a local
             worker process on its node, as above; a task whose node is lost runs again elsewhere

An executor is made by `make_executor(spec, jobs=..., timeout_s=..., warmup=..., say=...)`; the spec is what
`--executor` and edge-sdk.yaml `executor:` accept: a registered name, optionally `:ADDRESS` for
executors that connect somewhere (`ray:10.0.0.5:6379`). `jobs=None`: the executor's own default (1
locally, the cluster's CPUs on Ray).
"""

from __future__ import annotations

from typing import Callable

from edge_sdk.contracts.task import Executor
from edge_sdk.errors import ConfigError
from edge_sdk.pipeline.executors import inline, local
from edge_sdk.registry import Registry

DEFAULT_EXECUTOR = "local"
DEFAULT_CANDIDATE_TIMEOUT_S = 1800.0  # 30 min: a trained rung of a real model on CPU takes minutes

EXECUTORS: Registry[Callable[..., Executor]] = Registry("executor")
EXECUTORS.register("inline")(inline.InlineExecutor)
EXECUTORS.register("local")(local.LocalExecutor)


@EXECUTORS.register("ray")
def _ray(**kwargs) -> Executor:
    from edge_sdk.pipeline.executors.ray_executor import RayExecutor

    return RayExecutor(**kwargs)


def parse_executor(spec: str) -> tuple[str, str | None]:
    """`name` or `name:ADDRESS` -> (name, address); an unknown name is the user's to fix."""
    name, _, address = spec.partition(":")
    if name not in EXECUTORS.names():
        raise ConfigError(f"--executor {spec!r}: expected one of {', '.join(EXECUTORS.names())} (ray takes ray:ADDRESS)")
    if address and name != "ray":
        raise ConfigError(f"--executor {spec!r}: only ray takes an address (ray:HOST:PORT)")
    return name, address or None


def make_executor(spec: str, *, jobs: int | None = None, timeout_s: float = DEFAULT_CANDIDATE_TIMEOUT_S,
                  warmup: str | None = None, say: Callable[[str], None] = lambda _: None) -> Executor:
    name, address = parse_executor(spec)
    extra = {"address": address} if address else {}
    return EXECUTORS.get(name)(jobs=jobs or (None if name == "ray" else 1), timeout_s=timeout_s, warmup=warmup,
                               say=say, **extra)
