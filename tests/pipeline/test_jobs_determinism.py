"""`--jobs 2` gives the same artifacts, byte for byte, as `--jobs 1`: tasks are self-contained, every
decision is made in ladder order, and a worker's earlier tasks leave nothing behind that a later one
could see."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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


PRUNE = {"name": "prune-channels25-qat-int8", "fmt": "tflm", "precision": "int8", "framework": "keras",
         "steps": [{"technique": "prune", "params": {"sparsity": 0.25, "structure": "channel", "qat": True}}]}


@pytest.mark.slow
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 cores to compare a 1-core build with")
def test_trained_artifacts_do_not_depend_on_the_cores_of_the_machine(tmp_path, digits_paths):
    """A Ray node or a CI runner has another core count than a laptop: a trained rung built on 1 core and
    on every core of this machine is byte-identical (with the frameworks' default thread pools, one
    thread per core, it was not)."""
    (tmp_path / "plan.json").write_text(json.dumps({"plan_version": 2, "targets": {"stm32f746-disco": [PRUNE]}}))
    everything = os.sched_getaffinity(0)
    hashes = {}
    for cores in ({min(everything)}, everything):
        out = tmp_path / f"out{len(cores)}"
        command = [sys.executable, "-m", "edge_sdk.cli", "build", "--model", str(digits_paths["model"]),
                   "--calibration", str(digits_paths["calibration"]), "--train-data", str(digits_paths["train"]),
                   "--target", "cortex-m", "--plan", str(tmp_path / "plan.json"), "--search", "pareto",
                   "--no-cache", "--out", str(out), "--quiet"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=900,
                                env={**os.environ, "PYTHONHASHSEED": "0"},
                                preexec_fn=lambda cores=cores: os.sched_setaffinity(0, cores))
        assert result.returncode in (0, 3), result.stderr
        hashes[len(cores)] = artifact_hashes(out)
    assert "stm32f746-disco/prune-channels25-qat-int8" in hashes[1]
    assert hashes[1] == hashes[len(everything)]
