"""CLI commands, one module each. Modules here must only import light code at top level."""

from __future__ import annotations

import typer


def register_all(app: typer.Typer) -> None:
    from edge_sdk.commands import bench, build, cache, calibrate, compare, devices, init, inspect, plan, profiles

    for module in (init, inspect, profiles, plan, build, compare, bench, calibrate, devices, cache):
        module.register(app)
