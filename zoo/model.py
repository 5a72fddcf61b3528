"""The record a zoo generator returns and the registry entry that describes a generator."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

FAMILIES = ("android", "ios", "cortex-m", "jetson")
TASKS = ("classification", "embedding", "regression", "detection")


@dataclass(frozen=True)
class Entry:
    """One zoo model as the registry lists it (no heavy import needed to read it)."""

    name: str
    framework: str  # keras | torch | tflite
    generator: str  # "module:function", called as function(out_dir, seed) -> ZooModel
    task: str  # one of TASKS: what the first output is
    weights: str  # where the weights come from (a package's bundled file, or how they were made)
    families: tuple[str, ...]  # the families it is built for (cortex-m only where its ops allow)
    trained_rungs: bool = True  # False: inspect and untrained rungs only (too big to fine-tune here)
    build: bool = True  # False: the SDK only inspects this format (.tflite)
    ci: bool = False  # in the CI subset's trained-rung models
    notes: str = ""

    def __post_init__(self) -> None:
        assert self.task in TASKS, self.task
        assert set(self.families) <= set(FAMILIES), self.families


@dataclass(frozen=True)
class ZooModel:
    """What `make(out_dir, seed)` wrote: the model file and its data, plus what the generator measured."""

    name: str
    framework: str
    task: str
    model: Path
    calibration: Path
    eval: Path
    inputs: dict[str, list]  # input name -> [shape without batch, dtype]
    outputs: list[list]  # [shape without batch, dtype] per output
    weights: str
    checks: dict = field(default_factory=dict)  # spread / variety the generator asserted
    train: dict = field(default_factory=dict)  # how the trained-like weights were made

    @property
    def directory(self) -> Path:
        return self.model.parent

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("model", "calibration", "eval"):
            d[k] = Path(d[k]).name
        d["model_bytes"] = _size(self.model)
        return d

    def write(self) -> None:
        (self.directory / "zoo.json").write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n")

    @classmethod
    def read(cls, directory: Path) -> "ZooModel":
        d = json.loads((directory / "zoo.json").read_text())
        d.pop("model_bytes", None)
        for k in ("model", "calibration", "eval"):
            d[k] = directory / d[k]
        return cls(**d)


def _size(path: Path) -> int:
    path = Path(path)
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size
