"""Run a command and read its stdout line by line with an overall and an idle timeout.

Used by every runner that talks to a device through a local program (the Python runner on the host,
`ssh`, `adb`). The child gets its own process group so a timeout kills it and everything it started.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from collections import deque
from pathlib import Path
from typing import Iterator, Sequence

from edge_sdk.devices.base import BenchConfig, interrupted
from edge_sdk.devices.protocol import RunCollector
from edge_sdk.errors import DeviceError

_EOF = object()


class StreamTimeout(Exception):
    pass


class LineProcess:
    def __init__(self, cmd: Sequence[str], env: dict | None = None, cwd: Path | None = None) -> None:
        self.cmd = list(cmd)
        try:
            self.proc = subprocess.Popen(
                self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, errors="replace", bufsize=1, env=env, cwd=cwd, start_new_session=True,
            )
        except OSError as exc:
            raise DeviceError(f"cannot start {self.cmd[0]}: {exc.strerror or exc}") from None
        self._lines: queue.Queue = queue.Queue()
        self.stderr_tail: deque[str] = deque(maxlen=30)
        threading.Thread(target=self._pump, args=(self.proc.stdout, self._lines.put, True), daemon=True).start()
        self._err = threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr_tail.append, False), daemon=True)
        self._err.start()

    @staticmethod
    def _pump(stream, sink, mark_eof: bool) -> None:
        for line in stream:
            sink(line.rstrip("\n"))
        if mark_eof:
            sink(_EOF)

    def lines(self, timeout_s: float, idle_timeout_s: float) -> Iterator[str]:
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise StreamTimeout(f"did not finish within {timeout_s:g} s")
            try:
                item = self._lines.get(timeout=min(left, idle_timeout_s))
            except queue.Empty:
                if time.monotonic() >= deadline:
                    raise StreamTimeout(f"did not finish within {timeout_s:g} s") from None
                raise StreamTimeout(f"sent nothing for {idle_timeout_s:g} s") from None
            if item is _EOF:
                return
            yield item

    def finish(self, grace_s: float = 5.0) -> int | None:
        """Exit status after stdout closed (killed if it lingers)."""
        try:
            return self.proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=5)

    def stderr_text(self) -> str:
        self._err.join(timeout=1)
        return " | ".join(l.strip() for l in self.stderr_tail if l.strip())[-400:]


def run_and_collect(cmd: Sequence[str], collector: RunCollector, config: BenchConfig, where: str,
                    env: dict | None = None, cwd: Path | None = None):
    """Stream the protocol from `cmd` into `collector`; BenchInterrupted (with partial runs) on failure."""
    proc = LineProcess(cmd, env=env, cwd=cwd)
    try:
        for line in proc.lines(config.timeout_s, config.idle_timeout_s):
            if collector.feed(line):
                break
    except StreamTimeout as exc:
        proc.kill()
        raise interrupted(collector.result(), f"{where} {exc} ({collector.progress()}){collector.context()}") from None
    except BaseException:
        proc.kill()
        raise
    rc = proc.finish()
    if not collector.done:
        err = proc.stderr_text()
        raise interrupted(
            collector.result(),
            f"{where}: connection closed before the benchmark finished ({collector.progress()}, exit status {rc})"
            + (f": {err}" if err else collector.context()),
        )
    return collector.result()
