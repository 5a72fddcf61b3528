"""`edge-sdk profiles list|show`: the device profiles a `--target` can name (built-ins plus --profiles-dir).

Reads YAML only (pydantic + pyyaml), so it stays fast: no ML framework is imported here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from edge_sdk.commands.common import JsonOption, ProfilesDirOption, print_json, print_plain_table, table_console
from edge_sdk.units import human_bytes

profiles_app = typer.Typer(
    name="profiles",
    help="List and show device profiles (built-in and from --profiles-dir).",
    no_args_is_help=True,
    rich_markup_mode=None,  # like the main app: plain help, no rich help renderer at start-up
)


@profiles_app.command("list")
def list_command(json_out: bool = JsonOption, profiles_dir: Optional[Path] = ProfilesDirOption) -> None:
    """One row per profile: family, default, budgets, formats."""
    from edge_sdk.profiles import list_profiles

    profiles = list_profiles(profiles_dir)
    if json_out:
        print_json({"profiles": [p.model_dump(mode="json") for p in profiles]})
        return
    rows = [
        [p.name, p.family, "yes" if p.default_for_family else "", human_bytes(p.memory.ram_budget_bytes),
         human_bytes(p.memory.flash_budget_bytes), ", ".join(p.runtime.formats), f"{p.latency_budget_ms:g} ms"]
        for p in profiles
    ]
    print_plain_table("device profiles (RAM, flash, latency: the model's budgets)",
                      ["name", "family", "default", "RAM", "flash", "formats", "latency"], rows,
                      right=frozenset({"RAM", "flash", "latency"}))


@profiles_app.command("show")
def show_command(
    name: str = typer.Argument(..., help="Profile name, or a family (android, ios, cortex-m, jetson) for its default."),
    json_out: bool = JsonOption,
    profiles_dir: Optional[Path] = ProfilesDirOption,
) -> None:
    """Every field of one profile; op lists are summarised (use --json for all of them)."""
    from edge_sdk.profiles import get_profile

    profile = get_profile(name, profiles_dir)
    if json_out:
        print_json(profile.model_dump(mode="json"))
        return
    _print_profile(profile)


def _print_profile(profile) -> None:
    from rich.table import Table

    console = table_console()
    mem, rt = profile.memory, profile.runtime
    default = " (family default)" if profile.default_for_family else ""
    console.print(f"[bold]{profile.name}[/bold]  {profile.family}{default}")
    console.print(profile.description)
    console.print(
        f"RAM {human_bytes(mem.ram_bytes)} (budget {human_bytes(mem.ram_budget_bytes)}), "
        f"flash {human_bytes(mem.flash_bytes)} (budget {human_bytes(mem.flash_budget_bytes)}), "
        f"latency budget {profile.latency_budget_ms:g} ms"
    )
    units = Table(title=f"compute: {profile.compute.cpu}, {profile.compute.clock_hz / 1e6:g} MHz")
    for col in ("unit", "int8 MAC/s", "float16 MAC/s", "float32 MAC/s", "efficiency", "formats"):
        units.add_column(col)
    for unit in profile.compute.units:
        rates = [_giga(unit.dtypes.get(dt)) for dt in ("int8", "float16", "float32")]
        formats = "all" if unit.formats is None else (", ".join(unit.formats) or "none of ours")
        units.add_row(unit.name, *rates, f"{unit.efficiency:g}", formats)
    console.print(units)
    for unit in profile.compute.units:
        if unit.kernels:
            console.print(f"kernel costs of {unit.name} ({unit.kernels.library}; planner/cost_model.py), cycles per MAC, "
                          "element, op or weight byte:", soft_wrap=True)
            for dtype, table in unit.kernels.cycles.items():
                band = unit.kernels.error_band.get(dtype)
                console.print(f"  {dtype}: " + ", ".join(f"{k} {v:.4g}" for k, v in table.items())
                              + (f"; error band x{band[0]:.3g}-x{band[1]:.3g}" if band else ""), soft_wrap=True)
            if unit.kernels.fit and unit.kernels.fit.get("leave_one_out_median_abs_error") is not None:
                console.print(f"  fitted to {unit.kernels.fit['models']} measurement(s); leave-one-out median error "
                              f"{unit.kernels.fit['leave_one_out_median_abs_error']:.0%}")
    ops = ", ".join(f"{vocab}: {len(names)}" for vocab, names in rt.ops.items())
    console.print(f"runtime: formats {', '.join(rt.formats)}; dtypes {', '.join(rt.dtypes)}; ops ({ops})")
    for key, value in rt.constraints.items():
        if isinstance(value, dict):  # a runtime's notes: one line each, not a Python dict
            console.print(f"  {key}:")
            for name, text in value.items():
                console.print(f"    {name}: {_plain(text)}", soft_wrap=True)
        else:
            console.print(f"  {key}: {_plain(value)}", soft_wrap=True)
    console.print(f"connection: {profile.connection.kind}" + (f" {profile.connection.baud} baud" if profile.connection.baud else ""))
    for source in profile.sources:
        console.print(f"source: {source}", soft_wrap=True)


def _giga(rate: float | None) -> str:
    """MAC/s in G, whole numbers from 100 G up (a GPU's 10,000 G, not "1e+04 G")."""
    if rate is None:
        return "-"
    giga = rate / 1e9
    return f"{giga:,.0f} G" if giga >= 100 else f"{giga:.3g} G"


def _plain(value: object) -> str:
    """A profile value for people: lists joined by commas, booleans as yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(v) for v in value)
    return str(value)


def register(app: typer.Typer) -> None:
    app.add_typer(profiles_app, name="profiles")
