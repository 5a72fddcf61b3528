"""CLI commands, one module each. Modules here must only import light code at top level."""

from __future__ import annotations

import typer


def register_all(app: typer.Typer) -> None:
    from edge_sdk.commands import inspect, profiles

    for module in (inspect, profiles):
        module.register(app)
