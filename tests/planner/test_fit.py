"""Fit check: unsupported ops with their layers, dtypes, and each estimate against its budget."""

from __future__ import annotations

import json

import pytest

from edge_sdk import analyze, check_fit
from edge_sdk.errors import BudgetError, UnsupportedOpError
from edge_sdk.contracts.budgets import Budgets
from edge_sdk.planner.estimate import estimate
from tests.planner.profile_factory import make_profile


@pytest.fixture(scope="module")
def digits_info(digits_loaded):
    return analyze(digits_loaded)


def test_int8_only_mcu_marks_float32_not_runnable(digits_info):
    report = check_fit(digits_info, make_profile("cortex-m"))
    assert report.fmt == "tflm" and report.ops_checked and not report.unsupported_ops
    rows = {r.precision: r for r in report.rows}
    assert not rows["float32"].runnable and "int8 only" in rows["float32"].reason
    assert rows["int8"].runnable and rows["int8"].ok
    assert [d.dtype for d in report.unsupported_dtypes] == ["float32"]
    assert "quantize to int8" in report.unsupported_dtypes[0].fix
    assert report.ok


def test_missing_op_names_the_layer(digits_info):
    profile = make_profile("android", ops={"tflite": ["CONV_2D", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED"]})
    report = check_fit(digits_info, profile)
    assert [(o.layer, o.op, o.runtime_op) for o in report.unsupported_ops] == [("probs", "Dense", "SOFTMAX")]
    assert not report.ok
    with pytest.raises(UnsupportedOpError, match=r"probs \(Dense -> SOFTMAX\)"):
        report.raise_for_unsupported()


def test_over_budget_says_by_how_much(digits_info):
    profile = make_profile("cortex-m")
    budgets = Budgets.from_profile(profile, flash_bytes=20_000, latency_ms=1.0)
    report = check_fit(digits_info, profile, budgets)
    int8 = next(r for r in report.rows if r.precision == "int8")
    flash = next(c for c in int8.checks if c.name == "flash_bytes")
    expected = estimate(digits_info, profile, fmt="tflm", precision="int8").flash_bytes
    assert flash.estimate == expected and not flash.ok
    assert flash.over_by == expected - 20_000
    assert flash.over_by_pct == pytest.approx(100 * (expected - 20_000) / 20_000, abs=0.1)
    latency = next(c for c in int8.checks if c.name == "latency_ms")
    assert latency.unit == "cpu" and not latency.ok and latency.over_by == pytest.approx(latency.estimate - 1.0)
    ram = next(c for c in int8.checks if c.name == "ram_bytes")
    assert ram.ok and ram.over_by is None
    assert not int8.ok and not report.ok


def test_report_is_json(digits_info):
    d = check_fit(digits_info, make_profile("android")).to_dict()
    again = json.loads(json.dumps(d))
    assert again["format"] == "tflite" and {r["precision"] for r in again["estimates"]} == {"float32", "int8"}
    assert again["budgets"]["flash_bytes"] == 100 << 20


def test_framework_without_a_format_for_the_target(digits_info):
    from dataclasses import replace

    torch_like = replace(digits_info, framework="torch")
    report = check_fit(torch_like, make_profile("cortex-m"))  # TFLM takes no ExecuTorch program
    assert report.fmt is None and not report.rows and not report.ok
    with pytest.raises(UnsupportedOpError, match="no format"):
        report.raise_for_unsupported()


def test_budgets_from_profile_and_overrides():
    profile = make_profile("cortex-m")
    b = Budgets.from_profile(profile, ram_bytes=None, latency_ms=50)
    assert (b.ram_bytes, b.flash_bytes, b.latency_ms) == (256 * 1024, 768 * 1024, 50)
    assert b.max_accuracy_drop == 1.0 and b.min_fidelity["top1_agreement"] == 0.99 and b.min_fidelity["sqnr_db"] == 20
    tuned = Budgets.from_profile(profile, min_fidelity=["sqnr_db=30"])
    assert tuned.min_fidelity["sqnr_db"] == 30 and tuned.min_fidelity["top1_agreement"] == 0.99  # the rest keep theirs
    with pytest.raises(BudgetError, match="unknown budget"):
        Budgets.from_profile(profile, ram=1)
    with pytest.raises(BudgetError, match="ram_bytes: Input should be greater than 0"):
        Budgets.from_profile(profile, ram_bytes=-5)
    with pytest.raises(BudgetError, match="min_fidelity"):
        Budgets.parse(min_fidelity=1.5)
    with pytest.raises(BudgetError, match="metric 'top1' is unknown; valid: .*top1_agreement"):
        Budgets.parse(min_fidelity=["top1=0.9"])


def test_fit_table_says_over_by_how_much(digits_info, capsys):
    from edge_sdk.commands.inspect import _print_fit

    profile = make_profile("cortex-m")
    report = check_fit(digits_info, profile, Budgets.from_profile(profile, flash_bytes=20_000))
    _print_fit(report)
    out = capsys.readouterr().out
    flash = next(c for r in report.rows if r.precision == "int8" for c in r.checks if c.name == "flash_bytes")
    assert f"over by {flash.over_by / 1024:.1f} KiB ({flash.over_by_pct:.0f}%)" in out
    assert "not runnable" in out and "does not fit as is" in out


def test_budgets_refuse_nan_and_infinity():
    profile = make_profile("cortex-m")
    for bad in (float("nan"), float("inf")):
        with pytest.raises(BudgetError, match="latency_ms"):
            Budgets.from_profile(profile, latency_ms=bad)
