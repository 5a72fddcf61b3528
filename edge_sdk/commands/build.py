"""`edge-sdk build`: fit the model to each target, write OUT/<profile>/ and print one line per target.

Without `--model`, edge-sdk.yaml in the working directory supplies the model (or `models:`), data,
targets, budgets and output dir (flags still override). Several models (`--model` repeated, or
`models:`) are one matrix build: OUT/<model name>/<profile>/, one line per model and target. Exit 0 when every target is feasible, 3 when any is not (its best
candidate is still written, marked infeasible, with the binding constraint named).
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from edge_sdk.commands.common import JsonOption, LatencyCheckOption, ProfilesDirOption, TrustModelOption, print_json
from edge_sdk.report.summary import estimated_latency_text, quality_text
from edge_sdk.units import human_bytes, parse_bytes

EXIT_INFEASIBLE = 3
EXIT_INTERNAL = 1  # some candidate hit a bug; the targets are still written (README: exit codes)


def register(app: typer.Typer) -> None:
    @app.command("build")
    def build_command(
        target: Optional[List[str]] = typer.Option(None, "--target", "-t", metavar="TARGET", help="Profile or family name; repeatable. Default: the project's targets."),
        model: Optional[List[Path]] = typer.Option(None, "--model", "-m", metavar="FILE", help="Model file; repeatable (a matrix build: OUT/<model name>/<profile>/). Default from edge-sdk.yaml."),
        calibration: Optional[List[str]] = typer.Option(None, "--calibration", "-c", metavar="DATA", help="Calibration data (.npz or module:function); once for every model, or once per --model in order."),
        train_data: Optional[List[str]] = typer.Option(None, "--train-data", metavar="DATA", help="Fine-tuning data (default: the calibration data); once, or once per --model."),
        eval_data: Optional[List[str]] = typer.Option(None, "--eval-data", metavar="DATA", help="Held-out eval data; with labels, accuracy is measured; once, or once per --model."),
        out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output directory (default: edge-sdk.yaml's, else ./out)."),
        plan: Optional[Path] = typer.Option(None, "--plan", help="A plan.json from `edge-sdk plan --save`."),
        search: Optional[str] = typer.Option(None, "--search", help="first-fit (default) or pareto (evaluate all, keep every Pareto artifact)."),
        ram_budget: Optional[str] = typer.Option(None, "--ram-budget", help="RAM budget for every target (e.g. 256KiB)."),
        flash_budget: Optional[str] = typer.Option(None, "--flash-budget", help="Flash/size budget for every target (e.g. 1MB)."),
        latency_budget: Optional[float] = typer.Option(None, "--latency-budget", help="Latency budget in ms."),
        latency_check: Optional[str] = LatencyCheckOption,
        max_accuracy_drop: Optional[float] = typer.Option(None, "--max-accuracy-drop", help="Max accuracy drop in points (needs labelled eval data)."),
        min_fidelity: Optional[List[str]] = typer.Option(None, "--min-fidelity", metavar="METRIC=VALUE", help="Fidelity floor: METRIC=VALUE (e.g. sqnr_db=25, cosine_min=0.99; repeatable) or a bare 0-1 value for the agreement metrics."),
        task: Optional[List[str]] = typer.Option(None, "--task", metavar="[OUTPUT=]KIND", help="What an output is: KIND or OUTPUT=KIND (classification, embedding, regression, detection, sequence); default: inferred."),
        labels: Optional[Path] = typer.Option(None, "--labels", metavar="FILE", help="Class names, one per line in class-index order: labels.txt beside the artifact, in the model card, model_data.h and Core ML's metadata."),
        input_mean: Optional[str] = typer.Option(None, "--input-mean", metavar="MEAN[,MEAN..]", help="The app feeds (x - mean) / std: the mean, one value or one per channel (with --input-std)."),
        input_std: Optional[str] = typer.Option(None, "--input-std", metavar="STD[,STD..]", help="The std of that normalisation, one value or one per channel (with --input-mean)."),
        seed: Optional[int] = typer.Option(None, "--seed", help="Seed for every trained step (default 0)."),
        no_cache: bool = typer.Option(False, "--no-cache", help="Rebuild expensive steps instead of reusing the build cache."),
        jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, help="Candidates built at once, each in its own worker process (default 1; with --executor ray, the cluster's CPUs)."),
        executor: Optional[str] = typer.Option(None, "--executor", help="Where candidates run: local (worker processes, default), ray or ray:HOST:PORT (a Ray cluster; extra [ray], docs/scale.md), or inline (this process; for debugging)."),
        candidate_timeout: Optional[float] = typer.Option(None, "--candidate-timeout", help="Seconds one candidate may take before its worker is stopped and it counts as failed (default 1800)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output; only the per-target lines."),
        json_out: bool = JsonOption,
        profiles_dir: Optional[Path] = ProfilesDirOption,
        trust_model: bool = TrustModelOption,
    ) -> None:
        """Plan, compress, export and verify the model for each target; write OUT/<profile>/ per target."""
        from edge_sdk.api import build_matrix
        from edge_sdk.commands.project_args import resolve_build_args

        flags = {
            "ram_bytes": parse_bytes(ram_budget, "--ram-budget"),
            "flash_bytes": parse_bytes(flash_budget, "--flash-budget"),
            "latency_ms": latency_budget,
            "latency_check": latency_check,
            "max_accuracy_drop": max_accuracy_drop,
            "min_fidelity": min_fidelity or None,
        }
        from edge_sdk.console import terminal_for_edge_sdk

        args = resolve_build_args(
            model=model, targets=target, calibration=calibration, train_data=train_data, eval_data=eval_data,
            out=out, search=search, seed=seed, profiles_dir=profiles_dir, trust_model=trust_model,
            budget_flags={k: v for k, v in flags.items() if v is not None}, no_cache=no_cache,
            jobs=jobs, executor=executor, candidate_timeout=candidate_timeout, tasks=task,
            labels=labels, input_mean=input_mean, input_std=input_std,
        )
        silent = quiet or json_out
        with terminal_for_edge_sdk(Path(args["out"]) / "build.log") as terminal:
            say = (lambda _: None) if silent else terminal
            results = build_matrix(plan_file=plan, quiet=silent, say=say, **args)
        if json_out:
            print_json({"targets": [r.report for r in results]})  # one object, whatever the number of targets
        else:
            for r in results:
                typer.echo(summary_line(r.report, r.out_dir))
        internal = [f"{r.profile.name}/{name}" for r in results for name in r.internal_errors]
        if internal:
            typer.echo(
                f"internal error in {len(internal)} candidate(s) ({', '.join(internal)}); every target was still "
                "written, but this is a bug: please report it with `error.traceback` from report.json", err=True,
            )
            raise typer.Exit(EXIT_INTERNAL)
        if not all(r.feasible for r in results):
            raise typer.Exit(EXIT_INFEASIBLE)


def summary_line(report: dict, out_dir: Path) -> str:
    """`target profile: artifact, size, RAM, latency (measured on the device, else the estimate and its
    band), quality, ok/over` (in a matrix build the artifact's path names the model)."""
    est = report.get("estimates") or {}
    if not report.get("artifacts"):
        return f"{report['target']:<9} {report['profile']['name']:<16} no candidate could be built (see {out_dir / 'report.json'})"
    artifact = report["artifacts"][0]
    measured = ((report.get("budgets") or {}).get("latency_ms") or {}).get("measured")
    latency_text = f"{measured:.2f} ms measured" if measured is not None else estimated_latency_text(est)
    quality = quality_text(report)
    ram_check = (report.get("budgets") or {}).get("ram_bytes") or {}
    ram = next((v for v in (ram_check.get("measured"), ram_check.get("estimate"), est.get("ram_bytes")) if v is not None), None)
    ram_kind = "" if ram_check.get("measured") is not None else " est."
    verdict = "ok" if report["feasible"] else f"OVER ({(report.get('binding_constraint') or {}).get('budget', '?')})"
    plan = report["plan"]["name"] or "-"
    return (
        f"{report['target']:<9} {report['profile']['name']:<16} {plan:<22} "
        f"{out_dir / artifact.get('path', '-')}  {human_bytes(artifact.get('bytes'))}  RAM{ram_kind} {human_bytes(ram)}  "
        f"{latency_text}  {quality}  {verdict}"
    )
