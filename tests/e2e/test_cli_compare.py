"""`edge-sdk compare` through the real CLI entry point: exit codes, table, --json, --junit."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from edge_sdk.cli import main

FIXTURES = Path(__file__).resolve().parent.parent / "report" / "fixtures"


@pytest.fixture
def builds(tmp_path) -> tuple[Path, Path]:
    """Two build output dirs, each OUT/<profile>/report.json, identical to start with."""
    base = tmp_path / "base"
    for name, fixture in (("pixel-7", "report_android.json"), ("stm32f746-disco", "report_cortex_m.json")):
        (base / name).mkdir(parents=True)
        shutil.copy(FIXTURES / fixture, base / name / "report.json")
    new = tmp_path / "new"
    shutil.copytree(base, new)
    return base, new


def _grow(report_path: Path, factor: float) -> None:
    report = json.loads(report_path.read_text())
    report["artifacts"][0]["bytes"] = int(report["artifacts"][0]["bytes"] * factor)
    report_path.write_text(json.dumps(report))


def test_identical_builds_pass(builds, capsys):
    assert main(["compare", str(builds[0]), str(builds[1])]) == 0
    assert "no metric moved across 2 target(s)" in capsys.readouterr().out


def test_injected_10_percent_size_regression_fails(builds, tmp_path, capsys):
    base, new = builds
    _grow(new / "pixel-7" / "report.json", 1.10)
    junit = tmp_path / "ci" / "compare.xml"
    assert main(["compare", str(base), str(new), "--junit", str(junit)]) == 4  # a regression, not an internal error
    out = capsys.readouterr().out
    assert "size_bytes" in out and "+10.0%" in out and "REGRESSION" in out and "1 regression(s)" in out
    root = ET.parse(junit).getroot()
    failures = [c for c in root.iter("testcase") if c.find("failure") is not None]
    assert [(c.get("classname"), c.get("name")) for c in failures] == [("pixel-7", "size_bytes")]
    assert "+10.0%" in failures[0].find("failure").get("message")


def test_threshold_flag_lets_the_same_growth_pass(builds):
    _grow(builds[1] / "pixel-7" / "report.json", 1.10)
    assert main(["compare", str(builds[0]), str(builds[1]), "--max-size-growth", "15%"]) == 0


def test_two_report_files_and_json_output(builds, capsys):
    base, new = builds
    _grow(new / "stm32f746-disco" / "report.json", 1.06)
    code = main(["compare", str(base / "stm32f746-disco" / "report.json"), str(new / "stm32f746-disco" / "report.json"), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 4 and doc["regressions"] == 1
    assert [c["metric"] for c in doc["changes"] if c["regression"]] == ["size_bytes"]


def test_bad_input_exits_2_with_one_line(builds, tmp_path, capsys):
    assert main(["compare", str(builds[0]), str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "missing" in err and "\n" not in err
    assert main(["compare", str(builds[0]), str(builds[1]), "--max-size-growth", "lots"]) == 2


def test_reports_of_different_models_say_so_without_failing_the_gate(builds, capsys):
    base, new = builds
    report_path = new / "pixel-7" / "report.json"
    report = json.loads(report_path.read_text())
    report["model"] = {**report["model"], "sha256": "9" * 64, "path": "other.keras", "params": 12}
    report_path.write_text(json.dumps(report))
    assert main(["compare", str(base), str(new), "--json"]) == 0
    (row,) = [c for c in json.loads(capsys.readouterr().out)["changes"] if c["metric"] == "model"]
    assert row["target"] == "pixel-7" and row["new"] == "9" * 12 and not row["regression"]
    assert "other.keras (12 params)" in row["note"]
    assert main(["compare", str(base), str(new)]) == 0
    assert "different model file" in capsys.readouterr().out


def test_json_gives_every_change_as_a_number(builds, capsys):
    base, new = builds
    _grow(new / "pixel-7" / "report.json", 1.10)
    assert main(["compare", str(base), str(new), "--json"]) == 4
    (row,) = [c for c in json.loads(capsys.readouterr().out)["changes"] if c["metric"] == "size_bytes" and c["moved"]]
    assert row["change"] == "+10.0%" and abs(row["delta"] - 0.10) < 1e-3 and row["max_delta"] == 0.05
    assert isinstance(row["base"], int) and isinstance(row["new"], int)
