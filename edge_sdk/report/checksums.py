"""SHA256SUMS in OUT/<profile>/ (issue 16, point 8): `sha256sum -c SHA256SUMS` there checks that what
ships (the artifact's files, the harness, MODEL_CARD.md, Pareto points) is what the build wrote.

report.json, report.html and bench.json are not listed: `edge-sdk bench` rewrites them after the build.
"""

from __future__ import annotations

from pathlib import Path

from edge_sdk.model import file_sha256

FILE_NAME = "SHA256SUMS"
UNLISTED = frozenset({FILE_NAME, "report.json", "report.html", "bench.json"})


def sha256sums(directory: Path) -> str:
    """The file's text: one `<sha256>  <path relative to directory>` line per file, sorted by path."""
    files = sorted((p.relative_to(directory).as_posix(), p) for p in directory.rglob("*") if p.is_file())
    return "".join(f"{file_sha256(path)}  {name}\n" for name, path in files if name not in UNLISTED)
