"""Byte and count sizes as people write and read them ('256KiB', '1.5MB', '12.3 KiB', '4.56M').

Neutral ground for the CLI, the project file, budgets and the HTML report alike.
"""

from __future__ import annotations

import gzip
import re
from typing import Optional

from edge_sdk.errors import BudgetError


def human_bytes(n: Optional[float]) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def human_count(n: Optional[float]) -> str:
    if n is None:
        return "-"
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.2f}{unit}"
    return f"{n:.0f}"


_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2, "g": 1000**3, "gb": 1000**3, "gib": 1024**3}


def parse_bytes(text: Optional[str], flag: str) -> Optional[int]:
    """'262144', '256KiB', '1.5MB' -> bytes; a bad value is a one-line BudgetError naming the flag."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(text))
    if not m or m.group(2).lower() not in _UNITS:
        raise BudgetError(f"{flag} {text!r}: expected bytes like 262144, 256KiB or 1.5MB")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def gzip_bytes(data: bytes) -> int:
    """Size of `data` after gzip -9 with a zero timestamp (reproducible): what a download or an OTA
    update costs, and how well pruned zeros compress."""
    return len(gzip.compress(data, compresslevel=9, mtime=0))
