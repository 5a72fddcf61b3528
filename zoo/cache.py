"""The zoo's content-addressed cache: a model is generated once per (name, seed, generator source,
installed versions) and reused from `<root>/<name>-<key>/` after that.

The key hashes the generator's module and zoo/common.py + zoo/model.py (so editing a generator
regenerates only its models), the seed, and the versions of the packages that shape the bytes
(TensorFlow, Keras, torch, torchvision, transformers, mtcnn, tflite-micro, numpy). A directory is
written under a temporary name and renamed into place when complete, so an interrupted generation
leaves nothing that looks finished. Root: `EDGE_SDK_ZOO_DIR`, else `~/.cache/edge-sdk-zoo`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import time
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


def key(entry: Entry, seed: int) -> str:
    module = entry.generator.split(":")[0]
    spec = importlib.util.find_spec(module)
    h = hashlib.sha256()
    for path in (Path(spec.origin), _HERE / "common.py", _HERE / "model.py"):
        h.update(path.read_bytes())
    h.update(f"{entry.name}|{entry.generator}|{seed}|{_versions()}".encode())
    return h.hexdigest()[:16]


def generate(entry: Entry, seed: int = 0, root: Path | str | None = None, *, force: bool = False) -> ZooModel:
    root = Path(root) if root else default_root()
    final = root / f"{entry.name}-s{seed}-{key(entry, seed)}"
    if (final / "zoo.json").is_file() and not force:
        return ZooModel.read(final)
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=root))
    module, func = entry.generator.split(":")
    import importlib

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
