"""The `ray` executor on a local two-node Ray cluster against `--executor local --jobs 1`, side by side.

    python scripts/bench_scale.py [--runs 1] [--target cortex-m] [--json FILE]

1. Wall time: a fresh `edge-sdk build --search pareto --no-cache` subprocess of the bundled example
   (cortex-m: 13 rungs, 9 of them trained), alternating local --jobs 1 and ray so drift in machine load
   hits both alike; also checks byte-identical artifacts. Goal on 2 cores: ray at least 1.6x faster.
2. Scheduling overhead per task: a build whose every candidate is already in the build cache (each
   task only restores its stored attempt: a trivial task through the real path), `--jobs 1`, in this
   process; per task, the driver's round trip (submit to result) minus the time the task itself took
   on its node. Goal: median under 1 s.

The cluster (tests/pipeline/ray_cluster.py): `ray start --head` with 1 CPU plus a worker node with 1
CPU, both on 127.0.0.1, Ray's default health checks, stopped at the end.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from bench.pareto_build import DATA, MODEL, artifact_hashes, parse_args, timed_build  # noqa: E402
from tests.pipeline.ray_cluster import LOOPBACK_ENV, LocalRayCluster  # noqa: E402

os.environ.update(LOOPBACK_ENV)  # before Ray is imported here: keep the cluster's 127.0.0.1 address


def rungs(out: Path) -> tuple[int, int]:
    """(candidates built, of them trained) over the build's reports."""
    attempts = [a for p in out.glob("*/report.json") for a in json.loads(p.read_text())["attempts"] if a["artifact"]]
    return len(attempts), sum(1 for a in attempts if any(s["technique"] != "export" for s in a["steps"]))


def overhead(address: str, work: Path, targets: list[str]) -> list[float]:
    """Per task: round trip in the driver minus the task's own time on its node, over cached tasks."""
    import edge_sdk
    from edge_sdk.cache import StepCache
    from edge_sdk.pipeline.executors import ray_executor

    def one_build(out: Path) -> None:
        edge_sdk.build(str(MODEL), targets, calibration=str(DATA["--calibration"]), train_data=str(DATA["--train-data"]),
                       eval_data=str(DATA["--eval-data"]), out=out, search="pareto", cache=StepCache(work / "cache"),
                       executor=f"ray:{address}", jobs=1, quiet=True)

    one_build(work / "fill")  # every attempt into the cache
    rounds: list[float] = []
    submit = ray_executor.RayExecutor.submit

    def timed(self, task):
        start = time.perf_counter()
        future = submit(self, task)
        future.add_done_callback(lambda f: rounds.append(time.perf_counter() - start - f.result().wall_s)
                                 if not f.cancelled() else None)
        return future

    ray_executor.RayExecutor.submit = timed
    try:
        one_build(work / "cached")
    finally:
        ray_executor.RayExecutor.submit = submit
    return rounds


def main() -> None:
    args = parse_args(__doc__)
    targets = args.target

    cluster = LocalRayCluster(fast_failure_detection=False)  # as a user starts one
    times: dict[str, list[float]] = {"local": [], "ray": []}
    identical = True
    try:
        cluster.start_head(cpus=1)
        cluster.add_node(cpus=1, resource="node_b")
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(args.runs):
                for name, options in (("local", ("--executor", "local", "--jobs", "1")),
                                      ("ray", ("--executor", f"ray:{cluster.address}"))):
                    times[name].append(timed_build(Path(tmp) / f"{name}-{i}", targets, *options))
                identical &= artifact_hashes(Path(tmp) / f"local-{i}") == artifact_hashes(Path(tmp) / f"ray-{i}")
            built, trained = rungs(Path(tmp) / "local-0")
            per_task = overhead(cluster.address, Path(tmp), targets)
    finally:
        cluster.stop()
    local, ray = statistics.median(times["local"]), statistics.median(times["ray"])
    ratio = local / ray
    median_overhead = statistics.median(per_task)
    print(f"{'executor':<28} {'median s':>9}  runs")
    print(f"{'local --jobs 1':<28} {local:>9.1f}  {times['local']}")
    print(f"{'ray (2 nodes x 1 CPU)':<28} {ray:>9.1f}  {times['ray']}")
    print(f"candidates built: {built} ({trained} trained); speed-up local/ray: {ratio:.2f}x (goal >= 1.6x on 2 cores); "
          f"artifacts byte-identical: {identical}")
    print(f"scheduling overhead per task ({len(per_task)} cached tasks): median {median_overhead:.3f} s, "
          f"max {max(per_task):.3f} s (goal: under 1 s)")
    if args.json:
        args.json.write_text(json.dumps({
            "targets": targets, "runs": args.runs, "seconds": times, "speedup": ratio, "goal_speedup": 1.6,
            "candidates": built, "trained": trained, "byte_identical": identical,
            "overhead_s": {"median": median_overhead, "max": max(per_task), "tasks": len(per_task), "goal": 1.0},
        }, indent=2) + "\n")
    if not identical:
        sys.exit("local and ray artifacts differ")


if __name__ == "__main__":
    main()
