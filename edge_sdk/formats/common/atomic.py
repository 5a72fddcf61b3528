"""Atomic, deterministic artifact writing shared by every exporter.

Files are written into a staging dir inside `out_dir` and renamed into place only when all of them are
complete, so a failed or interrupted export leaves nothing half-written. `make_artifact` measures what
was written: bytes, deterministic gzip bytes (mtime=0, so the same files always give the same number),
sha256 (of the file, or of a directory's files in sorted order) and the versions of the tools used.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from edge_sdk import deps
from edge_sdk.model import file_sha256
from edge_sdk.contracts.records import ArenaInfo, Artifact
from edge_sdk.units import gzip_bytes


def _files_of(path: Path) -> list[Path]:
    return [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())


def content_bytes(path: Path) -> bytes:
    """A file's bytes, or a directory's files concatenated in sorted order (what gzip_bytes measures)."""
    return b"".join(f.read_bytes() for f in _files_of(path))


@contextmanager
def staging(out_dir: Path) -> Iterator[Path]:
    """A temp dir next to the final files; removed whatever happens (commit() empties it first)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def commit(stage: Path, out_dir: Path) -> list[Path]:
    """Move every entry of `stage` into `out_dir` (replacing old ones), in sorted order."""
    placed = []
    for entry in sorted(stage.iterdir()):
        target = out_dir / entry.name
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(entry, target)
        placed.append(target)
    return placed


def tool_versions(*dists: str) -> dict[str, str]:
    from edge_sdk import __version__

    found = {d: deps.version_of(d) for d in dists}
    return {"edge-sdk": __version__, **{d: v for d, v in found.items() if v}}


def make_artifact(
    fmt: str,
    main: Path,
    files: list[Path],
    precision: str,
    tools: tuple[str, ...],
    details: dict[str, Any] | None = None,
    arena: ArenaInfo | None = None,
) -> Artifact:
    return Artifact(
        format=fmt,
        path=main,
        bytes=sum(f.stat().st_size for f in _files_of(main)),
        gzip_bytes=gzip_bytes(content_bytes(main)),
        sha256=file_sha256(main),
        files=tuple(files),
        precision=precision,
        tool_versions=tool_versions(*tools),
        details=details or {},
        arena=arena,
    )
