"""schemas/ describes what edge-sdk writes (issue 16, point 7): a real build's `--json`, report.json,
bench.json, plan file and `compare --json` validate, report paths are relative to the report and
resolve from it, and the schemas refuse what breaks the contract."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from edge_sdk.cli import main

from .conftest import DIGITS_CALIBRATION, DIGITS_EVAL, DIGITS_MODEL
from .schemas import SCHEMAS, problems, validator


def test_every_schema_is_valid_json_schema_2020_12():
    names = [p.name.removesuffix(".schema.json") for p in SCHEMAS.glob("*.schema.json")]
    assert {"report", "bench", "plan", "compare", "build-output", "common"} <= set(names)
    for name in names:
        validator(name)  # check_schema raises on an invalid schema


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A digits build through the CLI, Pareto search over the untrained rungs (a plan file keeps them:
    training rungs add minutes and nothing to the documents' shape): (OUT, `--json`)."""
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("schemas")
    assert main(["plan", "--model", str(DIGITS_MODEL), "--target", "android", "--save", str(root / "plan.json")]) == 0
    plan = json.loads((root / "plan.json").read_text())
    plan["targets"] = {name: [c for c in ladder if not c["trains"]] for name, ladder in plan["targets"].items()}
    (root / "plan.json").write_text(json.dumps(plan))
    out = root / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "edge_sdk.cli", "build", "--model", str(DIGITS_MODEL), "--calibration", str(DIGITS_CALIBRATION),
         "--eval-data", str(DIGITS_EVAL), "--target", "android", "--search", "pareto",
         "--plan", str(root / "plan.json"), "--out", str(out), "--no-cache", "--quiet", "--json"],
        capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, json.loads(proc.stdout)


@pytest.mark.slow
def test_a_real_build_validates_and_names_every_file_relative_to_its_report(built):
    out, document = built
    assert problems("build-output", document) == []
    for report_path in sorted(out.glob("*/report.json")):
        report, here = json.loads(report_path.read_text()), report_path.parent
        assert problems("report", report) == []
        assert (here / report["model"]["path"]).resolve() == DIGITS_MODEL.resolve()
        assert (here / report["data"]["eval"]["source"]).resolve() == DIGITS_EVAL.resolve()
        for artifact in report["artifacts"]:
            assert all((here / f).is_file() for f in artifact["files"]), artifact["files"]
        kept = [a["artifact"] for a in report["attempts"] if a.get("artifact") and a["artifact"]["kept"]]
        assert kept and all((here / a["path"]).is_file() for a in kept)  # the chosen one and the Pareto points
        assert all(a["artifact"]["path"] is None for a in report["attempts"]
                   if a.get("artifact") and not a["artifact"]["kept"])  # scratch space is gone: no stale path
        assert str(out) not in json.dumps({k: v for k, v in report.items() if k != "attempts"})


@pytest.mark.slow
def test_bench_plan_and_compare_outputs_validate(built, tmp_path, capsys):
    out, _ = built
    android = next(p.parent for p in out.glob("*/report.json") if json.loads(p.read_text())["target"] == "android")
    assert main(["bench", str(android), "--device", "host", "--runs", "3", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert problems("bench", printed) == []
    assert problems("bench", json.loads((android / "bench.json").read_text())) == []
    assert problems("report", json.loads((android / "report.json").read_text())) == []  # with its bench section

    plan = tmp_path / "plan.json"
    assert main(["plan", "--model", str(DIGITS_MODEL), "--target", "android", "--target", "cortex-m", "--save", str(plan)]) == 0
    capsys.readouterr()
    assert problems("plan", json.loads(plan.read_text())) == []

    assert main(["compare", str(out), str(out), "--json"]) == 0
    assert problems("compare", json.loads(capsys.readouterr().out)) == []


def test_the_schemas_refuse_what_breaks_the_contract():
    report = json.loads((Path(__file__).parent / "report" / "fixtures" / "report_android.json").read_text())
    assert problems("report", report) == []
    absolute = copy.deepcopy(report)
    absolute["model"]["path"] = "/home/ci/model.keras"
    assert any(p.startswith("model/path") for p in problems("report", absolute))
    stringly = copy.deepcopy(report)
    stringly["artifacts"][0]["bytes"] = "49,392"
    assert any(p.startswith("artifacts/0/bytes") for p in problems("report", stringly))
    assert problems("plan", {"plan_version": 2, "targets": {}})  # a plan for no profile
    assert problems("compare", {"regressions": "0", "thresholds": {}, "changes": []})
