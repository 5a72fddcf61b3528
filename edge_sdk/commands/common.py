"""Options and output helpers shared by the commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

ProfilesDirOption = typer.Option(
    None, "--profiles-dir", help="Directory of extra device profiles (YAML); may `extends:` built-ins."
)
TrustModelOption = typer.Option(
    False, "--trust-model", help="Allow Lambda layers, custom objects and pickles (runs code from the model file)."
)
JsonOption = typer.Option(False, "--json", help="Print one JSON object instead of tables.")
LatencyCheckOption = typer.Option(
    None, "--latency-check", metavar="lower|estimate|upper",
    help="Which end of a calibrated latency estimate's error band the budget is checked on (default lower: "
    "missed only when even the optimistic end misses; upper for release gates).")


def print_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, default=_json_default))


PIPED_WIDTH = 200  # columns for rich tables when stdout is a pipe or file (CI logs), unless COLUMNS says


def table_console() -> Any:
    """A rich console for tables: the terminal's width on a terminal; in a pipe or a CI log, where rich
    would assume 80 columns and wrap or elide cells, `COLUMNS` or 200 columns and no colour codes."""
    import os

    from rich.console import Console

    console = Console()
    if console.is_terminal:
        return console
    columns = os.environ.get("COLUMNS", "")
    return Console(width=int(columns) if columns.isdigit() and int(columns) > 0 else PIPED_WIDTH, no_color=True,
                   highlight=False)


def print_plain_table(title: str, headers: list[str], rows: list[list[str]], right: frozenset[str] = frozenset()) -> None:
    """An aligned text table without rich: the start-up-critical listings (`profiles list`) skip
    importing and laying out rich (~50 ms), and the rows stay one line each in a pipe."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if h in right else c.ljust(w) for c, w, h in zip(cells, widths, headers)).rstrip()

    typer.echo(title)
    typer.echo(line(headers))
    for row in rows:
        typer.echo(line(row))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
