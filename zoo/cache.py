"""The zoo's content-addressed cache: a model is generated once per (name, seed, generator source,
installed versions) and reused from `<root>/<name>-<key>/` after that.

The key hashes the generator's module, every zoo module it imports (transitively) and
zoo/common.py + zoo/model.py (so editing a generator regenerates only its models), the seed, and the versions of the packages that shape the bytes
(TensorFlow, Keras, torch, torchvision, transformers, mtcnn, tflite-micro, numpy). A directory is
written under a temporary name and renamed into place when complete, so an interrupted generation
leaves nothing that looks finished; a file lock per model makes a second process (a pytest-xdist
worker) wait for the first one's generation instead of repeating it. Root: `EDGE_SDK_ZOO_DIR`, else `~/.cache/edge-sdk-zoo`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

from zoo.model import Entry, ZooModel

_PACKAGES = ("numpy", "tensorflow", "keras", "torch", "torchvision", "transformers", "mtcnn", "tflite-micro")
_HERE = Path(__file__).resolve().parent


def default_root() -> Path:
    return Path(os.environ.get("EDGE_SDK_ZOO_DIR") or Path.home() / ".cache" / "edge-sdk-zoo")


def _versions() -> str:
    out = []
    for p in _PACKAGES:
        try:
            out.append(f"{p}={metadata.version(p)}")
        except metadata.PackageNotFoundError:
            out.append(f"{p}=-")
    return ",".join(out)


def _sources(module: str) -> list[Path]:
    """The generator's module and every zoo module it imports, transitively."""
    seen: dict[str, Path] = {}
    todo = [module.split(".")[-1], "common", "model"]
    while todo:
        name = todo.pop()
        path = _HERE / f"{name}.py"
        if name in seen or not path.is_file():
            continue
        seen[name] = path
        text = path.read_text()
        todo += re.findall(r"\bzoo\.(\w+)", text)
        todo += [n.strip() for line in re.findall(r"from zoo import ([\w, ]+)", text) for n in line.split(",")]
    return [seen[k] for k in sorted(seen)]


def key(entry: Entry, seed: int) -> str:
    module = entry.generator.split(":")[0]
    h = hashlib.sha256()
    for path in _sources(module):
        h.update(path.read_bytes())
    h.update(f"{entry.name}|{entry.generator}|{seed}|{_versions()}".encode())
    return h.hexdigest()[:16]


def generate(entry: Entry, seed: int = 0, root: Path | str | None = None, *, force: bool = False) -> ZooModel:
    root = Path(root) if root else default_root()
    final = root / f"{entry.name}-s{seed}-{key(entry, seed)}"
    if (final / "zoo.json").is_file() and not force:
        return ZooModel.read(final)
    root.mkdir(parents=True, exist_ok=True)
    with _generating(final):
        if (final / "zoo.json").is_file() and not force:
            return ZooModel.read(final)  # another process (a pytest-xdist worker) generated it meanwhile
        return _generate_into(entry, seed, final)


@contextlib.contextmanager
def _generating(final: Path) -> Iterator[None]:
    """One generator per model at a time across processes: parallel test workers needing the same zoo
    model wait for the first instead of training it twice and replacing the directory under its reader."""
    with (final.parent / f".{final.name}.lock").open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _generate_into(entry: Entry, seed: int, final: Path) -> ZooModel:
    work = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=final.parent))
    module, func = entry.generator.split(":")
    t0 = time.monotonic()
    try:
        zm = getattr(importlib.import_module(module), func)(work, seed)
        zm = ZooModel(**{**zm.__dict__, "train": {**zm.train, "generate_s": round(time.monotonic() - t0, 1), "seed": seed}})
        zm.write()
        if final.exists():
            shutil.rmtree(final)
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return ZooModel.read(final)
