"""`--jobs 2` gives the same artifacts, byte for byte, as `--jobs 1`: tasks are self-contained, every
decision is made in ladder order, and a worker's earlier tasks leave nothing behind that a later one
could see."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import run_cli
from tests.pipeline.plans import PLAN, artifact_hashes


@pytest.mark.slow
def test_jobs_2_pareto_build_is_byte_identical_to_jobs_1(tmp_path, digits_paths):
    (tmp_path / "plan.json").write_text(json.dumps(PLAN))
    hashes = {}
    for jobs in (1, 2):
        out = tmp_path / f"out{jobs}"
        result = run_cli(
            "build", "--model", str(digits_paths["model"]), "--calibration", str(digits_paths["calibration"]),
            "--target", "android", "--target", "cortex-m", "--plan", str(tmp_path / "plan.json"),
            "--search", "pareto", "--jobs", str(jobs), "--no-cache", "--out", str(out), "--quiet",
        )
        assert result.returncode == 0, result.stderr
        hashes[jobs] = artifact_hashes(out)
    assert len([k for k in hashes[1] if "/" in k and k.count("/") == 1]) >= 6  # every rung was built
    assert hashes[1] == hashes[2]
