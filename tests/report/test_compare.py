"""The regression gate's rules, on realistic reports (tests/report/fixtures)."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

import pytest

from edge_sdk.errors import ReportError
from edge_sdk.report.compare import Thresholds, compare, load_reports, parse_fraction, parse_points, write_junit

T = Thresholds()


def _by_metric(changes):
    return {(c.target, c.metric): c for c in changes}


def test_identical_reports_do_not_move(android_report, cortex_m_report):
    reports = {"pixel-7": android_report, "stm32f746-disco": cortex_m_report}
    changes = compare(reports, json.loads(json.dumps(reports)), T)
    assert changes and not any(c.moved for c in changes)


def test_size_growth_over_threshold_is_a_regression(android_report):
    new = json.loads(json.dumps(android_report))
    new["artifacts"][0]["bytes"] = int(android_report["artifacts"][0]["bytes"] * 1.10)
    size = _by_metric(compare({"pixel-7": android_report}, {"pixel-7": new}, T))[("pixel-7", "size_bytes")]
    assert size.regression and size.change == "+10.0%" and size.limit == "+5%"
    relaxed = compare({"pixel-7": android_report}, {"pixel-7": new}, Thresholds(max_size_growth=0.11))
    assert not any(c.regression for c in relaxed)


def test_latency_compares_like_with_like(android_report):
    """Base was benchmarked on the device, new was not: compare the two estimates, not bench vs estimate."""
    new = json.loads(json.dumps(android_report))
    del new["bench"]
    latency = _by_metric(compare({"p": android_report}, {"p": new}, T))[("p", "latency_ms")]
    assert latency.base == latency.new == 0.4 and not latency.regression and "estimate" in latency.note
    new["estimates"]["latency_ms"]["cpu"] = 0.5  # +25% estimated
    latency = _by_metric(compare({"p": android_report}, {"p": new}, T))[("p", "latency_ms")]
    assert latency.regression


def test_quality_drop_in_points(android_report):
    new = json.loads(json.dumps(android_report))
    new["verification"]["fidelity"]["top1_agreement"] = 0.9930  # -0.42 points: within 0.5
    new["verification"]["accuracy"]["compressed"] = 99.0  # -0.72 points: over
    by = _by_metric(compare({"p": android_report}, {"p": new}, T))
    assert not by[("p", "top1_agreement")].regression and by[("p", "accuracy")].regression
    assert by[("p", "accuracy")].change == "-0.72 pt"


def test_feasible_to_infeasible_and_missing_target_are_regressions(android_report, cortex_m_report):
    new = json.loads(json.dumps(android_report))
    new["feasible"] = False
    by = _by_metric(compare({"pixel-7": android_report, "stm32f746-disco": cortex_m_report}, {"pixel-7": new}, T))
    assert by[("pixel-7", "feasible")].regression
    assert by[("stm32f746-disco", "present")].regression
    gained = _by_metric(compare({"pixel-7": android_report}, {"pixel-7": android_report, "x": cortex_m_report}, T))
    assert not gained[("x", "present")].regression


def test_load_reports_from_dir_file_and_profile_dir(android_report, cortex_m_report, tmp_path):
    for name, report in (("pixel-7", android_report), ("stm32f746-disco", cortex_m_report)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.json").write_text(json.dumps(report))
    assert sorted(load_reports(tmp_path)) == ["pixel-7", "stm32f746-disco"]
    assert list(load_reports(tmp_path / "pixel-7")) == ["pixel-7"]
    assert list(load_reports(tmp_path / "pixel-7" / "report.json")) == ["pixel-7"]


@pytest.mark.parametrize("content, message", [(None, "no <profile>/report.json"), ("{not json", "not a readable report.json"), ('{"a": 1}', "not an edge-sdk report.json")])
def test_bad_input_is_one_line_report_error(tmp_path, content, message):
    if content is not None:
        (tmp_path / "report.json").write_text(content)
    with pytest.raises(ReportError, match=message):
        load_reports(tmp_path)


def test_thresholds_parse():
    assert parse_fraction("5%", "--x") == pytest.approx(0.05) and parse_fraction("10", "--x") == pytest.approx(0.10)
    assert parse_points("0.5", "--y") == 0.5 and parse_points("1pt", "--y") == 1.0
    with pytest.raises(ReportError, match="--x 'five'"):
        parse_fraction("five", "--x")


def test_junit_one_case_per_target_metric_with_failures(android_report, tmp_path):
    new = json.loads(json.dumps(android_report))
    new["artifacts"][0]["bytes"] = int(android_report["artifacts"][0]["bytes"] * 1.10)
    changes = compare({"pixel-7": android_report}, {"pixel-7": new}, T)
    root = ET.parse(write_junit(changes, tmp_path / "junit.xml")).getroot()
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == len(changes) and root.get("failures") == "1"
    failed = [c for c in cases if c.find("failure") is not None]
    assert [(c.get("classname"), c.get("name")) for c in failed] == [("pixel-7", "size_bytes")]


def test_latency_estimate_tolerates_units_without_a_number():
    from edge_sdk.report.summary import estimated_latency_ms

    assert estimated_latency_ms({"latency_ms": {"cpu": 2.0, "npu": None}, "best_unit": "npu"}) == 2.0
    assert estimated_latency_ms({"latency_ms": {"npu": None}}) is None
    assert estimated_latency_ms({"latency_ms": 3}) == 3.0 and estimated_latency_ms(None) is None
