"""`edge-sdk bench`: measure an artifact on a device, one runner per transport.

    from edge_sdk.devices import bench, RUNNERS
    bench("out/stm32f746-disco", "serial:/dev/ttyACM0@115200", BenchConfig(runs=20))

Runners are registered by the explicit imports below; `harness.emit` writes the on-device harness.
"""

from edge_sdk.devices.address import Address, parse_address
from edge_sdk.devices.base import RUNNERS, BenchConfig, BenchInterrupted, register_runner
from edge_sdk.devices import adb, host, ios, serial, ssh  # noqa: E402,F401  (fill RUNNERS)
from edge_sdk.devices.session import bench

__all__ = ["RUNNERS", "Address", "BenchConfig", "BenchInterrupted", "bench", "parse_address", "register_runner"]
