"""What scripts/bench_jobs.py and scripts/bench_scale.py share: a fresh, timed `edge-sdk build --search
pareto --no-cache` subprocess of the bundled example (every rung built: the trained ones dominate),
the files it shipped by sha256, and their common arguments."""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "examples/digits/model.keras"
DATA = {flag: ROOT / f"calibration_data/digits_{name}.npz"
        for flag, name in (("--calibration", "calibration"), ("--train-data", "train"), ("--eval-data", "eval"))}


def timed_build(out: Path, targets: list[str], *options: str) -> float:
    """Seconds for the build with `options` (`--jobs 2`, `--executor ray:...`); exits on a failed build."""
    cmd = [sys.executable, "-m", "edge_sdk.cli", "build", "--model", str(MODEL),
           *(a for flag, path in DATA.items() for a in (flag, str(path))),
           "--search", "pareto", "--no-cache", "--quiet", "--out", str(out), *options,
           *(a for t in targets for a in ("--target", t))]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 3):
        sys.exit(f"build failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return elapsed


def artifact_hashes(out: Path) -> dict[str, str]:
    """Every shipped file's sha256 (reports, logs and the index aside: they hold timings)."""
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file() and p.name not in ("report.json", "report.html", "build.log", "index.html")}


def parse_args(doc: str) -> argparse.Namespace:
    """--runs, --target (default cortex-m: 13 rungs, 9 trained), --json."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--target", action="append", help="target(s) to build (default: cortex-m)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    args.target = args.target or ["cortex-m"]
    return args
