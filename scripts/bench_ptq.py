"""PTQ quality over the conformance zoo: per classification CNN, plain converter int8 beside the best
untrained int8 rung (int8-cle, int8-tuned, int8-mixed, int8-dense-per-tensor), both from the same
build.

    python scripts/bench_ptq.py [--models a,b] [--target android] [--json FILE]   # runs scripts/zoo.py
    python scripts/bench_ptq.py --from zoo.json [--json FILE]                       # reads a finished run

The builds are `scripts/zoo.py --untrained-only` (every untrained rung through the real CLI, `--search
pareto`, so each rung is measured on eval data by its output's metric). Prints one row per model and
target: plain int8's fidelity and bytes / fp32, the best int8 rung's, and dynamic-int8's for reference;
then the median of the best int8 rung over the classification models (goal >= 0.985) and the largest
best-rung size ratio (goal <= 0.30x). Embedding encoders (BERT) get their own rows: dynamic-int8 with
8-bit and with 4-bit tables, per-sentence minimum cosine and bytes / fp32 (goals >= 0.99, <= 0.30x).
`--json FILE` writes the rows and the summary.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INT8_RUNGS = ("int8", "int8-cle", "int8-tuned", "int8-mixed", "int8-dense-per-tensor")
NOT_CNNS = {"k_gru", "k_gru_tf_keras", "t_lstm", "t_vit_tiny"}  # the zoo's recurrent and transformer classifiers
TOP1 = ("top1", "top1_agreement")  # older matrices name it top1
ENCODER_RUNGS = ("dynamic-int8", "dynamic-int8-emb4")
GOAL_MEDIAN, GOAL_RATIO, GOAL_COSINE = 0.985, 0.30, 0.99


def _run_zoo(args) -> dict:
    out = Path(tempfile.mkdtemp(prefix="bench-ptq-")) / "zoo.json"
    cmd = [sys.executable, str(ROOT / "scripts" / "zoo.py"), "--untrained-only", "--targets", args.target, "--json", str(out)]
    if args.models:
        cmd += ["--models", args.models]
    subprocess.run(cmd, cwd=ROOT, check=False)
    if not out.is_file():
        raise SystemExit(f"scripts/zoo.py wrote no matrix ({' '.join(cmd)})")
    return json.loads(out.read_text())


def rows_of(matrix: dict) -> list[dict]:
    rows = []
    for row in matrix["rows"]:
        rungs = {r["rung"]: r for r in row.get("rungs", []) if r.get("value") is not None}
        measured = [rungs[n] for n in INT8_RUNGS if n in rungs]
        if row["model"] in NOT_CNNS or "int8" not in rungs or rungs["int8"]["metric"] not in TOP1:
            continue
        best = max(measured, key=lambda r: (r["value"], -(r["bytes"] or 0)))
        fp32 = (rungs["fp32"]["bytes"] if "fp32" in rungs else row.get("fp32_bytes")) or 0

        def ratio(r):
            return round(r["bytes"] / fp32, 3) if fp32 and r.get("bytes") else None

        dynamic = rungs.get("dynamic-int8")
        rows.append({
            "model": row["model"], "target": row["target"], "metric": rungs["int8"]["metric"],
            "int8": rungs["int8"]["value"], "int8_ratio": ratio(rungs["int8"]),
            "best_rung": best["rung"], "best": best["value"], "best_ratio": ratio(best),
            "dynamic_int8": dynamic["value"] if dynamic else None,
        })
    return rows


def encoder_rows(matrix: dict) -> list[dict]:
    """Per embedding model and target: each dynamic-int8 rung's per-sample minimum cosine and bytes / fp32."""
    rows = []
    for row in matrix["rows"]:
        rungs = {r["rung"]: r for r in row.get("rungs", []) if r.get("metric") == "cosine_min" and r.get("bytes")}
        fp32 = row.get("fp32_bytes")
        for name in ENCODER_RUNGS:
            if name in rungs and fp32:
                rows.append({"model": row["model"], "target": row["target"], "rung": name, "cosine_min": rungs[name]["value"],
                             "ratio": round(rungs[name]["bytes"] / fp32, 3)})
    return rows


def summary(all_rows: list[dict]) -> dict:
    """Medians over models (one row each: android's where the run built several targets)."""
    per_model: dict[str, dict] = {}
    for r in sorted(all_rows, key=lambda r: r["target"] != "android"):
        per_model.setdefault(r["model"], r)
    rows = list(per_model.values())
    best = [r["best"] for r in rows]
    ratios = [r["best_ratio"] for r in rows if r["best_ratio"] is not None]
    return {
        "models": len(rows),
        "median_int8": round(statistics.median(r["int8"] for r in rows), 4) if rows else None,
        "median_best_int8_rung": round(statistics.median(best), 4) if rows else None,
        "max_best_ratio": max(ratios) if ratios else None,
        "goal_median": GOAL_MEDIAN, "goal_ratio": GOAL_RATIO,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, help="a scripts/zoo.py --json file to summarise")
    parser.add_argument("--models", help="comma-separated zoo models (default: all)")
    parser.add_argument("--target", default="android", help="families to build for (default: android)")
    parser.add_argument("--json", type=Path, help="write rows and summary here")
    args = parser.parse_args()
    matrix = json.loads(args.source.read_text()) if args.source else _run_zoo(args)
    rows = rows_of(matrix)

    from rich.console import Console
    from rich.table import Table

    table = Table(title="PTQ over the zoo's classification models (top-1 agreement with fp32 on eval)")
    for col in ("model", "target", "int8", "x fp32", "best int8 rung", "value", "x fp32 ", "dynamic-int8"):
        table.add_column(col)
    fmt = lambda v: "-" if v is None else f"{v:.4g}"  # noqa: E731
    for r in rows:
        table.add_row(r["model"], r["target"], fmt(r["int8"]), fmt(r["int8_ratio"]), r["best_rung"], fmt(r["best"]),
                      fmt(r["best_ratio"]), fmt(r["dynamic_int8"]))
    Console().print(table)
    doc = summary(rows)
    print(f"median plain int8 {doc['median_int8']}; median best int8 rung {doc['median_best_int8_rung']} "
          f"(goal >= {GOAL_MEDIAN}); largest best-rung size {doc['max_best_ratio']}x fp32 (goal <= {GOAL_RATIO}x)")
    encoders = encoder_rows(matrix)
    if encoders:
        table = Table(title="Embedding encoders, dynamic int8 (per-sample minimum cosine with fp32 on eval)")
        for col in ("model", "target", "rung", "cosine_min", "x fp32"):
            table.add_column(col)
        for r in encoders:
            table.add_row(r["model"], r["target"], r["rung"], fmt(r["cosine_min"]), fmt(r["ratio"]))
        Console().print(table)
        print(f"encoders: goal cosine_min >= {GOAL_COSINE} at <= {GOAL_RATIO}x fp32 bytes")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "encoders": encoders, "summary": doc}, indent=2) + "\n")


if __name__ == "__main__":
    main()
