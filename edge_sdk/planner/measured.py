"""Latencies `edge-sdk bench` measured on a device for artifacts a rebuild may produce again.

Builds are deterministic, so a rung rebuilt from the same model, data and seed is the same file (same
sha256) that was benchmarked after the last build. Its budget check then uses the measured median
instead of the estimate (issue 18): a tighter or looser `--latency-budget` is judged on the device's
number. Only measurements on the profile's own device count: a `--device host` run measures this
machine, not the target.
"""

from __future__ import annotations

import json
from pathlib import Path


def measured_latencies(folder: Path, profile: str) -> tuple[dict[str, float], list[str]]:
    """(artifact sha256 -> measured median ms, a line per bench.json that could not be used) from the
    bench.json files of a previous build's OUT/<profile>/ (the chosen artifact and pareto/<rung>/)."""
    found: dict[str, float] = {}
    skipped: list[str] = []
    for path in [folder / "bench.json", *sorted(folder.glob("pareto/*/bench.json"))]:
        if not path.is_file():
            continue
        try:
            doc = json.loads(path.read_text())
            bench, sha256 = doc["bench"], doc["artifact"]["sha256"]
            median = bench["latency_ms"].get("p50")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            skipped.append(f"{path}: unreadable ({type(exc).__name__}), not used")
            continue
        if doc.get("profile") != profile or bench.get("runner") == "host" or not bench.get("complete") or not median:
            continue
        found[sha256] = float(median)
    return found, skipped
