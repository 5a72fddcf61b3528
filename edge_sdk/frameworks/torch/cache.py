"""Torch models in the build cache: the ExportedProgram as a `.pt2` (torch.export.save / load)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge_sdk import deps

FILE = "model.pt2"


def save(handle: Any, path: Path) -> None:
    deps.torch().export.save(handle, path)


def load(path: Path) -> Any:
    return deps.torch().export.load(path)
