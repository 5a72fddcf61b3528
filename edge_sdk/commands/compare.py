"""`edge-sdk compare BASE NEW`: the release gate. Exit 4 when NEW regressed against BASE (bigger,
slower, worse, no longer feasible, or a target missing), 0 otherwise, 2 on unreadable input, 1 only
for an internal error (so a pipeline can tell a regression from a crash)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from edge_sdk.commands.common import JsonOption, print_json, table_console
from edge_sdk.units import human_bytes

EXIT_REGRESSION = 4


def register(app: typer.Typer) -> None:
    @app.command("compare")
    def compare_command(
        base: Path = typer.Argument(..., help="Baseline: a build output dir (<profile>/report.json inside) or a report.json."),
        new: Path = typer.Argument(..., help="Candidate: same kind as BASE."),
        max_size_growth: str = typer.Option("5%", "--max-size-growth", help="Allowed artifact size growth (5% or 5)."),
        max_latency_growth: str = typer.Option("10%", "--max-latency-growth", help="Allowed latency growth (measured if both builds measured it, else estimated)."),
        max_quality_drop: str = typer.Option("0.5", "--max-quality-drop", help="Allowed drop in top-1 agreement / accuracy, in points."),
        junit: Optional[Path] = typer.Option(None, "--junit", help="Also write JUnit XML (one testcase per target x metric)."),
        json_out: bool = JsonOption,
    ) -> None:
        """Regression gate: exit 4 when NEW is bigger, slower, worse or less feasible than BASE."""
        from edge_sdk.api import compare

        result = compare(base, new, max_size_growth=max_size_growth, max_latency_growth=max_latency_growth,
                         max_quality_drop=max_quality_drop, junit=junit)
        regressions = result.regressions
        if json_out:
            print_json(result.to_dict())
        else:
            _print_table(result.changes, base, new)
        if regressions:
            raise typer.Exit(EXIT_REGRESSION)


def _value(metric: str, value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if metric.endswith("_bytes"):
        return human_bytes(value)
    if metric == "latency_ms":
        return f"{value:.3g} ms"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _print_table(changes, base: Path, new: Path) -> None:
    from rich import box
    from rich.table import Table

    console = table_console()
    moved = [c for c in changes if c.moved]
    regressions = sum(c.regression for c in changes)
    targets = len({c.target for c in changes})
    if not moved:
        console.print(f"no metric moved across {targets} target(s): {base} == {new}")
        return
    table = Table(title=f"{base} -> {new}", box=box.SIMPLE_HEAD)
    for col in ("target", "metric", "base", "new", "change", "limit", "verdict"):
        table.add_column(col, justify="right" if col in ("base", "new", "change") else "left", no_wrap=col not in ("target", "metric"), overflow="fold")
    for c in moved:
        verdict = "[bold red]REGRESSION[/]" if c.regression else "[green]ok[/]"
        table.add_row(c.target, c.metric + (f"\n[dim]{c.note}[/]" if c.note else ""), _value(c.metric, c.base), _value(c.metric, c.new), c.change, c.limit, verdict)
    console.print(table)
    console.print(
        f"[bold red]{regressions} regression(s)[/] across {targets} target(s)" if regressions
        else f"[green]no regression[/] across {targets} target(s)"
    )
