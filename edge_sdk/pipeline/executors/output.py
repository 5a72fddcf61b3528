"""A task's own output: where its stdout/stderr go while it runs, and how it reaches build.log.

Third-party libraries print on file descriptors 1 and 2 (TensorFlow's C++ logs, a native crash's last
words); a task's are redirected into its own log file, whose tail is kept in a failed task's error and
whose whole text is appended to the build's log (the caller's fd 2: OUT/build.log under the CLI).
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from edge_sdk.contracts.task import TaskResult

TAIL_LINES = 30


@contextlib.contextmanager
def redirected_to(log_path: Path) -> Iterator[None]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log_path.open("ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def read_log(log_path: Path) -> str:
    """A task's log as text ("" when it wrote none)."""
    try:
        return log_path.read_text(errors="replace")
    except OSError:
        return ""


def tail(log_path: Path, lines: int = TAIL_LINES) -> str:
    return "\n".join(read_log(log_path).splitlines()[-lines:])


def with_log_tail(result: "TaskResult", log_path: Path) -> "TaskResult":
    """A failed result carries the last lines its task printed (a native crash's last words)."""
    if result.error is None or result.error.log_tail:
        return result
    return replace(result, error=replace(result.error, log_tail=tail(log_path)))


def relay(log_path: Path, title: str) -> None:
    """Append a finished task's log to this process's stderr (build.log), under a header."""
    text = read_log(log_path)
    if text.strip():
        sys.stderr.write(f"----- {title} -----\n{text.rstrip()}\n")
        sys.stderr.flush()
