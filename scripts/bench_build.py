"""Wall time of `edge-sdk build` on the PTQ-only path vs a plain TFLiteConverter + LiteRT script.

    python scripts/bench_build.py [--runs 3] [--json FILE]

Both run as fresh subprocesses on the bundled digits model (so both pay the TensorFlow import), side
by side in one run; medians of N runs and their ratio. The build targets cortex-m (int8 PTQ is the
first rung there, accepted) with the build cache off; it additionally runs the TFLM interpreter,
measures the arena, writes model_data.cc, the harness and both reports. Goal (issue 11): ratio at most 1.3x.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "examples/digits/model.keras"
CAL = ROOT / "calibration_data/digits_calibration.npz"
EVAL = ROOT / "calibration_data/digits_eval.npz"
GOAL = 1.3


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    edge_sdk, plain = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):  # interleaved, so drift in machine load hits both alike
            plain.append(timed([sys.executable, str(ROOT / "scripts/bench/plain_ptq_script.py"), str(MODEL), str(CAL), str(EVAL), f"{tmp}/plain.tflite"]))
            edge_sdk.append(timed([sys.executable, "-m", "edge_sdk.cli", "build", "--model", str(MODEL), "--calibration", str(CAL),
                                   "--eval-data", str(EVAL), "--target", "cortex-m", "--out", f"{tmp}/out{i}", "--no-cache", "--quiet"]))
    rows = {"edge-sdk build (cortex-m, int8 PTQ)": edge_sdk, "plain TFLiteConverter + LiteRT": plain}
    ratio = statistics.median(edge_sdk) / statistics.median(plain)
    print(f"{'path':<40} {'median s':>9} {'min s':>7} {'max s':>7}")
    for name, times in rows.items():
        print(f"{name:<40} {statistics.median(times):>9.2f} {min(times):>7.2f} {max(times):>7.2f}")
    print(f"ratio (median edge-sdk / median plain): {ratio:.2f}x  (goal <= {GOAL}x)")
    if args.json:
        args.json.write_text(json.dumps({"runs": args.runs, "seconds": rows, "ratio": ratio, "goal": GOAL}, indent=2) + "\n")


if __name__ == "__main__":
    main()
