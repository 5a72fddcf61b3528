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


def print_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, default=_json_default))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
