"""Run the conformance zoo matrix through the real CLI: every zoo model x the default profile of
each family it is built for x every rung of its ladder (`--search pareto` evaluates them all).

    python scripts/zoo.py [--models a,b] [--targets android,cortex-m] [--untrained-only] [--epochs 1]
                          [--json FILE] [--markdown docs/zoo.md] [--jobs N] [--timeout 1800] [--seed 0]

Per model: `python -m zoo make` (cached by content, see zoo/cache.py) in its own process; per model x
target: `edge-sdk plan --save` -> drop the rungs that train (`--untrained-only`, or a model whose
registry entry has trained_rungs=False) and cap their epochs (`--epochs`) -> `edge-sdk build --plan
... --search pareto --json`, one subprocess each with a time limit. A `.tflite` model (the SDK only
inspects that format) gets `edge-sdk inspect --target` instead; a written Cortex-M artifact gets
`edge-sdk bench --device host`. Prints the table and a summary: exit-code counts (1, signals and
timeouts loudly), rung statuses per family, host bench failures, every failed rung's reason. Exits 1
when any build exited 1, died on a signal or timed out, a host bench failed, or a generator failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zoo import REGISTRY  # noqa: E402
from zoo import matrix  # noqa: E402

FAMILIES = ("android", "ios", "cortex-m", "jetson")


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def _run(cmd: list[str], timeout: float, log: Path) -> tuple[int | None, bool, str, float]:
    """(returncode, timed_out, stdout, wall_s); stderr goes to `log`."""
    t0 = time.monotonic()
    with open(log, "ab") as err:
        err.write(("\n$ " + " ".join(cmd) + "\n").encode())
        err.flush()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=_env(), cwd=ROOT, start_new_session=True)
        try:
            out, _ = p.communicate(timeout=timeout)
            return p.returncode, False, out.decode(errors="replace"), round(time.monotonic() - t0, 1)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)  # the build and its worker processes
            out, _ = p.communicate()
            return None, True, out.decode(errors="replace"), round(time.monotonic() - t0, 1)
        except BaseException:  # interrupted: leave no build running behind us
            os.killpg(p.pid, signal.SIGKILL)
            raise


_NOISE = ("$ ", "WARNING: All log", "To enable the following")
_GLOG = re.compile(r"^[IWEF]\d{4} ")  # absl / glog lines: I0000 ..., W1126 ...


def _tail(log: Path, n: int = 6) -> str:
    """The last lines of a log that are not the echoed command or TensorFlow / absl start-up noise."""
    lines = [ln for ln in log.read_text(errors="replace").splitlines()
             if ln.strip() and not ln.startswith(_NOISE) and not _GLOG.match(ln) and "cuda" not in ln.lower()][-n:]
    return " | ".join(lines)[-600:]


def generate(name: str, args, log: Path) -> dict | None:
    cmd = [sys.executable, "-m", "zoo", "make", name, "--seed", str(args.seed)]
    if args.zoo_dir:
        cmd += ["--root", args.zoo_dir]
    code, timed_out, out, wall = _run(cmd, args.gen_timeout, log)
    if code != 0:
        print(f"!!! generator {name}: exit {matrix.exit_label(code, timed_out)} after {wall} s: {_tail(log)}", flush=True)
        return None
    return json.loads(out.strip().splitlines()[-1])


def build_one(zm: dict, entry, family: str, args, work: Path) -> dict:
    cli = [sys.executable, "-m", "edge_sdk.cli"]
    out = work / f"{zm['name']}-{family}"
    log = work / f"{zm['name']}-{family}.log"
    row = {"model": zm["name"], "framework": zm["framework"], "task": zm["task"], "target": family, "rungs": []}
    if not entry.build:  # the SDK inspects .tflite; a build must refuse it with exit 2 and one line
        code, timed_out, stdout, wall = _run(cli + ["inspect", zm["model"], "--target", family, "--json"], args.timeout, log)
        row.update(exit=matrix.exit_label(code, timed_out), wall_s=wall, plan="inspect only")
        if code == 0:
            fit = json.loads(stdout).get("fit") or {}
            dtypes = [d.get("dtype") for d in fit.get("unsupported_dtypes", [])]
            row["note"] = (f"inspect: format {fit.get('format')}, fit ok={fit.get('ok')}, unsupported ops "
                           f"{len(fit.get('unsupported_ops', []))}, dtypes {dtypes or 'none'}")
        else:
            row["error"] = _tail(log, 3)
        bcode, b_to, _, _ = _run(cli + ["build", "--model", zm["model"], "--calibration", zm["calibration"],
                                        "--target", family, "--out", str(out)], args.timeout, log)
        row["note"] = row.get("note", "") + f"; build: exit {matrix.exit_label(bcode, b_to)} ({_tail(log, 1)[:160]})"
        return row
    plan = work / f"{zm['name']}-{family}.plan.json"
    code, timed_out, _, wall_plan = _run(cli + ["plan", "--model", zm["model"], "--target", family, "--save", str(plan),
                                                "--json"], args.timeout, log)
    if code != 0:
        row.update(exit=matrix.exit_label(code, timed_out), wall_s=wall_plan, stage="plan", error=_tail(log, 3))
        return row
    untrained = args.untrained_only or not entry.trained_rungs
    doc = matrix.edit_plan(json.loads(plan.read_text()), untrained_only=untrained, epochs=args.epochs)
    plan.write_text(json.dumps(doc, indent=1))
    cmd = cli + ["build", "--model", zm["model"], "--calibration", zm["calibration"], "--eval-data", zm["eval"],
                 "--target", family, "--plan", str(plan), "--search", "pareto", "--json", "--quiet",
                 "--out", str(out), "--seed", str(args.seed)]
    if args.jobs:
        cmd += ["--jobs", str(args.jobs)]
    if args.candidate_timeout:
        cmd += ["--candidate-timeout", str(args.candidate_timeout)]
    code, timed_out, stdout, wall = _run(cmd, args.timeout, log)
    row.update(exit=matrix.exit_label(code, timed_out), wall_s=wall, untrained_only=untrained, epochs=args.epochs)
    reports = []
    try:
        reports = json.loads(stdout)["targets"]
    except (json.JSONDecodeError, KeyError, TypeError):
        reports = [json.loads(p.read_text()) for p in sorted(out.glob("*/report.json"))]
    if reports and isinstance(reports[0], dict) and "attempts" in reports[0]:
        row.update(matrix.row_from_report(reports[0]))
    if code != 0 and code != 3:
        row["error"] = _tail(log, 4)
    if family == "cortex-m" and row.get("profile") and (out / row["profile"] / "model.tflite").exists():
        row["bench"] = bench_host(out / row["profile"], args, log)
    return row


def bench_host(target_dir: Path, args, log: Path) -> dict:
    """`edge-sdk bench --device host` on a written Cortex-M artifact: it must allocate and run in the
    TFLite Micro interpreter (the arena the harness reserves is what the build measured)."""
    cmd = [sys.executable, "-m", "edge_sdk.cli", "bench", str(target_dir), "--device", "host", "--runs", "5", "--json"]
    code, timed_out, stdout, _ = _run(cmd, args.timeout, log)
    if code != 0:
        return {"exit": matrix.exit_label(code, timed_out), "error": _tail(log, 2)}
    bench = json.loads(stdout)["bench"]
    return {"exit": "0", "p50_ms": bench["latency_ms"]["p50"], "arena_bytes": bench.get("arena_bytes")}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", help="comma-separated zoo model names (default: all; `python -m zoo list`)")
    p.add_argument("--targets", default=",".join(FAMILIES), help="comma-separated families")
    p.add_argument("--untrained-only", action="store_true", help="drop every rung that trains")
    p.add_argument("--epochs", type=int, help="cap every training step at N epochs (default: the technique's)")
    p.add_argument("--json", dest="json_out", help="write the matrix (rows + summary) to FILE")
    p.add_argument("--markdown", help="write the table + summary into FILE between the zoo:matrix markers")
    p.add_argument("--jobs", type=int, help="passed to edge-sdk build --jobs")
    p.add_argument("--candidate-timeout", type=int, help="passed to edge-sdk build --candidate-timeout")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per build (subprocess killed after)")
    p.add_argument("--gen-timeout", type=float, default=1200, help="seconds per model generation")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--zoo-dir", help="zoo model cache (default $EDGE_SDK_ZOO_DIR or ~/.cache/edge-sdk-zoo)")
    p.add_argument("--work", help="build outputs and logs (default: a temp dir, kept)")
    p.add_argument("--merge", nargs="+", metavar="JSON", help="build nothing: merge earlier --json files (runs split "
                   "over processes; a later file's row for a model and target replaces an earlier one) into --json / --markdown")
    args = p.parse_args()
    if args.merge:
        return merge(args)

    names = args.models.split(",") if args.models else list(REGISTRY)
    unknown = [n for n in names if n not in REGISTRY]
    families = [f for f in args.targets.split(",") if f]
    if unknown or set(families) - set(FAMILIES):
        print(f"unknown model(s) {unknown} or target(s) {sorted(set(families) - set(FAMILIES))}; "
              f"models: {', '.join(REGISTRY)}; targets: {', '.join(FAMILIES)}", file=sys.stderr)
        return 2
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="edge-sdk-zoo-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"zoo: {len(names)} models x {families}; outputs and logs in {work}", flush=True)
    rows, models, gen_failures, t0 = [], [], [], time.monotonic()
    for name in names:
        entry = REGISTRY[name]
        zm = generate(name, args, work / f"{name}.gen.log")
        if zm is None:
            gen_failures.append(name)
            continue
        models.append(zm)
        for family in (f for f in families if f in entry.families):
            row = build_one(zm, entry, family, args, work)
            rows.append(row)
            rungs = " ".join(f"{g['rung']}:{matrix.LETTER.get(g['status'], '?')}" for g in row["rungs"])
            bench = row.get("bench")
            loud = "!!! " if row["exit"] not in ("0", "2", "3") or (bench and bench["exit"] != "0") else ""
            bench_note = "" if not bench else f" bench host: {bench.get('p50_ms', bench.get('error'))}"
            print(f"{loud}{name:26} {family:9} exit {row['exit']:>7} {row.get('wall_s', 0):>7}s "
                  f"plan={row.get('plan') or '-'} {rungs}{bench_note} {row.get('error', '')[:300]}", flush=True)
            if args.json_out:  # after every build, so an interrupted run keeps what it measured
                matrix.dump(Path(args.json_out), rows, matrix.summarize(rows), {"partial": True, "work": str(work)}, models)
    summary = matrix.summarize(rows)
    summary["generator_failures"] = gen_failures
    meta = {"models": names, "targets": families, "untrained_only": args.untrained_only, "epochs": args.epochs,
            "seed": args.seed, "jobs": args.jobs, "wall_s": round(time.monotonic() - t0, 1), "work": str(work)}
    print("\n" + matrix.markdown_table(rows) + "\n\n" + matrix.markdown_summary(summary))
    bad = summary["internal_or_signal"] + summary["bench_host_failures"] + [f"generator {g}" for g in gen_failures]
    print(f"\nzoo summary: {len(rows)} builds, exit codes {summary['exit_codes']}, rungs {summary['rung_status_total']}, "
          f"{len(summary['failed_rungs'])} failed rungs, wall {meta['wall_s']} s" + (f"; !!! {bad}" if bad else ""))
    if args.json_out:
        matrix.dump(Path(args.json_out), rows, summary, meta, models)
    if args.markdown:
        header = (f"Measured with `python scripts/zoo.py --targets {','.join(families)}"
                  f"{' --untrained-only' if args.untrained_only else ''}{f' --epochs {args.epochs}' if args.epochs else ''}`"
                  f" (seed {args.seed}), total {meta['wall_s']} s.")
        matrix.write_markdown(Path(args.markdown), rows, summary, header, models)
    return 1 if bad else 0


def merge(args) -> int:
    docs = [json.loads(Path(f).read_text()) for f in args.merge]
    # a later file's row for the same model and target replaces an earlier one (a re-run after a fix)
    rows = list({(r["model"], r["target"]): r for d in docs for r in d["rows"]}.values())
    by_name = {m["name"]: m for d in docs for m in d.get("models", [])}
    for name in dict.fromkeys(r["model"] for r in rows):
        if name not in by_name:  # an older --json without the model list: read it from the zoo cache
            from zoo.cache import default_root

            cached = sorted(Path(args.zoo_dir or default_root()).glob(f"{name}-s{args.seed}-*/zoo.json"),
                            key=lambda p: p.stat().st_mtime)
            if cached:
                zm = json.loads(cached[-1].read_text())
                zm["model"] = str(cached[-1].parent / zm["model"])
                by_name[name] = zm
    order = list(REGISTRY)
    rows.sort(key=lambda r: (order.index(r["model"]), FAMILIES.index(r["target"])))
    models = sorted(by_name.values(), key=lambda m: order.index(m["name"]))
    summary = matrix.summarize(rows)
    built = {r["model"] for r in rows}
    summary["generator_failures"] = sorted({g for d in docs for g in d["summary"].get("generator_failures", [])} - built)
    wall = round(sum(r.get("wall_s") or 0 for r in rows), 1)
    meta = {"merged": args.merge, "build_wall_s": wall}
    print(matrix.markdown_table(rows) + "\n\n" + matrix.markdown_summary(summary))
    if args.json_out:
        matrix.dump(Path(args.json_out), rows, summary, meta, models)
    if args.markdown:
        header = (f"Merged from {len(docs)} runs of `python scripts/zoo.py` (seed {args.seed}); sum of the builds' "
                  f"wall times {wall} s.")
        matrix.write_markdown(Path(args.markdown), rows, summary, header, models)
    return 0


if __name__ == "__main__":
    sys.exit(main())
