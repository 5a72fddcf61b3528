"""The task graph's dependency edge: tasks that need the same trained step must not run side by side.

Two tasks sharing a step (QAT of one model for two targets, prune-50 under two precisions) would
otherwise both start it; the second then waits on the build cache's lock for the whole training,
holding a worker. Executors instead keep such a task queued until no running task computes a step
it needs; it then runs and finds the step in the cache. The keys are the build-cache keys of every
prefix of the task's chain of steps, computed from the Task alone (`evaluate.step_keys`).
"""

from __future__ import annotations

from typing import Iterable

from edge_sdk.contracts.task import Task


def step_keys_of(task: Task) -> frozenset[str]:
    from edge_sdk.pipeline.evaluate import step_keys

    return frozenset(step_keys(task.model.sha256, task.data.train.fingerprint, task.candidate.steps, task.seed,
                               task.output_kinds))


def computing(running: Iterable[frozenset[str]]) -> frozenset[str]:
    """Every step key some running task may be computing."""
    return frozenset().union(*running)
