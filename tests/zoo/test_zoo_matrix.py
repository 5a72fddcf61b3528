"""The CI subset of the conformance zoo (scripts/zoo.py; the full matrix is in docs/zoo.md).

Untrained rungs of the small zoo models on android and cortex-m (torch models: android only: they
export to no cortex-m format), and trained rungs on three small models at 1 epoch on android. Every
build must end with exit 0, 2 or 3 (never 1, a signal or a timeout), and every rung with one of the
four statuses and a non-empty reason. The big models (keras.applications, torchvision-sized nets,
BERT) are left to `python scripts/zoo.py`: generating and building them takes longer than CI has.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.zoo_matrix]  # run with: pytest -m zoo_matrix tests/zoo

UNTRAINED = ["k_kws_conv1d", "k_autoencoder", "k_gru", "k_two_input", "k_mtcnn_rnet", "t_lstm", "tfl_sine"]
UNTRAINED_FAMILIES = ["android", "cortex-m"]
TRAINED = ["k_kws_conv1d", "k_autoencoder", "t_lstm"]
FOUR = {"accepted", "rejected", "discarded", "failed"}

def _matrix(tmp: Path, models: list[str], targets: list[str], *extra: str) -> dict:
    out = tmp / "matrix.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.setdefault("EDGE_SDK_ZOO_DIR", str(Path.home() / ".cache" / "edge-sdk-zoo"))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "zoo.py"), "--models", ",".join(models), "--targets", ",".join(targets),
         "--json", str(out), "--work", str(tmp / "work"), "--timeout", "900", *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=3000,
    )
    assert out.is_file(), f"scripts/zoo.py wrote no matrix (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    doc = json.loads(out.read_text())
    doc["stdout"] = proc.stdout
    return doc


@pytest.fixture(scope="module")
def untrained(tmp_path_factory) -> dict:
    return _matrix(tmp_path_factory.mktemp("zoo-untrained"), UNTRAINED, UNTRAINED_FAMILIES, "--untrained-only")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    return _matrix(tmp_path_factory.mktemp("zoo-trained"), TRAINED, ["android"], "--epochs", "1")


def _check(doc: dict, model: str, family: str, *, trained_rungs: bool = False) -> None:
    assert not doc["summary"].get("generator_failures"), doc["summary"]["generator_failures"]
    rows = [r for r in doc["rows"] if r["model"] == model and r["target"] == family]
    assert len(rows) == 1, f"{model}/{family}: no build in the matrix:\n{doc['stdout'][-2000:]}"
    row = rows[0]
    assert row["exit"] in ("0", "2", "3"), f"{model}/{family}: exit {row['exit']}: {row.get('error', '')}\n{row['rungs']}"
    if row.get("plan") == "inspect only":
        return
    if row["exit"] == "2":  # refused before any rung (an op or layer the target cannot take): one line, named
        assert row.get("error", "").strip(), f"{model}/{family}: exit 2 without a message"
        return
    assert row["rungs"], f"{model}/{family}: exit {row['exit']} but no rung in report.json: {row.get('error', '')}"
    for rung in row["rungs"]:
        assert rung["status4"] in FOUR, f"{model}/{family}/{rung['rung']}: status {rung['status']}"
        assert rung["reason"].strip(), f"{model}/{family}/{rung['rung']}: {rung['status']} without a reason"
    if family == "cortex-m" and row.get("bench"):  # edge-sdk bench --device host on the written artifact
        assert row["bench"]["exit"] == "0", f"{model}/{family}: bench --device host: {row['bench']}"
    if trained_rungs:
        assert any(r["trains"] for r in row["rungs"]), f"{model}/{family}: no trained rung was evaluated"


@pytest.mark.parametrize("model", UNTRAINED)
def test_untrained_rungs_android(untrained, model):
    _check(untrained, model, "android")


@pytest.mark.parametrize("model", [m for m in UNTRAINED if not m.startswith("t_")])
def test_untrained_rungs_cortex_m(untrained, model):
    _check(untrained, model, "cortex-m")


@pytest.mark.parametrize("model", TRAINED)
def test_trained_rungs_one_epoch(trained, model):
    _check(trained, model, "android", trained_rungs=True)
