"""Benchmark CLI start-up: `edge-sdk --help` and `edge-sdk profiles list`, each run N times as a fresh process.

Goals (issue 11), median wall time on an idle machine: `--help` < 0.3 s, `profiles list` < 0.4 s (the
commands must not import TensorFlow, torch or coremltools).
Prints median / p90 / min wall time per command (plus the median CPU time of the child process, which a
busy machine inflates less than wall time) and, with --json FILE, writes them as JSON.

    .venv/bin/python scripts/bench_cli.py [-n 10] [--json bench_cli.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {"--help": ["--help"], "profiles list": ["profiles", "list"]}
GOALS_S = {"--help": 0.3, "profiles list": 0.4}


def _entry_point() -> list[str]:
    """The installed console script next to this interpreter, else `python -m edge_sdk.cli`."""
    script = Path(sys.executable).with_name("edge-sdk")
    return [str(script)] if script.exists() else [sys.executable, "-m", "edge_sdk.cli"]


def _child_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_command(args: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each run."""
    wall, cpu = [], []
    for _ in range(runs):
        cpu_start, start = _child_cpu_s(), time.perf_counter()
        proc = subprocess.run(_entry_point() + args, capture_output=True, cwd=ROOT)
        wall.append(time.perf_counter() - start)
        cpu.append(_child_cpu_s() - cpu_start)
        if proc.returncode != 0:
            raise SystemExit(f"edge-sdk {' '.join(args)} exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
    return wall, cpu


def summarize(wall: list[float], cpu: list[float], goal_s: float) -> dict:
    ordered = sorted(wall)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    median = statistics.median(wall)
    return {"runs": len(wall), "median_s": median, "p90_s": p90, "min_s": ordered[0],
            "median_cpu_s": statistics.median(cpu), "goal_median_s": goal_s, "ok": median < goal_s}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=10, help="runs per command (default 10)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be >= 1")
    time_command(["--help"], 1)  # warm the OS file cache so run 1 is not an outlier
    results = {name: summarize(*time_command(cmd, args.runs), GOALS_S[name]) for name, cmd in COMMANDS.items()}
    print(f"{'command':<16}{'median':>10}{'p90':>10}{'min':>10}{'cpu':>10}{'goal':>8}")
    for name, r in results.items():
        verdict = "ok" if r["ok"] else "SLOW"
        print(f"{name:<16}{r['median_s']:>9.3f}s{r['p90_s']:>9.3f}s{r['min_s']:>9.3f}s{r['median_cpu_s']:>9.3f}s{'< ' + str(r['goal_median_s']):>8}  {verdict}")
    if hasattr(os, "getloadavg"):
        print(f"load average (1 min) {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    if args.json:
        doc = {"commands": results, "python": platform.python_version(), "machine": platform.machine(),
               "cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
