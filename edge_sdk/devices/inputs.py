"""Real inputs for `edge-sdk bench`: one sample of the user's data (`--inputs FILE.npz`, else the eval
data report.json recorded), written as `input_0`, `input_1`, ... in the model's input order for the
Python runner (host, ssh). Zeros or random tokens are not real work for a transformer: all padding and
a fully masked attention."""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from edge_sdk.devices.artifact import BenchTarget
from edge_sdk.errors import DeviceError

RUNNERS_WITH_INPUTS = ("host", "ssh")  # the Python runner; the others feed their own (see docs/bench.md)


def _source(target: BenchTarget, given: Path | None, transport: str) -> Path | None:
    if given is not None:
        if transport not in RUNNERS_WITH_INPUTS:
            raise DeviceError(f"--inputs: the {transport} runner feeds its own inputs; real inputs run on "
                              f"{' and '.join(RUNNERS_WITH_INPUTS)} (drop --inputs, or bench there)")
        return given
    recorded = (((target.report or {}).get("data") or {}).get("eval") or {}).get("source")
    if transport not in RUNNERS_WITH_INPUTS or not recorded or not str(recorded).endswith(".npz"):
        return None
    return Path(recorded) if Path(recorded).is_file() else None


def _ordered(arrays: dict[str, np.ndarray], target: BenchTarget, source: Path) -> list[np.ndarray]:
    """The arrays in the model's input order: by the names the artifact records, else the file's order."""
    names = [i["name"] for i in target.artifact.details.get("inputs") or [] if isinstance(i, dict) and "name" in i]
    if names and all(n in arrays for n in names):
        return [arrays[n] for n in names]
    if not arrays:
        raise DeviceError(f"--inputs {source}: holds no input arrays")
    return list(arrays.values())


@contextmanager
def bench_inputs(target: BenchTarget, given: Path | None, transport: str) -> Iterator[Path | None]:
    """A temporary .npz with the first sample of each input (None: the runner's random inputs)."""
    from edge_sdk.data import read_npz

    source = _source(target, given, transport)
    if source is None:
        yield None
        return
    arrays, _ = read_npz(source)
    ordered = _ordered(arrays, target, source)
    with tempfile.TemporaryDirectory(prefix="edge-sdk-inputs-") as tmp:
        path = Path(tmp) / f"{source.stem}_sample0.npz"
        np.savez(path, **{f"input_{i}": arr[:1] for i, arr in enumerate(ordered)})
        yield path
