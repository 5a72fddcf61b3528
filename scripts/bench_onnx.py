"""ONNX export for TensorRT (issue 15's benchmark): a MobileNetV2 (Keras applications, 224x224, weights
from a seeded init: size and time do not depend on training) to fp32 ONNX and to int8 Q/DQ calibrated on
`--samples` images, through the `onnx` format's exporter.

    python scripts/bench_onnx.py [--alpha 1.0] [--samples 32] [--rounds 3] [--json FILE]

Prints seconds per export (median of `--rounds`, fp32 and int8 interleaved), bytes and the int8 / fp32
ratio; goals: export + Q/DQ calibration under 60 s on 2 cores, int8 at most 0.30x the fp32 bytes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GOAL_SECONDS, GOAL_RATIO = 60.0, 0.30


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--alpha", type=float, default=1.0)
    p.add_argument("--samples", type=int, default=32)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)

    import numpy as np

    from edge_sdk import deps, get_profile
    from edge_sdk.data import load_dataset
    from edge_sdk.formats import FORMATS, ExportConfig
    from edge_sdk.model import load_model

    keras = deps.tf_keras()
    keras.utils.set_random_seed(0)
    model = load_model(keras.applications.MobileNetV2(input_shape=(224, 224, 3), alpha=args.alpha, weights=None))
    images = np.random.default_rng(0).uniform(-1, 1, (args.samples, 224, 224, 3)).astype(np.float32)
    calibration = load_dataset({model.inputs[0].name: images}, model.inputs)
    profile, seconds, sizes = get_profile("jetson"), {"float32": [], "int8": []}, {}
    with tempfile.TemporaryDirectory(prefix="bench-onnx-") as tmp:
        for r in range(args.rounds):
            for precision in ("float32", "int8"):
                config = ExportConfig(precision=precision, calibration=calibration, max_calibration_samples=args.samples)
                start = time.perf_counter()
                art = FORMATS.get("onnx")(model, profile, config, Path(tmp) / f"{precision}{r}")
                seconds[precision].append(time.perf_counter() - start)
                sizes[precision] = art.bytes
    result = {
        "model": f"MobileNetV2 alpha {args.alpha} 224x224", "calibration_samples": args.samples, "rounds": args.rounds,
        "fp32_s": round(statistics.median(seconds["float32"]), 2), "int8_s": round(statistics.median(seconds["int8"]), 2),
        "fp32_bytes": sizes["float32"], "int8_bytes": sizes["int8"],
        "ratio": round(sizes["int8"] / sizes["float32"], 4),
    }
    result["goals_met"] = {"int8 export + calibration < 60 s": result["int8_s"] < GOAL_SECONDS,
                           "int8 <= 0.30x fp32 bytes": result["ratio"] <= GOAL_RATIO}
    print(f"{'precision':<10} {'median s':>9} {'bytes':>12}")
    print(f"{'float32':<10} {result['fp32_s']:>9.2f} {result['fp32_bytes']:>12,}")
    print(f"{'int8 Q/DQ':<10} {result['int8_s']:>9.2f} {result['int8_bytes']:>12,}  ({result['ratio']:.3f}x)")
    print("goals: " + ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in result["goals_met"].items()))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
