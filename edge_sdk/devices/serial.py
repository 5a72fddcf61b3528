"""`serial:/dev/ttyX[@BAUD]`: read a microcontroller's benchmark over UART (pyserial).

The firmware built from harness/ (Cortex-M: main.cc) runs the benchmark at boot and repeats it, printing
the JSON-lines protocol; this runner waits for the next `start` line and reads until `done`. Runs and
warm-up are compiled into the firmware (EDGE_SDK_RUNS / EDGE_SDK_WARMUP), so --runs does not apply
here. Flash the firmware first; a board running a different model (model size in `start`) is refused.

Inputs (protocol 2 firmware, targets/cortex_m/uart_inputs.h): before each benchmark the board prints
`ready` and listens ~2 s. This runner answers every `ready`: with a sample (`--inputs`, brought to the
model's int8/int16 inputs by devices/inputs.py) one `input I HEX` line per input tensor, then `run`;
without one, `run` alone (the firmware's pseudo-random inputs). It keeps the benchmark that follows an
answered `ready` when its `start` says the board holds those inputs ("uart" and the FNV-1a of the bytes
sent, or "random"); a cycle it did not answer (connected mid-way) is skipped. Protocol 1 firmware (no
`ready`) runs its own inputs.
"""

from __future__ import annotations

import json
import time

import numpy as np

from edge_sdk.devices.address import Address
from edge_sdk.devices.base import BenchConfig, interrupted, register_runner
from edge_sdk.devices.inputs import cannot_feed, fed, sample_arrays, tensor_bytes
from edge_sdk.devices.protocol import RunCollector
from edge_sdk.errors import DeviceError, MissingDependencyError
from edge_sdk.contracts.records import Artifact, BenchResult

READ_POLL_S = 0.2
MISSES = 2  # answered cycles whose `start` does not hold our inputs before giving up on the board taking them


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


def fnv1a(data: bytes) -> int:
    """32-bit FNV-1a, as uart_inputs.h's Fnv1a computes it over the input tensors."""
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def input_lines(values: list[np.ndarray]) -> bytes:
    """The host's answer to `ready`: one `input I HEX` line per tensor, then `run`."""
    return b"".join(b"input %d %s\n" % (i, tensor_bytes(v).hex().encode()) for i, v in enumerate(values)) + b"run\n"


class _Feeder:
    """Answers the firmware's `ready` and tells which benchmark cycle holds the inputs we mean."""

    def __init__(self, values: list[np.ndarray], config: BenchConfig, address: Address) -> None:
        self.config, self.address, self.misses, self.answered = config, address, 0, False
        self._set(values)

    def _set(self, values: list[np.ndarray]) -> None:
        self.values = values
        self.answer = input_lines(values) if values else b"run\n"
        self.fnv = fnv1a(b"".join(tensor_bytes(v) for v in values)) if values else None

    def _give_up(self, why: str) -> None:
        self.config = cannot_feed(self.config, why)  # --inputs: DeviceError; the eval-data default: random
        self._set([])

    def on_ready(self, event: dict, port) -> None:
        count = event.get("inputs")
        if self.values and count is not None and int(count) != len(self.values):
            raise DeviceError(f"{self.address}: the board's model has {count} inputs, the sample {len(self.values)}; "
                              "flash the firmware built from this artifact's harness")
        port.write(self.answer)
        port.flush()
        self.answered = True

    def keep(self, start: dict) -> bool:
        """Whether the cycle this `start` opens is the one to measure."""
        if int(start.get("protocol", 1)) < 2:  # firmware from before the input protocol: its own inputs
            if self.values:
                self._give_up(f"the firmware on {self.address} takes no inputs (protocol 1); rebuild and flash "
                              "it from this harness, or drop --inputs")
            return True
        if not self.answered:
            return False  # we joined mid-way: wait for the next `ready`
        self.answered = False
        want = "uart" if self.values else "random"
        if start.get("inputs") == want and (self.fnv is None or start.get("inputs_fnv1a") == self.fnv):
            return True
        self.misses += 1
        if self.misses < MISSES:
            return False  # e.g. our answer reached a window that had closed: the board dropped it
        if self.values and start.get("inputs") == "uart":
            raise DeviceError(f"{self.address}: the input bytes arrived changed (FNV-1a {start.get('inputs_fnv1a')}, "
                              f"sent {self.fnv}); check the baud rate and the cable")
        if self.values:
            self._give_up(f"the board on {self.address} did not take them over the UART (its start says inputs "
                          f"{start.get('inputs')!r}); define EdgeSdkUartRead() with the board's UART receive "
                          "(harness/README.md), or drop --inputs")
        return True  # what the board runs, as its start says

    def record(self, result: BenchResult) -> BenchResult:
        start = result.raw.get("start")
        if start:  # name the file the board holds, as the Python runner does
            start["inputs"] = fed(self.config) if start.get("inputs") == "uart" and self.values else start.get("inputs", "random")
        return result


@register_runner("serial")
def run(artifact: Artifact, address: Address, config: BenchConfig) -> BenchResult:
    values = [value for _, value in sample_arrays(artifact, config)] if config.inputs else []  # no board needed
    serial, port = _open(address)
    feeder = _Feeder(values, config, address)
    collector = RunCollector(str(address), "serial", artifact.path.name, config)
    deadline = time.monotonic() + config.timeout_s
    last_data = time.monotonic()
    pending = b""
    try:
        while not collector.done:
            now = time.monotonic()
            if now > deadline:
                raise interrupted(feeder.record(collector.result()), f"{address}: did not finish within "
                                  f"{config.timeout_s:g} s ({collector.progress()}){collector.context()}")
            if now - last_data > config.idle_timeout_s:
                raise interrupted(feeder.record(collector.result()), f"{address}: sent nothing for "
                                  f"{config.idle_timeout_s:g} s ({collector.progress()}); is the firmware flashed "
                                  "and the baud rate right?")
            chunk = port.read(max(1, port.in_waiting))
            if not chunk:
                continue
            last_data = now
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                text = line.decode("utf-8", errors="replace")
                event = _event(text)
                if event.get("event") == "ready":
                    feeder.on_ready(event, port)
                    continue
                if event.get("event") == "start" and not feeder.keep(event):
                    continue
                was_started = collector.started
                if collector.feed(text):
                    break
                if collector.started and not was_started:
                    _check_model(collector, artifact, address)
    except (serial.SerialException, OSError) as exc:
        raise interrupted(feeder.record(collector.result()),
                          f"{address}: the port closed mid-run ({collector.progress()}): {exc}") from None
    finally:
        port.close()
    return feeder.record(collector.result())


def _event(text: str) -> dict:
    text = text.strip()
    if not text.startswith("{"):
        return {}
    try:
        obj = json.loads(text)
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}
