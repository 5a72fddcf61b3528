"""The smallest arena TFLite Micro really allocates and runs a model in, searched in a child process.

Why a child: with an arena just too small, TFLM's allocation can succeed and the invoke then overrun it
and crash the process (SIGSEGV; measured on the zoo's dense autoencoder: fine at 17,360 B recorded,
refused at 17,000-20,000 B, a segfault at 16,000 B). A probe that crashes means that arena does not
fit; only the child dies, and the next probe starts a new one.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile

from edge_sdk.formats.common.flatbuffer import read_graph
from edge_sdk.formats.tflm.runner import MAX_PROBE_ARENA

# `runner.fits_in_arena` in a child; standalone (tflite_micro and numpy only), since importing edge_sdk
# there doubled the child's start-up, which every cortex-m build pays once
_PROBE = """
import sys
import numpy as np
from tflite_micro import runtime
flatbuffer, inputs = open(sys.argv[1], "rb").read(), int(sys.argv[2])
for line in sys.stdin:
    try:
        interp = runtime.Interpreter.from_bytes(flatbuffer, arena_size=int(line))
        for i in range(inputs):
            d = interp.get_input_details(i)
            interp.set_input(np.zeros(tuple(d["shape"]), dtype=d["dtype"]), i)
        interp.invoke()
        print(1, flush=True)
    except RuntimeError:
        print(0, flush=True)
"""


class _ArenaProbe:
    """`fits_in_arena` answered by a child process, restarted after a crash."""

    def __init__(self, model_path: str, inputs: int) -> None:
        self.args = [model_path, str(inputs)]
        self.proc: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", _PROBE, *self.args], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def fits(self, size: int) -> bool:
        if self.proc is None:
            self.proc = self._start()
        try:
            self.proc.stdin.write(f"{size}\n")
            self.proc.stdin.flush()
            answer = self.proc.stdout.readline()
        except BrokenPipeError:
            answer = ""
        if not answer:  # the child died on this arena: too small
            self.proc.wait()
            self.proc = None
            return False
        return answer.strip() == "1"

    def close(self) -> None:
        if self.proc is not None:
            self.proc.stdin.close()
            self.proc.wait()


def required_arena(flatbuffer: bytes, recorded: int, align: int = 16) -> int:
    """The smallest arena (to `align` bytes) the interpreter really allocates and runs the model in, from
    the recorded total up: the recorder can count less than allocation needs (alignment, the
    interpreter's own structures), and a harness sized from it would fail on the device."""
    with tempfile.NamedTemporaryFile(suffix=".tflite") as f:
        f.write(flatbuffer)
        f.flush()
        probe = _ArenaProbe(f.name, len(read_graph(flatbuffer).inputs))
        try:
            return _search(probe.fits, recorded, align)
        finally:
            probe.close()


def _search(fits, recorded: int, align: int) -> int:
    lo = recorded
    if fits(lo):
        return lo
    hi = lo * 2
    while not fits(hi):
        if hi >= MAX_PROBE_ARENA:
            raise RuntimeError(f"TFLM allocates this model in no arena up to {MAX_PROBE_ARENA} bytes, yet recorded {recorded}")
        lo, hi = hi, hi * 2
    while hi - lo > align:  # invariant: lo does not fit, hi does
        mid = (lo + hi) // 2 // align * align
        if mid <= lo:
            break
        lo, hi = (lo, mid) if fits(mid) else (mid, hi)
    return hi
