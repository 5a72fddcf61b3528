"""Latency error bands (issue 18 point 4): a calibrated unit's leave-one-out residuals become a band on
its estimates, and `latency_check` picks which end of the band a latency budget is checked on."""

from __future__ import annotations

import pytest

from edge_sdk.contracts.budgets import BudgetCheck, Budgets
from edge_sdk.errors import BudgetError
from edge_sdk.planner.calibrate import Fit
from edge_sdk.planner.estimate import estimate
from edge_sdk.planner.search import evaluate_budgets
from tests.planner.profile_factory import make_profile

CYCLES = {"conv": 6.0, "pointwise": 4.0, "dense": 2.5, "pooling": 2.0, "ops": 1500.0}


def _calibrated(band: list[float] | None):
    plain = make_profile("cortex-m")
    data = plain.model_dump(mode="json", exclude_none=True)
    kernels = {"library": "test", "cycles": {"int8": CYCLES}, "source": "test"}
    if band is not None:
        kernels["error_band"] = {"int8": band}
    data["compute"]["units"][0]["kernels"] = kernels
    return type(plain).model_validate(data)


def _info():
    from edge_sdk import analyze, deps, load_model

    keras = deps.tf_keras()
    L = keras.layers
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((16, 16, 3)), L.Conv2D(8, 3), L.Conv2D(16, 1), L.MaxPooling2D(),
                              L.Flatten(), L.Dense(4)])
    return analyze(load_model(model))


def test_the_band_is_the_range_of_measured_over_estimated_ratios_the_held_out_models_showed():
    result = Fit(cycles={}, errors={}, loo_errors={"a": 1.0, "b": -0.5, "c": 0.25})  # estimate / measured - 1
    assert result.error_band == (0.5, 2.0)  # measured / estimate: 1/2 .. 1/0.5
    assert Fit(cycles={}, errors={"a": 0.0}, loo_errors={}).error_band is None  # one model: nothing held out


def test_a_calibrated_unit_puts_its_band_around_the_estimate_and_an_uncalibrated_one_has_none():
    info = _info()
    banded = estimate(info, _calibrated([0.8, 1.5]), fmt="tflm", precision="int8")
    ms = banded.latency_ms["cpu"]
    assert banded.latency_band_ms["cpu"] == pytest.approx((0.8 * ms, 1.5 * ms), rel=1e-3)
    assert banded.best_latency_band_ms == banded.latency_band_ms["cpu"]
    assert estimate(info, _calibrated(None), fmt="tflm", precision="int8").latency_band_ms == {}
    assert estimate(info, make_profile("cortex-m"), fmt="tflm", precision="int8").best_latency_band_ms is None


@pytest.mark.parametrize("check_on, value, ok", [("lower", 80.0, True), ("estimate", 120.0, False), ("upper", 200.0, False)])
def test_latency_check_picks_the_end_of_the_band_the_budget_is_checked_on(check_on, value, ok):
    check = BudgetCheck("latency_ms", 100.0, 120.0, band=(80.0, 200.0), check_on=check_on)
    assert check.value == value and check.ok is ok
    assert check.to_dict()["band"] == [80.0, 200.0]
    if not ok:
        assert "120" in check.describe() and "> limit 100" in check.describe()


def test_a_measurement_beats_the_band_and_a_check_without_a_band_uses_the_estimate():
    measured = BudgetCheck("latency_ms", 100.0, 120.0, measured=150.0, band=(80.0, 200.0))
    assert (measured.basis, measured.value, measured.ok) == ("measured", 150.0, False)
    assert "measured 150" in measured.describe()
    plain = BudgetCheck("latency_ms", 100.0, 120.0, check_on="lower")
    assert (plain.basis, plain.value, plain.ok) == ("estimate", 120.0, False)
    lower = BudgetCheck("latency_ms", 50.0, 120.0, band=(80.0, 200.0))
    assert lower.describe() == ("latency_ms estimated 80 (band lower end of 80-200, point 120) > limit 50 (60% over)")


def test_the_budget_check_of_a_rung_follows_the_configured_end():
    info = _info()
    profile = _calibrated([0.5, 2.0])
    est = estimate(info, profile, fmt="tflm", precision="int8")
    limit = est.best_latency_ms * 0.8  # the point estimate misses, the optimistic end does not
    for check_on, basis, ok in (("lower", "band lower end", True), ("upper", "band upper end", False), (None, "band lower end", True)):
        budgets = Budgets.from_profile(profile, latency_ms=limit, latency_check=check_on)
        latency = {c.name: c for c in evaluate_budgets(budgets, est, None)}["latency_ms"]
        assert (latency.basis, latency.ok) == (basis, ok), check_on


def test_a_bad_latency_check_or_band_is_one_line_naming_it():
    with pytest.raises(BudgetError, match="latency_check"):
        Budgets.parse(latency_check="sideways")
    with pytest.raises(Exception, match="error_band.int8"):
        _calibrated([2.0, 0.5])
