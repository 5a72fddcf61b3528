"""`--executor ray:ADDRESS` against a real Ray cluster on this machine (`ray start --head` plus worker
nodes, tests/pipeline/ray_cluster.py): the same artifacts, byte for byte, as a local build; a shared
trained step trained once; a node killed mid-build and its task run again elsewhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.e2e.conftest import ROOT, run_cli
from tests.pipeline.plans import PLAN, artifact_hashes
from tests.pipeline.ray_cluster import LOOPBACK_ENV, LocalRayCluster

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    c = LocalRayCluster()
    try:
        c.start_head(cpus=1)
        c.add_node(cpus=1, resource="node_b")
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("plan") / "plan.json"
    path.write_text(json.dumps(PLAN))
    return path


def _build_args(digits_paths, plan_file, out, *extra):
    return ["build", "--model", str(digits_paths["model"]), "--calibration", str(digits_paths["calibration"]),
            "--target", "android", "--target", "cortex-m", "--plan", str(plan_file), "--search", "pareto",
            "--no-cache", "--out", str(out), *extra]


@pytest.fixture(scope="module")
def local_hashes(tmp_path_factory, digits_paths, plan_file):
    out = tmp_path_factory.mktemp("local") / "out"
    result = run_cli(*_build_args(digits_paths, plan_file, out, "--executor", "local", "--quiet"))
    assert result.returncode == 0, result.stderr
    return artifact_hashes(out)


def _reports(out):
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(out.glob("*/report.json"))}


# First in the file on purpose: the module's cluster (started by the first test that asks for it) would
# otherwise be running, `ray:auto` finds any local head by its process, and the test waits minutes on it.
def test_auto_with_no_cluster_running_is_one_line_and_exit_2(tmp_path, digits_paths, plan_file):
    result = run_cli(*_build_args(digits_paths, plan_file, tmp_path / "out", "--executor", "ray:auto"),
                     env={"RAY_ADDRESS": ""})
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: --executor ray:auto: ") and "Traceback" not in result.stderr


def test_a_ray_build_is_byte_identical_to_a_local_one_and_trains_a_shared_step_once(
        cluster, tmp_path, digits_paths, plan_file, local_hashes):
    out = tmp_path / "out"
    result = run_cli(*_build_args(digits_paths, plan_file, out, "--executor", f"ray:{cluster.address}", "--quiet"),
                     env=LOOPBACK_ENV)
    assert result.returncode == 0, result.stderr
    assert artifact_hashes(out) == local_hashes
    reports = _reports(out)
    nodes = {cluster.label_of("node_b"), cluster.label_of("node:__internal_head__")}
    ran_on = set()
    for report in reports.values():
        assert report["executor"]["name"] == "ray" and report["executor"]["address"] == cluster.address
        assert set(report["executor"]["nodes"]) == nodes
        for attempt in report["attempts"]:
            assert [r["outcome"] for r in attempt["runs"]] == ["finished"]
            ran_on.add(attempt["runs"][0]["node"])
    assert ran_on == nodes  # both nodes took candidates
    qat = [next(a for a in reports[p]["attempts"] if a["name"] == "qat-int8") for p in ("pixel-8", "stm32f746-disco")]
    assert sorted(a["cache_hits"] for a in qat) == [0, 1]  # one target trained QAT, the other reused it


def test_a_node_killed_mid_build_loses_its_task_to_another_node(cluster, tmp_path, digits_paths, plan_file, local_hashes):
    victim = cluster.add_node(cpus=1, resource="victim")
    label = cluster.label_of("victim")
    out = tmp_path / "out"
    build = subprocess.Popen([sys.executable, "-m", "edge_sdk.cli",
                              *_build_args(digits_paths, plan_file, out, "--executor", f"ray:{cluster.address}")],
                             cwd=ROOT, env={**os.environ, **LOOPBACK_ENV, "PYTHONHASHSEED": "0"},
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    for line in build.stdout:  # type: ignore[union-attr]
        seen.append(line)
        if f"{label}: 1 running" in line and victim.poll() is None:
            cluster.kill(victim)  # the node dies with a task on it
    assert build.wait(timeout=900) == 0, "".join(seen)
    assert victim.poll() is not None, "no task ran on the victim node:\n" + "".join(seen)
    runs = [a["runs"] for report in _reports(out).values() for a in report["attempts"]]
    lost = [r for r in runs if r[0]["node"] == label]
    assert lost and all([x["outcome"] for x in r] == ["node lost", "finished"] and r[1]["node"] != label for r in lost)
    assert artifact_hashes(out) == local_hashes


def test_no_cluster_at_the_address_is_one_line_and_exit_2(tmp_path, digits_paths, plan_file):
    result = run_cli(*_build_args(digits_paths, plan_file, tmp_path / "out", "--executor", "ray:127.0.0.1:1"))
    assert result.returncode == 2
    assert "--executor ray:127.0.0.1:1: no Ray cluster answers there" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def second_model(tmp_path_factory, digits_paths):
    """Another model: the example with its output bias moved (a different file, a different sha256)."""
    from edge_sdk import deps

    keras = deps.tf_keras()
    model = keras.models.load_model(digits_paths["model"])
    weights = model.layers[-1].get_weights()
    model.layers[-1].set_weights([*weights[:-1], weights[-1] + 0.01])
    path = tmp_path_factory.mktemp("second") / "digits_b.keras"
    model.save(path)
    return path


def test_a_matrix_build_of_two_models_and_two_targets_trains_each_shared_step_once(
        cluster, tmp_path, digits_paths, plan_file, second_model):
    out = tmp_path / "out"
    args = _build_args(digits_paths, plan_file, out, "--model", str(second_model), "--executor",
                       f"ray:{cluster.address}", "--quiet")
    result = run_cli(*args, env=LOOPBACK_ENV)
    assert result.returncode == 0, result.stderr
    for name in ("model", "digits_b"):
        reports = _reports(out / name)
        assert sorted(reports) == ["pixel-8", "stm32f746-disco"]
        qat = [next(a for a in reports[p]["attempts"] if a["name"] == "qat-int8") for p in sorted(reports)]
        assert sorted(a["cache_hits"] for a in qat) == [0, 1], name  # QAT of each model trained once, for both targets
        assert all(a["artifact"] for r in reports.values() for a in r["attempts"])  # every rung built
    index = (out / "index.html").read_text()
    assert all(f'href="{m}/{p}/report.html"' in index for m in ("model", "digits_b") for p in ("pixel-8", "stm32f746-disco"))
