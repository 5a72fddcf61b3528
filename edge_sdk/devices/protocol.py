"""The JSON-lines protocol every emitted harness speaks (Python runner, Cortex-M UART, iOS), folded
into a `BenchResult`:

    {"event": "start", "runs": N, "warmup": W, ...}     a benchmark begins (anything before it is ignored)
    {"event": "run", "i": k, "us": 812.4}               one timed run ("ms" is accepted too)
    {"event": "done", "peak_rss_bytes": ..., "arena_bytes": ..., "ops": [...]}   ops: per-operator times, optional
    {"event": "error", "message": "..."}

Lines that are not JSON objects (boot banners, logs) are kept as context for error messages only.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from edge_sdk.devices.base import BenchConfig, interrupted, summarize
from edge_sdk.contracts.records import BenchResult


class RunCollector:
    def __init__(self, device: str, runner: str, artifact: str, config: BenchConfig) -> None:
        self.device, self.runner, self.artifact, self.config = device, runner, artifact, config
        self.started = False
        self.done = False
        self.samples_ms: list[float] = []
        self.start: dict[str, Any] = {}
        self.end: dict[str, Any] = {}
        self.log: deque[str] = deque(maxlen=20)

    def feed(self, line: str) -> bool:
        """Take one line; True once the benchmark is done. A device-side error raises BenchInterrupted."""
        line = line.strip()
        event = _parse(line)
        if event is None:
            if line:
                self.log.append(line)
            return self.done
        kind = event.get("event")
        if kind == "start":
            self.started, self.start, self.samples_ms = True, event, []
        elif kind == "run" and self.started:
            ms = float(event["us"]) / 1e3 if "us" in event else float(event["ms"])
            self.samples_ms.append(ms)
        elif kind == "done" and self.started:
            self.end, self.done = event, True
        elif kind == "error":
            raise interrupted(self.result(), f"{self.device}: the device reported: {event.get('message', '?')}")
        return self.done

    def progress(self) -> str:
        expected = self.start.get("runs", self.config.runs)
        return f"{len(self.samples_ms)} of {expected} runs finished"

    def context(self) -> str:
        return f" (last output: {self.log[-1][:200]})" if self.log else ""

    def result(self) -> BenchResult:
        extra = {k: v for k, v in self.end.items() if k not in ("event", "peak_rss_bytes", "arena_bytes", "ops")}
        return BenchResult(
            device=self.device,
            runner=self.runner,
            artifact=self.artifact,
            runs=len(self.samples_ms),
            warmup=int(self.start.get("warmup", self.config.warmup)),
            latency_ms=summarize(self.samples_ms),
            peak_memory_bytes=self.end.get("peak_rss_bytes"),
            arena_bytes=self.end.get("arena_bytes"),
            complete=self.done,
            raw={"start": {k: v for k, v in self.start.items() if k != "event"}, "done": extra,
                 "samples_ms": [round(s, 4) for s in self.samples_ms]},
            op_profile=self.end.get("ops"),
        )


def _parse(line: str) -> dict | None:
    if not line.startswith("{"):
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) and "event" in obj else None
