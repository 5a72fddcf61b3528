"""A MiniLM-shaped sentence encoder to android: the .pte the planner chooses against the fp32 .pte.

    python scripts/bench_transformer.py [--layers 6 --hidden 384 --heads 12 --vocab 30522 --seq 64]
                                        [--rounds 5 --runs 10] [--json FILE] [--work DIR]

The encoder is transformers' BertModel from a config (default sdpa attention, random init: size and
speed do not depend on training), mean-pooled and L2-normalized, exported the way users do it
(`torch.export` at batch 1, int64 `input_ids` and `attention_mask` [1, seq]). Token data: random ids
with 25-100% of each sequence real and the rest padding. Then, through the real CLI:

    edge-sdk build --target android --task embedding --min-fidelity cosine_min=0.99
                   --flash-budget <0.30 x the fp32 .pte>
    edge-sdk bench <fp32 dir> / <chosen dir> --device host --inputs eval.npz, alternated `--rounds` times

The fp32 .pte is ExecuTorch's stock export of the same program (XNNPACK partitioner, nothing else). Prints the chosen plan, bytes /
fp32, per-sentence minimum cosine (from report.json) and the medians of the interleaved runs with their
ratio; goals (issue 14): <= 0.30x bytes, cosine_min >= 0.99, >= 3x faster. `--json FILE` writes them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the zoo's encoder definition
GOAL_RATIO, GOAL_COSINE, GOAL_SPEEDUP = 0.30, 0.99, 3.0


def make_encoder(args, work: Path) -> tuple[Path, Path, Path]:
    """model.pt2, calibration.npz and eval.npz of the encoder in `work`."""
    import numpy as np
    import torch
    from transformers import BertConfig, BertModel

    from zoo.torch_seq import sentence_encoder

    torch.manual_seed(args.seed)
    config = BertConfig(vocab_size=args.vocab, hidden_size=args.hidden, num_hidden_layers=args.layers,
                        num_attention_heads=args.heads, intermediate_size=4 * args.hidden,
                        max_position_embeddings=max(512, args.seq), attn_implementation="sdpa")
    model = sentence_encoder(BertModel(config, add_pooling_layer=False)).eval()
    rng = np.random.default_rng(args.seed)

    def tokens(n: int) -> tuple[np.ndarray, np.ndarray]:
        ids = rng.integers(1000, args.vocab, size=(n, args.seq), dtype=np.int64)
        lengths = rng.integers(args.seq // 4, args.seq + 1, size=n)
        mask = (np.arange(args.seq)[None, :] < lengths[:, None]).astype(np.int64)
        ids[:, 0], ids[mask == 0] = 101, 0  # [CLS] first, [PAD] after the sentence
        return ids, mask

    ids, mask = tokens(args.calibration)
    program = torch.export.export(model, (torch.from_numpy(ids[:1]), torch.from_numpy(mask[:1])))
    torch.export.save(program, work / "model.pt2")
    np.savez(work / "calibration.npz", input_ids=ids, attention_mask=mask)
    eids, emask = tokens(args.eval)
    np.savez(work / "eval.npz", input_ids=eids, attention_mask=emask)
    return work / "model.pt2", work / "calibration.npz", work / "eval.npz"


def export_fp32(model: Path, out: Path) -> Path:
    """The fp32 .pte exported with ExecuTorch's stock settings (to_edge_transform_and_lower with the
    XNNPACK partitioner, nothing else)."""
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    out.mkdir(parents=True, exist_ok=True)
    program = to_edge_transform_and_lower(torch.export.load(model), partitioner=[XnnpackPartitioner()])
    path = out / "model.pte"
    path.write_bytes(program.to_executorch().buffer)
    return path


def cli(*args: str, timeout: float = 7200) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "edge_sdk.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def bench_ms(path: Path, inputs: Path, runs: int) -> list[float]:
    done = cli("bench", str(path), "--device", "host", "--runs", str(runs), "--warmup", "3", "--inputs", str(inputs),
               "--threads", "1", "--json", timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"bench {path} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)["bench"]["raw"]["samples_ms"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name, default in (("layers", 6), ("hidden", 384), ("heads", 12), ("vocab", 30522), ("seq", 64),
                          ("calibration", 64), ("eval", 32), ("rounds", 5), ("runs", 10), ("seed", 0)):
        p.add_argument(f"--{name}", type=int, default=default)
    p.add_argument("--json", type=Path)
    p.add_argument("--work", type=Path)
    args = p.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-transformer-"))
    work.mkdir(parents=True, exist_ok=True)
    model, calibration, evaluation = make_encoder(args, work)
    fp32 = export_fp32(model, work / "fp32")
    budget = int(GOAL_RATIO * fp32.stat().st_size)
    build = cli("build", "--model", str(model), "--calibration", str(calibration), "--eval-data", str(evaluation),
                "--target", "android", "--task", "embedding", "--min-fidelity", f"cosine_min={GOAL_COSINE}",
                "--flash-budget", str(budget), "--out", str(work / "out"), "--json")
    if build.returncode not in (0, 3):
        raise SystemExit(f"build failed (exit {build.returncode}):\n{build.stderr[-3000:]}")
    report_path = next((work / "out").glob("*/report.json"))
    report = json.loads(report_path.read_text())
    chosen = report_path.parent / report["artifacts"][0]["path"]
    accepted = next(a for a in report["attempts"] if a["name"] == report["plan"]["name"])
    cosine = ((accepted.get("quality") or {}).get("primary") or {}).get("value")
    fp32_ms, chosen_ms = [], []
    for _ in range(args.rounds):  # alternated, so both see the same machine state
        fp32_ms += bench_ms(fp32, evaluation, args.runs)
        chosen_ms += bench_ms(chosen, evaluation, args.runs)
    result = {
        "model": {k: getattr(args, k) for k in ("layers", "hidden", "heads", "vocab", "seq")},
        "feasible": report["feasible"], "plan": report["plan"]["name"],
        "fp32_bytes": fp32.stat().st_size, "chosen_bytes": chosen.stat().st_size,
        "bytes_ratio": round(chosen.stat().st_size / fp32.stat().st_size, 4), "cosine_min": cosine,
        "fp32_median_ms": round(statistics.median(fp32_ms), 3), "chosen_median_ms": round(statistics.median(chosen_ms), 3),
        "runs_each": len(fp32_ms),
    }
    result["speedup"] = round(result["fp32_median_ms"] / result["chosen_median_ms"], 3)
    result["goals_met"] = {"bytes <= 0.30x": result["bytes_ratio"] <= GOAL_RATIO,
                           "cosine_min >= 0.99": cosine is not None and cosine >= GOAL_COSINE,
                           "speedup >= 3x": result["speedup"] >= GOAL_SPEEDUP}
    print(f"{'plan':<22} {'bytes':>12} {'x fp32':>7} {'cosine_min':>10} {'median ms':>10}")
    print(f"{'fp32 (stock export)':<22} {result['fp32_bytes']:>12,} {1.0:>7.3f} {'-':>10} {result['fp32_median_ms']:>10.3f}")
    print(f"{result['plan']:<22} {result['chosen_bytes']:>12,} {result['bytes_ratio']:>7.3f} {cosine or 0:>10.4f} "
          f"{result['chosen_median_ms']:>10.3f}")
    print(f"speed-up {result['speedup']:.2f}x ({result['runs_each']} interleaved runs each, 1 thread, host); goals: "
          + ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in result["goals_met"].items()))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
