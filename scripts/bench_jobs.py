"""Wall time of a Pareto build of the bundled example with `--jobs 1` vs `--jobs 2`, side by side.

    python scripts/bench_jobs.py [--runs 1] [--target cortex-m] [--json FILE]

Each run is a fresh `edge-sdk build --search pareto --no-cache` subprocess (every rung of the ladder is
built: the trained ones dominate), alternating jobs 1 and 2 so drift in machine load hits both alike.
Also checks that both give byte-identical artifacts. Goal on 2 cores: jobs 2 at least 1.5x faster.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench.pareto_build import artifact_hashes, parse_args, timed_build  # noqa: E402


def main() -> None:
    args = parse_args(__doc__)
    targets = args.target
    times: dict[int, list[float]] = {1: [], 2: []}
    identical = True
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            for jobs in (1, 2):
                times[jobs].append(timed_build(Path(tmp) / f"j{jobs}-{i}", targets, "--jobs", str(jobs)))
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
