"""`edge-sdk inspect MODEL [--target T]`: what the model is made of and whether it fits a target as is.

Prints the per-layer table (op, kind, output shape, params, MACs, activation bytes, TFLite ops) and
totals; with `--target`, the fit check: ops and dtypes the target cannot run, and the cost model's
flash / RAM / latency for float32 and int8 against the profile's budgets, each ok or over by how much.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from edge_sdk.commands.common import JsonOption, ProfilesDirOption, TrustModelOption, print_json, table_console
from edge_sdk.units import human_bytes, human_count


def register(app: typer.Typer) -> None:
    @app.command("inspect")
    def inspect_command(
        model: Optional[Path] = typer.Argument(None, metavar="[MODEL]", help="Model file: .keras, .h5, SavedModel dir, .pt2 or .tflite; default: edge-sdk.yaml's."),
        target: Optional[str] = typer.Option(
            None, "--target", "-t", help="Profile or family name (android, ios, cortex-m, jetson) to check the fit against."
        ),
        json_out: bool = JsonOption,
        profiles_dir: Optional[Path] = ProfilesDirOption,
        trust_model: bool = TrustModelOption,
    ) -> None:
        """Per-layer ops, params, MACs and activation memory; with --target, the fit against its budgets."""
        from edge_sdk.api import inspect
        from edge_sdk.commands.project_args import resolve_model_args

        args = resolve_model_args(model=model, targets=None, profiles_dir=profiles_dir, trust_model=trust_model,
                                  need_targets=False)
        model = Path(args["model"])
        result = inspect(model, target=target, profiles_dir=args["profiles_dir"], trust_model=args["trust_model"])
        if json_out:
            print_json(result.to_dict())
            return
        _print_model(model, result.info)
        if result.fit is not None:
            _print_fit(result.fit)


def _print_model(path: Path, info: Any) -> None:
    from rich.table import Table

    table = Table(title=f"{path} ({info.framework})")
    for col, right in (("layer", False), ("op", False), ("kind", False), ("output shape", False), ("params", True),
                       ("MACs", True), ("act fp32", True), ("act int8", True), ("tflite ops", False)):
        table.add_column(col, justify="right" if right else "left", overflow="fold")
    for layer in info.layers:
        shape = ", ".join("x".join(str(d) for d in s) for s in layer.output_shapes)
        tflite = layer.runtime_ops.get("tflite")
        if layer.kind == "input":
            ops = ""
        else:
            ops = "-" if tflite is None else " ".join(tflite) or "(folded)"
        table.add_row(layer.name, layer.op, layer.kind, shape, f"{layer.params:,}", human_count(layer.macs),
                      human_bytes(layer.activation_bytes("float32")), human_bytes(layer.activation_bytes("int8")), ops)
    console = table_console()
    console.print(table)
    console.print(
        f"params {info.params:,}   MACs {info.macs:,}   other ops {info.other_ops:,}   "
        f"peak activations {human_bytes(info.peak_activation_bytes('float32'))} fp32 / "
        f"{human_bytes(info.peak_activation_bytes('int8'))} int8"
    )


def _print_fit(fit: Any) -> None:
    from rich.table import Table

    console = table_console()
    console.print(f"\n[bold]Fit on {fit.target}[/bold] ({fit.family}, format {fit.fmt or 'none'})")
    if fit.fmt is None:
        console.print(f"  [red]this {fit.framework} model cannot be exported to any format the target runs[/red]")
        return
    if not fit.ops_checked:
        console.print(f"  ops not checked: the profile lists no {fit.fmt} ops")
    elif fit.unsupported_ops:
        table = Table(title="unsupported ops")
        for col in ("layer", "op", "runtime op"):
            table.add_column(col)
        for issue in fit.unsupported_ops:
            table.add_row(issue.layer, issue.op, issue.runtime_op)
        console.print(table)
    else:
        console.print("  every op is supported")
    if fit.fallback_ops:
        ops = sorted({issue.runtime_op for issue in fit.fallback_ops})
        console.print(f"  {len(ops)} op(s) run on portable CPU kernels, not the delegate: {', '.join(ops[:8])}"
                      + (" ..." if len(ops) > 8 else ""))
    for issue in fit.unsupported_dtypes:
        console.print(f"  dtype {issue.dtype} is not run by the target: {issue.fix}")
    table = Table(title="estimate vs budget")
    for col, right in (("precision", False), ("budget", False), ("estimate", True), ("limit", True), ("status", False)):
        table.add_column(col, justify="right" if right else "left")
    for row in fit.rows:
        if not row.runnable:
            table.add_row(row.precision, "-", "-", "-", f"[yellow]not runnable: {row.reason}[/yellow]")
            continue
        for check in row.checks:
            label = check.name if check.unit is None else f"{check.name} ({check.unit})"
            band = f" (band {check.band[0]:.3g}-{check.band[1]:.3g}, checked on the {check.basis})" if check.band else ""
            table.add_row(row.precision, label, _value(check.name, check.estimate) + band, _value(check.name, check.limit),
                          _status(check))
    console.print(table)
    verdict = "[green]fits as is[/green]" if fit.ok else "[red]does not fit as is[/red] (edge-sdk plan shows what would)"
    console.print(f"  {verdict}")


def _value(name: str, value: Optional[float]) -> str:
    if value is None:
        return "-"
    return f"{value:.3g} ms" if name == "latency_ms" else human_bytes(value)


def _status(check: Any) -> str:
    if check.ok:
        return "[green]ok[/green]"
    return f"[red]over by {_value(check.name, check.over_by)} ({check.over_by_pct:.0f}%)[/red]"
