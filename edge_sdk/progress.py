"""Progress lines from long work (a training epoch) to whoever shows them.

Training runs inside a task, usually in a worker process whose stdout is a log file, so a progress bar
there would be seen by nobody. Instead a technique reports one line per epoch with `report(...)`, and
the task's runner (`pipeline/evaluate.run_task`) routes them to the build's `say`: the CLI's terminal,
through the worker's pipe. Outside a task, `report` does nothing.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

_sink: Callable[[str], None] | None = None


def report(line: str) -> None:
    if _sink is not None:
        _sink(line)


@contextlib.contextmanager
def reporting_to(say: Callable[[str], None]) -> Iterator[None]:
    global _sink
    previous, _sink = _sink, say
    try:
        yield
    finally:
        _sink = previous
