"""Devices named in edge-sdk.yaml (`devices: [{name, address, target, identity_file}]`): `--device NAME`
resolves to the address (and ssh key) given there; `edge-sdk devices` lists them."""

from __future__ import annotations

from pathlib import Path

from edge_sdk.devices.address import TRANSPORTS
from edge_sdk.errors import DeviceError


def project_devices(config: Path | None) -> tuple[list, Path | None]:
    """(devices, project file) from --config or ./edge-sdk.yaml; none when there is no project file."""
    from edge_sdk.project import find_project, load_project

    path = config or find_project(Path.cwd())
    return (list(load_project(path).devices), path) if path else ([], None)


def resolve_device(device: str, config: Path | None = None) -> tuple[str, Path | None]:
    """(address, ssh identity file) for an address or the name of a device in edge-sdk.yaml."""
    if device.partition(":")[0] in TRANSPORTS:
        return device, None
    devices, path = project_devices(config)
    for d in devices:
        if d.name == device:
            return d.address, d.identity_file
    known = ", ".join(d.name for d in devices)
    where = f"nor a device named in {path} ({known or 'none'})" if path else "and there is no edge-sdk.yaml here naming devices"
    raise DeviceError(
        f"--device {device!r} is not an address (host, ssh:USER@HOST[:PORT], adb[:SERIAL], serial:/dev/ttyX[@BAUD], "
        f"ios[:UDID]) {where}"
    )
