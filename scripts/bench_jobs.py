"""Wall time of a Pareto build of the bundled example with `--jobs 1` vs `--jobs 2`, side by side.

    python scripts/bench_jobs.py [--runs 1] [--target cortex-m] [--json FILE]

Each run is a fresh `edge-sdk build --search pareto --no-cache` subprocess (every rung of the ladder is
built: the trained ones dominate), alternating jobs 1 and 2 so drift in machine load hits both alike.
Also checks that both give byte-identical artifacts. Goal on 2 cores: jobs 2 at least 1.5x faster.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples/digits"


def build(out: Path, jobs: int, targets: list[str]) -> float:
    cmd = [sys.executable, "-m", "edge_sdk.cli", "build", "--model", str(EXAMPLE / "model.keras"),
           "--calibration", str(ROOT / "calibration_data/digits_calibration.npz"),
           "--train-data", str(ROOT / "calibration_data/digits_train.npz"),
           "--eval-data", str(ROOT / "calibration_data/digits_eval.npz"),
           "--search", "pareto", "--no-cache", "--quiet", "--jobs", str(jobs), "--out", str(out)]
    for t in targets:
        cmd += ["--target", t]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 3):
        sys.exit(f"build failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return elapsed


def artifact_hashes(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file() and p.name not in ("report.json", "report.html", "build.log", "index.html")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--target", action="append", help="target(s) to build (default: cortex-m)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    targets = args.target or ["cortex-m"]
    times: dict[int, list[float]] = {1: [], 2: []}
    identical = True
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            for jobs in (1, 2):
                times[jobs].append(build(Path(tmp) / f"j{jobs}-{i}", jobs, targets))
            identical &= artifact_hashes(Path(tmp) / f"j1-{i}") == artifact_hashes(Path(tmp) / f"j2-{i}")
    ratio = statistics.median(times[1]) / statistics.median(times[2])
    print(f"Pareto build of the digits example for {', '.join(targets)} ({args.runs} run(s) each)")
    print(f"{'jobs':<6} {'median s':>9} {'min s':>7} {'max s':>7}")
    for jobs, t in times.items():
        print(f"{jobs:<6} {statistics.median(t):>9.1f} {min(t):>7.1f} {max(t):>7.1f}")
    print(f"speed-up (median jobs 1 / median jobs 2): {ratio:.2f}x  (goal >= 1.5x on 2 cores); "
          f"artifacts byte-identical: {identical}")
    if args.json:
        args.json.write_text(json.dumps({"targets": targets, "runs": args.runs, "seconds": times, "speedup": ratio,
                                         "goal": 1.5, "byte_identical": identical}, indent=2) + "\n")
    if not identical:
        sys.exit("jobs 1 and jobs 2 artifacts differ")


if __name__ == "__main__":
    main()
