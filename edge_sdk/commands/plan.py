"""`edge-sdk plan`: the dry run. Shows each target's ladder with estimates and which rungs the budgets
discard before any training, without training or converting anything."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from edge_sdk.commands.common import JsonOption, LatencyCheckOption, ProfilesDirOption, TrustModelOption, print_json, table_console
from edge_sdk.report.summary import estimated_latency_text
from edge_sdk.units import human_bytes, parse_bytes


def register(app: typer.Typer) -> None:
    @app.command("plan")
    def plan_command(
        model: Optional[Path] = typer.Option(None, "--model", "-m", help="Model file (.keras, .h5, SavedModel dir, .pt2); default: edge-sdk.yaml's."),
        target: Optional[List[str]] = typer.Option(None, "--target", "-t", metavar="TARGET", help="Profile or family name; repeatable. Default: the project's targets."),
        ram_budget: Optional[str] = typer.Option(None, "--ram-budget", help="Override the RAM budget (e.g. 256KiB)."),
        flash_budget: Optional[str] = typer.Option(None, "--flash-budget", help="Override the flash budget (e.g. 1MB)."),
        latency_budget: Optional[float] = typer.Option(None, "--latency-budget", help="Override the latency budget (ms)."),
        latency_check: Optional[str] = LatencyCheckOption,
        save: Optional[Path] = typer.Option(None, "--save", help="Write the ladders to a plan.json for `build --plan`."),
        json_out: bool = JsonOption,
        profiles_dir: Optional[Path] = ProfilesDirOption,
        trust_model: bool = TrustModelOption,
    ) -> None:
        """The dry run: each target's ladder with estimated flash, RAM and latency; no training, no conversion."""
        from edge_sdk.api import plan
        from edge_sdk.commands.project_args import resolve_model_args

        overrides = {
            "ram_bytes": parse_bytes(ram_budget, "--ram-budget"),
            "flash_bytes": parse_bytes(flash_budget, "--flash-budget"),
            "latency_ms": latency_budget,
            "latency_check": latency_check,
        }
        args = resolve_model_args(model=model, targets=target, profiles_dir=profiles_dir, trust_model=trust_model)
        result = plan(args["model"], args["targets"], budget_overrides=overrides, profiles_dir=args["profiles_dir"],
                      trust_model=args["trust_model"], target_budgets=args["target_budgets"])
        doc = result.document
        if save:
            result.save(save)
        if json_out:
            print_json(doc)
            return
        _print_plan(doc)
        if save:
            typer.echo(f"plan saved to {save}; build it with: edge-sdk build --plan {save} ...")


def _print_plan(doc: dict) -> None:
    from rich.table import Table

    console = table_console()
    for profile, entry in doc["targets"].items():
        table = Table(title=f"{profile}: ladder (cheapest first)")
        for col in ("#", "candidate", "format", "precision", "flash est", "RAM est", "latency est", "status"):
            table.add_column(col)
        for i, rung in enumerate(entry["ladder"], 1):
            est = rung["estimates"]
            status = rung["status"] + (f" ({rung['reason']})" if rung["reason"] else "")
            table.add_row(str(i), rung["name"], rung["fmt"], rung["precision"], human_bytes(est["flash_bytes"]),
                          human_bytes(est["ram_bytes"]), estimated_latency_text(est), status)
        console.print(table)
