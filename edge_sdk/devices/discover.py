"""What `edge-sdk devices` lists: the host, adb devices, serial ports, iOS devices (macOS) and ssh
hosts, each with the `--device` address to bench on it. Every probe is bounded by a timeout and a
missing tool is reported as such, never as an error.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, replace

from edge_sdk.devices.address import parse_address
from edge_sdk.devices.base import BenchConfig
from edge_sdk.errors import DeviceError

PROBE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Device:
    kind: str  # host | adb | serial | ios | ssh
    address: str  # what --device takes
    state: str  # ready | unauthorized | offline | unreachable | configured | ...
    description: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _run(cmd: list[str], timeout_s: float = PROBE_TIMEOUT_S) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None


def host_device() -> Device:
    runtimes = [name for mod, name in (("ai_edge_litert", "litert"), ("tflite_micro", "tflm"), ("executorch", "executorch"))
                if importlib.util.find_spec(mod) is not None]
    desc = f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    return Device("host", "host", "ready", f"{desc}; runtimes: {', '.join(runtimes) or 'none installed'}")


def parse_adb_devices(text: str) -> list[Device]:
    """`adb devices -l` lines: SERIAL <state> [product:.. model:.. device:.. transport_id:..]."""
    found = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2 or line.startswith(("List of devices", "*")):
            continue
        serial, state = parts[0], parts[1]
        extra = dict(p.split(":", 1) for p in parts[2:] if ":" in p)
        desc = " ".join(v for k, v in extra.items() if k in ("model", "product"))
        found.append(Device("adb", f"adb:{serial}", "ready" if state == "device" else state, desc))
    return found


def adb_devices() -> tuple[list[Device], str]:
    if shutil.which("adb") is None:
        return [], "adb not found on PATH (Android platform-tools)"
    done = _run(["adb", "devices", "-l"])
    if done is None or done.returncode != 0:
        return [], "adb devices failed or timed out"
    return parse_adb_devices(done.stdout), ""


def serial_ports() -> tuple[list[Device], str]:
    try:
        from serial.tools import list_ports
    except ImportError:
        return [], "pyserial is not installed"
    boards, builtin = board_ports(list_ports.comports())
    note = (f"{len(builtin)} built-in serial port(s) without a device behind them not listed ({', '.join(builtin)}); "
            "bench one with --device serial:PORT@BAUD" if builtin else "")
    return [Device("serial", f"serial:{p.device}@115200", "present", p.description or "") for p in boards], note


def board_ports(ports: list) -> tuple[list, list[str]]:
    """(ports a board may be on, names of the rest): a PC's or VM's own UARTs (/dev/ttyS*) are always
    enumerated and pyserial knows nothing of them (hwid "n/a", no USB ids), while a board's USB serial
    bridge or debug probe has USB ids, and a platform UART (ttyAMA*) a hwid."""
    boards = [p for p in ports if p.vid is not None or (p.hwid or "n/a") != "n/a"]
    return sorted(boards, key=lambda p: p.device), sorted(p.device for p in ports if p not in boards)


def ios_devices() -> tuple[list[Device], str]:
    if sys.platform != "darwin" or shutil.which("xcrun") is None:
        return [], "iOS devices are listed on macOS with Xcode only (xcrun devicectl)"
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "devices.json")
        done = _run(["xcrun", "devicectl", "list", "devices", "--json-output", out], timeout_s=30)
        if done is None or done.returncode != 0 or not os.path.exists(out):
            return [], "xcrun devicectl list devices failed or timed out"
        with open(out) as f:
            data = json.load(f)
    found = []
    for d in (data.get("result") or {}).get("devices", []):
        hw = d.get("hardwareProperties") or {}
        props = d.get("deviceProperties") or {}
        udid = hw.get("udid") or d.get("identifier", "?")
        state = (d.get("connectionProperties") or {}).get("tunnelState", "unknown")
        found.append(Device("ios", f"ios:{udid}", state, f"{props.get('name', '')} {hw.get('marketingName', '')}".strip()))
    return found, ""


def ssh_device(host: str, probe: bool, config: BenchConfig) -> Device:
    address = parse_address(host if host.startswith("ssh:") else f"ssh:{host}")
    if not probe:
        return Device("ssh", str(address), "configured")
    from edge_sdk.devices.ssh import ssh_command

    done = _run(ssh_command(address, config, "uname -srm"), timeout_s=config.connect_timeout_s + 5)
    if done is None:
        return Device("ssh", str(address), "unreachable", "timed out")
    if done.returncode != 0:
        err = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return Device("ssh", str(address), "unreachable", err[:160])
    return Device("ssh", str(address), "ready", done.stdout.strip())


def list_devices(ssh_hosts: list[str], probe: bool = True, config: BenchConfig | None = None,
                 named: list | None = None) -> tuple[list[Device], list[str]]:
    """(devices, notes): notes say which kinds could not be listed and why. `named` are edge-sdk.yaml
    devices (name, address, identity_file): ssh ones are probed with their key, others listed."""
    config = config or BenchConfig(connect_timeout_s=5)
    devices, notes = [host_device()], []
    for finder in (adb_devices, serial_ports, ios_devices):
        found, note = finder()
        devices += found
        if note:
            notes.append(note)
    probes = [(host, config, "") for host in ssh_hosts]
    for d in named or []:
        if d.address.startswith("ssh:"):
            probes.append((d.address, replace(config, identity=d.identity_file), d.name))
        else:
            devices.append(Device(d.address.partition(":")[0], d.address, "configured", f"edge-sdk.yaml device {d.name!r}"))
    for host, cfg, name in probes:
        try:
            found = ssh_device(host, probe, cfg)
        except DeviceError as exc:
            notes.append(str(exc))
            continue
        devices.append(replace(found, description=f"{name!r}: {found.description}".strip(": ")) if name else found)
    return devices, notes
