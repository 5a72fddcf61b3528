"""`edge-sdk devices`: what is attached or reachable, with the `--device` address for each."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from edge_sdk.commands.common import JsonOption, print_json


def register(app: typer.Typer) -> None:
    @app.command("devices")
    def devices_command(
        ssh: List[str] = typer.Option([], "--ssh", metavar="USER@HOST[:PORT]", help="Also probe this ssh host (USER@HOST[:PORT]); repeatable."),
        config: Optional[Path] = typer.Option(None, "--config", help="edge-sdk.yaml naming devices (default: ./edge-sdk.yaml)."),
        probe: bool = typer.Option(True, "--probe/--no-probe", help="Connect to ssh hosts to check they answer."),
        json_out: bool = JsonOption,
    ) -> None:
        """The devices `bench --device` can reach: adb phones, serial boards, ssh hosts, this host."""
        from edge_sdk.devices.discover import list_devices
        from edge_sdk.devices.named import project_devices

        named, _ = project_devices(config)
        found, notes = list_devices(list(ssh), probe=probe, named=named)
        if json_out:
            print_json({"devices": [d.to_dict() for d in found], "notes": notes})
            return
        for d in found:
            typer.echo(f"{d.kind:<7} {d.address:<32} {d.state:<12} {d.description}")
        for note in notes:
            typer.echo(f"note: {note}")
