"""`serial:/dev/ttyX[@BAUD]`: read a microcontroller's benchmark over UART (pyserial).

The firmware built from harness/ (Cortex-M: main.cc) runs the benchmark at boot and repeats it, printing
the JSON-lines protocol; this runner waits for the next `start` line and reads until `done`. Runs and
warm-up are compiled into the firmware (EDGE_SDK_RUNS / EDGE_SDK_WARMUP), so --runs does not apply
here. Flash the firmware first; a board running a different model (model size in `start`) is refused.
"""

from __future__ import annotations

import time

from edge_sdk.devices.address import Address
from edge_sdk.devices.base import BenchConfig, interrupted, register_runner
from edge_sdk.devices.protocol import RunCollector
from edge_sdk.errors import DeviceError, MissingDependencyError
from edge_sdk.contracts.records import Artifact, BenchResult

READ_POLL_S = 0.2


def _open(address: Address):
    try:
        import serial
    except ImportError:
        raise MissingDependencyError("pyserial is not installed; pip install pyserial") from None
    try:
        return serial, serial.Serial(address.path, address.baud, timeout=READ_POLL_S)
    except (serial.SerialException, OSError) as exc:
        raise DeviceError(
            f"{address}: cannot open {address.path} ({exc}); check the cable and the port name "
            "(`edge-sdk devices`) and close any serial monitor holding it"
        ) from None


def _check_model(collector: RunCollector, artifact: Artifact, address: Address) -> None:
    size = collector.start.get("model_bytes")
    if size is not None and artifact.format == "tflm" and int(size) != artifact.bytes:
        raise DeviceError(
            f"{address}: the board runs a {size}-byte model but {artifact.path.name} is {artifact.bytes} bytes; "
            "rebuild and flash the firmware from this harness"
        )


@register_runner("serial")
def run(artifact: Artifact, address: Address, config: BenchConfig) -> BenchResult:
    serial, port = _open(address)
    collector = RunCollector(str(address), "serial", artifact.path.name, config)
    deadline = time.monotonic() + config.timeout_s
    last_data = time.monotonic()
    pending = b""
    try:
        while not collector.done:
            now = time.monotonic()
            if now > deadline:
                raise interrupted(collector.result(), f"{address}: did not finish within {config.timeout_s:g} s "
                                  f"({collector.progress()}){collector.context()}")
            if now - last_data > config.idle_timeout_s:
                raise interrupted(collector.result(), f"{address}: sent nothing for {config.idle_timeout_s:g} s "
                                  f"({collector.progress()}); is the firmware flashed and the baud rate right?")
            chunk = port.read(max(1, port.in_waiting))
            if not chunk:
                continue
            last_data = now
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                was_started = collector.started
                if collector.feed(line.decode("utf-8", errors="replace")):
                    break
                if collector.started and not was_started:
                    _check_model(collector, artifact, address)
    except (serial.SerialException, OSError) as exc:
        raise interrupted(collector.result(), f"{address}: the port closed mid-run ({collector.progress()}): {exc}") from None
    finally:
        port.close()
    return collector.result()
