"""The arena search survives TFLM crashing on an arena that is too small (the zoo's dense autoencoder:
allocation succeeded at 16,000 B and the invoke segfaulted, killing the whole candidate): the probe
runs in a child process, a crash counts as "does not fit", and the next probe starts a new child."""

from __future__ import annotations

import types

from edge_sdk.formats.tflm import arena_search

CRASHING_PROBE = """
import os, signal, sys
for line in sys.stdin:
    size = int(line)
    if 1000 <= size < 1500:
        os.kill(os.getpid(), signal.SIGSEGV)  # what TFLM does when the invoke overruns the arena
    print(int(size >= 1500), flush=True)
"""


def test_a_crashing_probe_counts_as_too_small_and_the_search_goes_on(monkeypatch):
    monkeypatch.setattr(arena_search, "_PROBE", CRASHING_PROBE)
    monkeypatch.setattr(arena_search, "read_graph", lambda flatbuffer: types.SimpleNamespace(inputs=(0,)))
    assert arena_search.required_arena(b"not read by this probe", recorded=1000) == 1504


def test_search_is_the_smallest_aligned_fitting_arena():
    assert arena_search._search(lambda size: size >= 5000, recorded=1000, align=16) == 5008
    assert arena_search._search(lambda size: True, recorded=1000, align=16) == 1000
