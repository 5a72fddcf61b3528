"""serial runner over a pseudo-terminal pair (os.openpty). The board is a STAND-IN: a process that
speaks the harness's JSON-lines protocol on the pty master, the way the Cortex-M firmware does over
UART. The stand-in is the real Python runner executing the TFLM artifact in the TFLite Micro
interpreter, so the numbers it sends are real TFLM timings, only not from a microcontroller."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import tty
from dataclasses import replace

import pytest

from edge_sdk.devices import BenchConfig, BenchInterrupted, bench, parse_address
from edge_sdk.devices.harness import PYTHON_RUNNER
from edge_sdk.devices.protocol import RunCollector
from edge_sdk.devices.serial import run as serial_run
from edge_sdk.errors import DeviceError

from .conftest import copy_out


@pytest.fixture
def pty_board(tflm_artifact):
    """Start the stand-in board on a fresh pty; yields (start(args) -> Popen, slave path)."""
    master, slave = os.openpty()
    tty.setraw(slave)  # a UART has no line discipline: no echo, no CR/LF translation
    procs, master_open = [], [True]

    def start(*args: str, banner: bool = True) -> subprocess.Popen:
        prelude = "import sys; sys.stdout.write('boot: edge-sdk harness\\n'); sys.stdout.flush(); " if banner else ""
        code = f"{prelude}import runpy, sys; sys.argv = {[str(PYTHON_RUNNER), *args]!r}; runpy.run_path({str(PYTHON_RUNNER)!r}, run_name='__main__')"
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=master, stderr=subprocess.DEVNULL, pass_fds=(master,))
        os.close(master)  # the stand-in now holds the only master end: when it exits the "cable" is pulled
        master_open[0] = False
        procs.append(proc)
        return proc

    yield start, os.ttyname(slave)
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    os.close(slave)
    if master_open[0]:
        os.close(master)


def test_serial_runner_reads_a_full_benchmark(pty_board, tflm_artifact):
    start, path = pty_board
    start(str(tflm_artifact.path), "--kind", "tflm", "--runs", "12", "--warmup", "2")
    result = serial_run(tflm_artifact, parse_address(f"serial:{path}@115200"), BenchConfig(timeout_s=60, idle_timeout_s=30))
    assert result.complete and result.runs == 12 and result.runner == "serial"
    assert result.raw["start"]["runtime"] == "tflm"
    assert 0 < result.latency_ms["p50"] <= result.latency_ms["p99"]
    assert result.arena_bytes == tflm_artifact.arena.basis_bytes


def test_closing_the_pty_mid_run_is_a_clear_error_with_partial_results(pty_board, tflm_artifact, tmp_path, monkeypatch):
    out = copy_out(tflm_artifact, tmp_path / "board")
    start, path = pty_board
    board = start(str(tflm_artifact.path), "--kind", "tflm", "--runs", "100000", "--warmup", "0", "--run-delay-s", "0.05")
    seen = threading.Event()
    feed = RunCollector.feed

    def watching_feed(self, line):  # observe progress only: pull the cable once 3 runs came back
        done = feed(self, line)
        if len(self.samples_ms) >= 3:
            seen.set()
        return done

    monkeypatch.setattr(RunCollector, "feed", watching_feed)

    def pull_cable():
        if seen.wait(120):
            board.kill()

    threading.Thread(target=pull_cable, daemon=True).start()
    t0 = time.monotonic()
    with pytest.raises(BenchInterrupted, match="port closed mid-run") as info:
        bench(out, f"serial:{path}@115200", BenchConfig(timeout_s=150, idle_timeout_s=20))
    assert time.monotonic() - t0 < 150
    assert info.value.partial.runs >= 3 and not info.value.partial.complete
    saved = json.loads((out / "bench.json").read_text())["bench"]
    assert saved["complete"] is False and saved["runs"] == info.value.partial.runs and saved["latency_ms"]["p50"] > 0


def test_a_board_running_another_model_is_refused(pty_board, tflm_artifact):
    start, path = pty_board
    start(str(tflm_artifact.path), "--kind", "tflm", "--runs", "3", "--warmup", "0")
    other = replace(tflm_artifact, bytes=tflm_artifact.bytes + 1)
    with pytest.raises(DeviceError, match="flash the firmware"):
        serial_run(other, parse_address(f"serial:{path}"), BenchConfig(timeout_s=60, idle_timeout_s=30))


def test_a_silent_port_times_out(pty_board, tflm_artifact):
    _, path = pty_board
    t0 = time.monotonic()
    with pytest.raises(BenchInterrupted, match="sent nothing for 1 s"):
        serial_run(tflm_artifact, parse_address(f"serial:{path}"), BenchConfig(timeout_s=10, idle_timeout_s=1))
    assert time.monotonic() - t0 < 5


def test_a_missing_port_is_a_clear_error(tflm_artifact):
    with pytest.raises(DeviceError, match="cannot open /dev/ttyEDGE404"):
        serial_run(tflm_artifact, parse_address("serial:/dev/ttyEDGE404@9600"), BenchConfig())
