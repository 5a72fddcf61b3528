"""serial runner over a pseudo-terminal pair (os.openpty). The board is a STAND-IN: a process that
speaks the harness's JSON-lines protocol on the pty master, the way the Cortex-M firmware does over
UART. The stand-in is the real Python runner executing the TFLM artifact in the TFLite Micro
interpreter, so the numbers it sends are real TFLM timings, only not from a microcontroller.

For real inputs (protocol 2) the stand-in board also reads the pty: it prints `ready`, takes the host's
`input I HEX` / `run` lines the way targets/cortex_m/uart_inputs.h does, runs the Python runner on the
bytes it received and logs them; uart_inputs.h itself is compiled with the host's g++ and fed the exact
bytes the runner sends."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import tty
from dataclasses import replace

import numpy as np
import pytest

from edge_sdk.devices import BenchConfig, BenchInterrupted, bench, parse_address
from edge_sdk.devices.harness import PYTHON_RUNNER
from edge_sdk.devices.protocol import RunCollector
from edge_sdk.devices.serial import fnv1a, input_lines
from edge_sdk.devices.serial import run as serial_run
from edge_sdk.errors import DeviceError

from .conftest import ROOT, copy_out

STANDIN_BOARD = r'''"""STAND-IN for the Cortex-M firmware's serial protocol 2 (tests only): each cycle it drops stale
input, prints `ready`, reads the host's lines for a window as uart_inputs.h does (`input I HEX`, `run`;
nothing -> inputs kept, `run` alone -> random, every input -> the received bytes), then runs the real
Python runner on the TFLM model with those bytes as its input tensor and forwards its JSON lines with
the firmware's `start` fields (protocol 2, inputs, inputs_fnv1a). It logs what it received."""
import json, os, select, subprocess, sys, tempfile, time
import numpy as np
runner, model, log, cycles, window, rx = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), sys.argv[6] == "rx"
dtype, shape = np.dtype(sys.argv[7]), tuple(int(d) for d in sys.argv[8].split(","))
nbytes = int(np.prod(shape)) * dtype.itemsize

def out(obj):
    os.write(1, (json.dumps(obj) + "\n").encode())

def fnv1a(data):
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h

def receive():
    """The host's lines up to `run` (None: nothing came in the window)."""
    if not rx:
        time.sleep(window)
        return None
    buf, limit = b"", window
    while not buf.endswith(b"run\n"):
        if not select.select([0], [], [], limit)[0]:
            return None if not buf else buf
        buf, limit = buf + os.read(0, 65536), 1.0
    return buf

held, fnv, tmp = "random", 0, tempfile.mkdtemp()
for cycle in range(cycles):
    while rx and select.select([0], [], [], 0)[0]:
        os.read(0, 65536)
    out({"event": "ready", "protocol": 2, "inputs": 1, "input_bytes": nbytes})
    lines = receive()
    got = {}
    if lines is not None:
        for line in lines.decode().splitlines():
            if line.startswith("input "):
                _, i, hexdata = line.split(" ", 2)
                got[int(i)] = bytes.fromhex(hexdata)
        if got.keys() == {0} and len(got[0]) == nbytes:
            held, fnv = "uart", fnv1a(got[0])
            np.savez(os.path.join(tmp, "rx.npz"), input_0=np.frombuffer(got[0], dtype).reshape(shape))
        elif got:
            out({"event": "error", "message": "inputs over UART: input 0 size"})
            held = "random"
        else:
            held = "random"
    with open(log, "a") as f:
        f.write(json.dumps({"cycle": cycle, "received": lines is not None, "hex": got.get(0, b"").hex(), "held": held}) + "\n")
    args = ["--inputs", os.path.join(tmp, "rx.npz")] if held == "uart" else []
    done = subprocess.run([sys.executable, runner, model, "--kind", "tflm", "--runs", "4", "--warmup", "0", *args],
                          capture_output=True, text=True)
    for text in done.stdout.splitlines():
        event = json.loads(text)
        if event["event"] == "start":
            event.update(protocol=2, inputs=held, inputs_fnv1a=fnv if held == "uart" else 0)
        out(event)
'''


@pytest.fixture
def pty_board(tflm_artifact, tmp_path):
    """Start the stand-in board on a fresh pty; yields (start(args) -> Popen, slave path)."""
    master, slave = os.openpty()
    tty.setraw(slave)  # a UART has no line discipline: no echo, no CR/LF translation
    procs, master_open = [], [True]

    def start(*args: str, banner: bool = True, protocol2: tuple | None = None) -> subprocess.Popen:
        """protocol2: (log path, cycles, window s, "rx" or "no-rx") runs the protocol-2 stand-in board instead."""
        prelude = "import sys; sys.stdout.write('boot: edge-sdk harness\\n'); sys.stdout.flush(); " if banner else ""
        code = f"{prelude}import runpy, sys; sys.argv = {[str(PYTHON_RUNNER), *args]!r}; runpy.run_path({str(PYTHON_RUNNER)!r}, run_name='__main__')"
        argv = [sys.executable, "-c", code]
        if protocol2 is not None:
            board = tmp_path / "standin_board.py"
            board.write_text(STANDIN_BOARD)
            argv = [sys.executable, str(board), str(PYTHON_RUNNER), str(tflm_artifact.path), *map(str, protocol2), "int8", "1,8,8,1"]
        proc = subprocess.Popen(argv, stdin=master, stdout=master, stderr=subprocess.DEVNULL, pass_fds=(master,))
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


EVAL_NPZ = ROOT / "calibration_data" / "digits_eval.npz"


def _tflm_quantized_sample(tflm_artifact) -> bytes:
    """The first eval sample quantized with the scale and zero point TFLM's own interpreter reports."""
    from tflite_micro.python.tflite_micro import runtime

    detail = runtime.Interpreter.from_file(str(tflm_artifact.path)).get_input_details(0)
    q = detail["quantization_parameters"]
    scale, zero_point = float(q["scales"][0]), int(q["zero_points"][0])
    x = np.load(EVAL_NPZ)["x"][:1]
    return np.clip(np.round(x / scale) + zero_point, -128, 127).astype(np.int8).tobytes()


@pytest.mark.parametrize("window_s,late_s", [(2.0, 0.0), (0.3, 1.5)], ids=["in-window", "late-answer"])
def test_serial_sends_the_sample_to_the_board_before_the_timed_runs(pty_board, tflm_artifact, tmp_path, window_s, late_s):
    """--inputs over UART: the runner answers `ready` with `input 0 HEX` + `run`, and the board benchmarks
    on exactly the int8 bytes of the quantized first sample; the start it reports names the file and the
    bytes' hash. An answer to a `ready` whose window had closed (late-answer) is dropped by the board and
    that cycle skipped: the runner keeps the next one, which holds the sample."""
    start, path = pty_board
    log = tmp_path / "board.jsonl"
    start(protocol2=(log, 5, window_s, "rx"))
    time.sleep(late_s)
    out = copy_out(tflm_artifact, tmp_path / "board")
    result, doc = bench(out, f"serial:{path}@115200", BenchConfig(timeout_s=120, idle_timeout_s=60, inputs=EVAL_NPZ))
    expected = _tflm_quantized_sample(tflm_artifact)
    held = [c for c in map(json.loads, log.read_text().splitlines()) if c["held"] == "uart"]
    assert held and held[0]["hex"] == expected.hex()  # what reached the board, byte for byte
    assert held[0]["cycle"] >= (1 if late_s else 0)
    assert result.complete and result.runs == 4 and result.latency_ms["p50"] > 0
    start_event = doc["bench"]["raw"]["start"]
    assert start_event["protocol"] == 2 and start_event["inputs"] == "digits_eval_sample0.npz"
    assert start_event["inputs_fnv1a"] == fnv1a(expected)


def test_a_board_that_cannot_receive_refuses_inputs_and_runs_random_by_default(pty_board, tflm_artifact, tmp_path):
    """A protocol-2 board without EdgeSdkUartRead() never takes the bytes: --inputs is an error saying
    what to define; the eval-data default falls back to the board's random inputs and says so."""
    start, path = pty_board
    start(protocol2=(tmp_path / "board.jsonl", 12, 0.3, "no-rx"))
    out = copy_out(tflm_artifact, tmp_path / "board")
    with pytest.raises(DeviceError, match=r"--inputs .*digits_eval.npz: the board on serial:.* did not take them over "
                                          r"the UART \(its start says inputs 'random'\); define EdgeSdkUartRead\(\)"):
        bench(out, f"serial:{path}", BenchConfig(timeout_s=120, idle_timeout_s=60, inputs=EVAL_NPZ))
    (out / "report.json").write_text(json.dumps({"profile": {"name": "stm32f746-disco"},
                                                 "data": {"eval": {"source": str(EVAL_NPZ)}}}))
    result, _ = bench(out, f"serial:{path}", BenchConfig(timeout_s=120, idle_timeout_s=60))
    assert result.complete and result.raw["start"]["inputs"] == "random"


def test_protocol_1_firmware_with_inputs_is_a_clear_error(pty_board, tflm_artifact, tmp_path):
    start, path = pty_board
    start(str(tflm_artifact.path), "--kind", "tflm", "--runs", "3", "--warmup", "0")
    with pytest.raises(DeviceError, match=r"takes no inputs \(protocol 1\); rebuild and flash it from this harness"):
        bench(copy_out(tflm_artifact, tmp_path / "board"), f"serial:{path}",
              BenchConfig(timeout_s=60, idle_timeout_s=30, inputs=EVAL_NPZ))


UART_DRIVER = r"""
#include <poll.h>
#include <unistd.h>

#include <cstdlib>

#include "uart_inputs.h"

static int ReadStdin(uint32_t timeout_ms) {  // the board's EdgeSdkUartRead() + DWT timeout, on a pipe
  pollfd p{0, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(timeout_ms)) <= 0) return -1;
  unsigned char c;
  return read(0, &c, 1) == 1 ? c : -1;
}

int main(int argc, char** argv) {  // argv: the input tensors' sizes in bytes
  static uint8_t storage[4096];
  edge_sdk::InputBuffer inputs[8];
  size_t count = static_cast<size_t>(argc - 1), offset = 0;
  for (size_t i = 0; i < count; ++i) {
    inputs[i] = {storage + offset, static_cast<size_t>(atoi(argv[i + 1]))};
    offset += inputs[i].bytes;
  }
  char error[96];
  const auto result = edge_sdk::ReceiveInputs(inputs, count, ReadStdin, 300, error, sizeof(error));
  printf("%d %lu %s\n", static_cast<int>(result), static_cast<unsigned long>(edge_sdk::Fnv1a(inputs, count)), error);
  for (size_t i = 0; i < count; ++i) {
    for (size_t b = 0; b < inputs[i].bytes; ++b) printf("%02x", inputs[i].data[b]);
    printf("\n");
  }
  return 0;
}
"""


@pytest.mark.needs_tool
@pytest.mark.skipif(shutil.which("g++") is None, reason="needs a host g++ to compile targets/cortex_m/uart_inputs.h")
def test_the_firmwares_receiver_decodes_exactly_what_the_runner_sends(tmp_path):
    """uart_inputs.h (what main.cc runs in its window) compiled for the host and fed input_lines()'s bytes:
    every tensor gets the sent bytes and the FNV-1a matches the runner's; short, missing and unknown
    lines are errors naming the input; `run` alone means random inputs, silence means no host."""
    (tmp_path / "driver.cc").write_text(UART_DRIVER)
    exe = tmp_path / "driver"
    subprocess.run(["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", "-I", str(ROOT / "targets" / "cortex_m"),
                    str(tmp_path / "driver.cc"), "-o", str(exe)], check=True, capture_output=True, timeout=300)

    def board(data: bytes, *sizes: int) -> list[str]:
        done = subprocess.run([str(exe), *map(str, sizes)], check=False, input=data, capture_output=True, timeout=60)
        return done.stdout.decode().splitlines()

    image = np.random.default_rng(0).integers(-128, 128, (1, 8, 8, 1)).astype(np.int8)
    ids = np.array([[7, -300, 32000]], np.int16)
    lines = input_lines([image, ids])
    assert lines.startswith(b"input 0 ") and lines.endswith(b"\nrun\n")
    status, *rows = board(lines, 64, 6)
    assert status == f"2 {fnv1a(image.tobytes() + ids.astype('<i2').tobytes())} "  # kReceived, no error
    assert rows == [image.tobytes().hex(), ids.astype("<i2").tobytes().hex()]
    assert board(lines.replace(b"\n", b"\r\n"), 64, 6)[0].startswith("2 ")  # CRLF from a terminal program

    short = b"input 0 " + image.tobytes()[:63].hex().encode() + b"\nrun\n"
    assert board(short, 64)[0].endswith(" input 0: 63 bytes came, the tensor takes 64")
    assert board(b"input 0 " + image.tobytes().hex().encode() + b"\nrun\n", 64, 6)[0].endswith(
        " input 1 never came (1 of 2 inputs did)")
    assert board(b"hello\nrun\n", 64)[0].endswith(" unknown line from the host (expected input or run)")
    assert board(b"input 0 zz\nrun\n", 1)[0].endswith(" input 0 is not an even count of hex digits")
    assert board(b"run\n", 64)[0].startswith("1 ") and board(b"", 64)[0].startswith("0 ")
    assert board(b"input 0 00", 1)[0].endswith(" the host went silent before its run line")
