"""Compression benchmark on the bundled digits example: one row per technique, measured on the real
runtime (every .tflite runs in LiteRT on calibration_data/digits_eval.npz).

    python scripts/bench_compress.py [--json FILE] [--seed 0] [--only TECHNIQUE ...]

Columns: wall time of the technique (training included) and export, exported .tflite bytes, gzip -9
bytes, parameters in the exported conv/dense ops, accuracy (points) and drop vs the fp32 .tflite.
Fine-tuning is label-free (teacher = the original model) except distillation, which also uses the
training labels. `--json FILE` writes the rows as a list of
{technique, params, bytes, gzip_bytes, accuracy, drop, wall_s}.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# name -> (technique steps with config, labelled training data?)
PLANS: dict[str, tuple[list[tuple[str, dict]], bool]] = {
    "ptq-int8": ([], False),
    "qat-int8": ([("qat", {})], False),
    "prune80-qat-int8": ([("prune", {"sparsity": 0.8, "qat": True})], False),
    "cluster16-qat-int8": ([("cluster", {"clusters": 16, "qat": True})], False),
    "lowrank-int8": ([("lowrank", {"param_ratio": 0.45})], False),
    "tucker2-int8": ([("decompose", {"method": "tucker2", "macs_ratio": 0.5})], False),
    "cp-int8": ([("decompose", {"method": "cp", "macs_ratio": 0.5})], False),
    "distill0.5-int8": ([("distill", {"width": 0.5})], True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the rows to this file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="+", choices=sorted(PLANS), help="these techniques (and fp32) only")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    from rich.console import Console
    from rich.table import Table

    from edge_sdk import load_dataset, load_model
    from edge_sdk.frameworks.keras.techniques import measure
    from edge_sdk.techniques.base import TechniqueData
    from edge_sdk.techniques.dispatch import apply_step
    from edge_sdk.frameworks.keras.techniques.ptq import QuantSpec, convert_to_tflite
    from edge_sdk.data import Dataset
    from edge_sdk.units import gzip_bytes

    data_dir = ROOT / "calibration_data"
    model = load_model(ROOT / "examples/digits/model.keras")
    calibration = load_dataset(data_dir / "digits_calibration.npz", model.inputs)
    train = load_dataset(data_dir / "digits_train.npz", model.inputs, purpose="training")
    evaluation = load_dataset(data_dir / "digits_eval.npz", model.inputs, purpose="eval")

    def row(name: str, flatbuffer: bytes, wall: float, reference: float | None) -> dict:
        accuracy = measure.tflite_accuracy(flatbuffer, evaluation)
        return {
            "technique": name,
            "params": measure.tflite_params(flatbuffer),
            "bytes": len(flatbuffer),
            "gzip_bytes": gzip_bytes(flatbuffer),
            "accuracy": round(accuracy, 2),
            "drop": round((reference if reference is not None else accuracy) - accuracy, 2),
            "wall_s": round(wall, 1),
        }

    start = time.perf_counter()
    fp32, _ = convert_to_tflite(model.handle, QuantSpec("float32"))
    rows = [row("fp32", fp32, time.perf_counter() - start, None)]
    reference = rows[0]["accuracy"]
    for name, (steps, labelled) in PLANS.items():
        if args.only and name not in args.only:
            continue
        start = time.perf_counter()
        data = TechniqueData(
            train=train if labelled else Dataset(train.inputs, None, train.source),
            calibration=calibration,
            teacher=model,
            eval=evaluation,
        )
        current = model
        for technique, config in steps:
            current, _record = apply_step(technique, current, data, {"seed": args.seed, "progress": False, **config})
        flatbuffer, _ = convert_to_tflite(current.handle, QuantSpec("int8", "int8"), calibration)
        rows.append(row(name, flatbuffer, time.perf_counter() - start, reference))
        print(f"{name}: done", flush=True)

    table = Table(title="edge-sdk compression on digits (LiteRT, digits_eval.npz)")
    for column in ("technique", "params", "bytes", "gzip_bytes", "accuracy", "drop", "wall_s"):
        table.add_column(column, justify="left" if column == "technique" else "right")
    for r in rows:
        table.add_row(*(str(r[c]) for c in ("technique", "params", "bytes", "gzip_bytes", "accuracy", "drop", "wall_s")))
    Console().print(table)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
