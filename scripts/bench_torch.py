"""Host benchmark of the PyTorch path: fp32 vs int8 XNNPACK .pte latency on the ExecuTorch runtime
(medians, ratio) and how long each export took.

    python scripts/bench_torch.py [--model examples/torch_digits/model.pt2]
        [--calibration calibration_data/digits_calibration.npz] [--runs 200] [--json FILE]

The int8 program is ptq (static, per-channel, calibrated) then lowered; "export_s" includes
quantization for int8. Latency is one inference at the program's deploy batch (1 for dynamic-batch
programs), after warm-up, measured with the ExecuTorch Python bindings on this machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "examples/torch_digits/model.pt2")
    parser.add_argument("--calibration", type=Path, default=ROOT / "calibration_data/digits_calibration.npz")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON to this file")
    args = parser.parse_args()

    import torch

    from edge_sdk.frameworks.torch.techniques.ptq import quantize
    from edge_sdk.data import load_dataset
    from edge_sdk.formats.base import ExportConfig
    from edge_sdk.formats.executorch.exporter import export
    from edge_sdk.formats.executorch.runner import host_latency_ms
    from edge_sdk.model import load_model
    from edge_sdk.profiles import get_profile

    model = load_model(args.model)
    calibration = load_dataset(args.calibration, model.inputs)
    profile = get_profile("android")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for precision in ("float32", "int8"):
            start = time.perf_counter()
            target = model if precision == "float32" else quantize(model, calibration, mode="int8")[0]
            art = export(target, profile, ExportConfig(precision=precision), Path(tmp) / precision)
            export_s = time.perf_counter() - start
            example = [torch.zeros(s["shape"], dtype=getattr(torch, s["dtype"])) for s in art.details["inputs"]]
            latency = host_latency_ms(art, example, runs=args.runs, warmup=10)
            rows.append({
                "precision": precision, "bytes": art.bytes, "latency_ms_p50": round(latency["p50"], 4),
                "latency_ms_min": round(latency["min"], 4), "export_s": round(export_s, 2),
                "delegation_coverage": art.details["delegation"]["coverage"], "runs": args.runs,
            })
    rows[1]["speedup_vs_fp32"] = round(rows[0]["latency_ms_p50"] / rows[1]["latency_ms_p50"], 3)
    rows[1]["size_vs_fp32"] = round(rows[1]["bytes"] / rows[0]["bytes"], 3)
    print(f"{'precision':<10} {'bytes':>8} {'p50 ms':>8} {'min ms':>8} {'export s':>9} {'coverage':>9}")
    for r in rows:
        print(f"{r['precision']:<10} {r['bytes']:>8} {r['latency_ms_p50']:>8.4f} {r['latency_ms_min']:>8.4f} "
              f"{r['export_s']:>9.2f} {r['delegation_coverage']:>9.4f}")
    print(f"int8 / fp32: latency ratio {1 / rows[1]['speedup_vs_fp32']:.3f} (speed-up {rows[1]['speedup_vs_fp32']}x), "
          f"size ratio {rows[1]['size_vs_fp32']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
