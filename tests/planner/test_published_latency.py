"""The yardstick of scripts/bench_estimates.py: every published latency it scores traces to a pinned
source line, and the latency is what that line's throughput gives."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import bench_estimates  # noqa: E402


def test_the_scored_pairs_are_four_models_on_three_boards_each_with_a_pinned_source():
    measurements = json.loads(bench_estimates.PUBLISHED.read_text())["measurements"]
    pairs = bench_estimates.cpu_only_tflm(measurements)
    assert len(pairs) >= 12
    assert {m["model"] for m in pairs} == set(bench_estimates.mlperf_tiny.MODELS)
    assert {m["device"] for m in pairs} == set(bench_estimates.BOARDS)
    for m in pairs:
        assert re.search(r"/blob/[0-9a-f]{40}/", m["source"]), m["source"]
        throughput = float(re.search(r"Median throughput is ([0-9.]+) inf\./sec", m["quote"]).group(1))
        assert abs(m["latency_ms"] - 1000 / throughput) < 0.01, m
