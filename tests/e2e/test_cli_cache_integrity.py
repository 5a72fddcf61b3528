"""A damaged build-cache entry is never shipped: the next identical build finds the file no longer
matching its stored sha256, discards the entry, rebuilds it and says so (issue 16's cache case)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from .test_cli_build import CAL, EVAL, MODEL

pytestmark = pytest.mark.slow


def _build(cli, out: Path) -> tuple[dict, str]:
    proc = cli("build", "--model", str(MODEL), "--calibration", str(CAL), "--eval-data", str(EVAL),
               "--target", "android", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return json.loads(next(out.glob("*/report.json")).read_text()), proc.stdout + proc.stderr


def _shipped(out: Path, report: dict) -> bytes:
    return (next(out.glob("*/report.json")).parent / report["artifacts"][0]["path"]).read_bytes()


def test_a_truncated_cached_artifact_is_rebuilt_not_shipped(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_SDK_CACHE_DIR", str(tmp_path / "cache"))
    first, _ = _build(cli, tmp_path / "first")
    original = _shipped(tmp_path / "first", first)
    cached = [p for p in (tmp_path / "cache").rglob("*.tflite") if p.read_bytes() == original]
    assert cached, "the accepted artifact is stored in the cache"
    for path in cached:
        path.write_bytes(original[: len(original) // 2])

    second, said = _build(cli, tmp_path / "second")
    shipped = _shipped(tmp_path / "second", second)
    assert shipped == original and hashlib.sha256(shipped).hexdigest() == second["artifacts"][0]["sha256"]
    assert sum(a["cache_discarded"] for a in second["attempts"]) >= 1
    assert "no longer matches its sha256" in said and "discarded" in said
