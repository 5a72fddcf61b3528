"""Device addresses as users type them after `--device`:

    host                      this machine
    ssh:USER@HOST[:PORT]      a Linux board (Jetson, Raspberry Pi) reachable with OpenSSH
    adb[:SERIAL]              an Android device (the only one attached, or by serial)
    serial:/dev/ttyX[@BAUD]   a microcontroller printing the harness's JSON lines over UART
    ios[:UDID]                an iPhone/iPad (macOS with Xcode only)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edge_sdk.errors import DeviceError

TRANSPORTS = ("host", "ssh", "adb", "serial", "ios")
DEFAULT_BAUD = 115200
_SSH = re.compile(r"^(?:(?P<user>[^@:\s]+)@)?(?P<host>\[[0-9a-fA-F:]+\]|[^@:\s\[\]]+)(?::(?P<port>\d+))?$")


@dataclass(frozen=True)
class Address:
    transport: str
    host: str | None = None
    user: str | None = None
    port: int | None = None
    serial: str | None = None  # adb serial
    path: str | None = None  # serial port
    baud: int | None = None
    udid: str | None = None

    def __str__(self) -> str:
        if self.transport == "ssh":
            host = f"[{self.host}]" if ":" in str(self.host) else str(self.host)
            target = f"{self.user}@{host}" if self.user else host
            return f"ssh:{target}" + (f":{self.port}" if self.port else "")
        if self.transport == "serial":
            return f"serial:{self.path}@{self.baud}"
        value = self.serial or self.udid
        return f"{self.transport}:{value}" if value else self.transport


def _bad(text: str, why: str) -> DeviceError:
    return DeviceError(
        f"device address {text!r}: {why}; expected host, ssh:USER@HOST[:PORT], adb[:SERIAL], "
        "serial:/dev/ttyX[@BAUD] or ios[:UDID]"
    )


def parse_address(text: str) -> Address:
    text = (text or "").strip()
    transport, _, rest = text.partition(":")
    if transport not in TRANSPORTS:
        raise _bad(text, f"unknown transport {transport!r}")
    if transport == "host":
        if rest:
            raise _bad(text, "'host' takes no argument")
        return Address("host")
    if transport == "ssh":
        m = _SSH.match(rest)
        if not m:
            raise _bad(text, "ssh needs USER@HOST or HOST, optionally :PORT")
        port = int(m.group("port")) if m.group("port") else None
        if port is not None and not 0 < port < 65536:
            raise _bad(text, f"port {port} out of range")
        return Address("ssh", host=m.group("host").strip("[]"), user=m.group("user"), port=port)
    if transport == "adb":
        return Address("adb", serial=rest or None)
    if transport == "ios":
        return Address("ios", udid=rest or None)
    path, _, baud = rest.partition("@")
    if not path:
        raise _bad(text, "serial needs a port path, e.g. serial:/dev/ttyACM0@115200")
    if baud and not baud.isdigit():
        raise _bad(text, f"baud {baud!r} is not a number")
    return Address("serial", path=path, baud=int(baud) if baud else DEFAULT_BAUD)
