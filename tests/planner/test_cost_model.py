"""The per-op-kind cost model (planner/cost_model.py), its fit (planner/calibrate.py) and
`edge-sdk calibrate`: known coefficients are recovered from synthetic measurements, the overlay it
writes is a valid profile, and the planner's estimate then uses its kernel costs."""

from __future__ import annotations

import json
import typing

import numpy as np
import pytest

from edge_sdk.planner.calibrate import Sample, fit
from edge_sdk.planner.cost_model import FEATURES, op_work
from edge_sdk.planner.estimate import OP_OVERHEAD_CYCLES, estimate
from edge_sdk.profiles import CostFeature, get_profile, load_profile_file
from tests.e2e.conftest import run_cli
from tests.planner.profile_factory import make_profile

CLOCK = 100_000_000
TRUE_CYCLES = {"conv": 6.0, "depthwise": 11.0, "pointwise": 4.0, "dense": 2.5, "elementwise": 3.0, "pooling": 2.0,
               "activation": 9.0, "data_movement": 1.0, "ops": 1500.0, "weight_bytes": 0.25}


def _ms(work: dict[str, float], cycles: dict[str, float] = TRUE_CYCLES) -> float:
    return 1000 * sum(cycles[f] * work[f] for f in work) / CLOCK


def test_the_profile_schema_names_every_feature_of_the_cost_model():
    assert typing.get_args(CostFeature) == FEATURES


def test_fit_recovers_known_coefficients_from_enough_measurements():
    rng = np.random.default_rng(0)
    samples = []
    for i in range(16):
        work = {f: float(rng.uniform(0, 1e6 if f not in ("ops", "weight_bytes") else 100)) for f in FEATURES}
        samples.append(Sample(f"m{i}", work, _ms(work)))
    result = fit(samples, CLOCK)
    for feature, true in TRUE_CYCLES.items():
        assert result.cycles[feature] == pytest.approx(true, rel=1e-6), feature
    assert max(abs(e) for e in result.loo_errors.values()) < 1e-6


def test_fit_never_gives_a_negative_cost_and_reports_how_far_held_out_models_miss():
    rng = np.random.default_rng(1)
    samples = []
    for i in range(6):
        work = {f: float(rng.uniform(0, 1e6)) for f in ("conv", "dense", "pooling")}
        noisy = _ms(work) * (1 + rng.normal(0, 0.1))
        samples.append(Sample(f"m{i}", work, noisy))
    result = fit(samples, CLOCK)
    assert set(result.cycles) == {"conv", "dense", "pooling"}
    assert all(c >= 0 for c in result.cycles.values())
    assert 0 < result.summary()["leave_one_out_median_abs_error"] < 0.5


def test_a_kind_the_measurements_leave_free_stays_near_the_rate_prior_instead_of_costing_nothing():
    work = {"conv": 4e5, "dense": 1e5}  # one model: conv and dense cannot be told apart
    sample = Sample("one", work, _ms(work, {"conv": 3.0, "dense": 3.0}))
    plain = fit([sample], CLOCK)
    assert min(plain.cycles.values()) == 0.0  # NNLS alone puts all the time on one kind
    pulled = fit([sample], CLOCK, prior={"conv": 2.0, "dense": 2.0})
    assert all(1.0 < c < 5.0 for c in pulled.cycles.values())
    assert abs(pulled.errors["one"]) < 0.05


def _kernel_model(keras):
    L = keras.layers
    keras.utils.set_random_seed(0)
    inp = keras.Input((16, 16, 3))
    x = L.Conv2D(8, 3, padding="same", use_bias=False)(inp)
    x = L.ReLU()(L.BatchNormalization()(x))  # folded into the conv: costs nothing
    x = L.DepthwiseConv2D(3, padding="same")(x)
    x = L.Conv2D(16, 1)(x)
    x = L.SeparableConv2D(16, 3, padding="same")(x)
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inp, L.Dense(4, activation="softmax")(x))


def test_op_work_splits_a_model_by_kernel_kind():
    from edge_sdk import analyze, deps, load_model

    info = analyze(load_model(_kernel_model(deps.tf_keras())))
    work = op_work(info, "tflite", "int8")
    by_name = {layer.kind: layer for layer in info.layers}
    assert work["conv"] == 16 * 16 * 3 * 3 * 3 * 8
    assert work["depthwise"] == 16 * 16 * 3 * 3 * 8 + 16 * 16 * 3 * 3 * 16  # the depthwise and the separable's
    assert work["pointwise"] == 16 * 16 * 16 * 8 + 16 * 16 * 16 * 16  # the 1x1 conv and the separable's
    assert work["dense"] == 16 * 4
    assert work["activation"] == 4  # the Dense's SOFTMAX op; the folded ReLU is not one
    assert work["pooling"] == by_name["pool"].other_ops
    assert work["weight_bytes"] == sum(l.params for l in info.layers if l.macs)


def test_estimate_uses_kernel_costs_and_falls_back_to_the_rate_for_kinds_without_one():
    from edge_sdk import analyze, deps, load_model

    info = analyze(load_model(_kernel_model(deps.tf_keras())))
    plain = make_profile("cortex-m")
    unit = plain.compute.units[0].model_dump(mode="json", exclude_none=True)
    partial = {k: v for k, v in TRUE_CYCLES.items() if k != "pooling"}
    data = plain.model_dump(mode="json", exclude_none=True)
    data["compute"]["units"] = [{**unit, "kernels": {"library": "test", "cycles": {"int8": partial}, "source": "test"}}]
    with_kernels = type(plain).model_validate(data)
    work = op_work(info, "tflite", "int8")
    rate_cycles_per_mac = CLOCK / (4e8 * 0.5)  # the test profile's int8 rate and efficiency
    expected = _ms(work, {**TRUE_CYCLES, "pooling": rate_cycles_per_mac})
    got = estimate(info, with_kernels, fmt="tflm", precision="int8").latency_ms["cpu"]
    assert got == pytest.approx(expected, rel=1e-3)
    assert estimate(info, plain, fmt="tflm", precision="int8").latency_ms["cpu"] != pytest.approx(got, rel=0.01)
    without_ops = {k: v for k, v in partial.items() if k != "ops"}
    data["compute"]["units"][0]["kernels"]["cycles"]["int8"] = without_ops
    fallback = estimate(info, type(plain).model_validate(data), fmt="tflm", precision="int8").latency_ms["cpu"]
    assert fallback - got == pytest.approx(1000 * work["ops"] * (OP_OVERHEAD_CYCLES - TRUE_CYCLES["ops"]) / CLOCK, rel=1e-3)


def _bench_file(directory, model_path, measured_ms, profile="stm32f746-disco"):
    directory.mkdir(parents=True)
    (directory / "bench.json").write_text(json.dumps({
        "bench": {"device": "board", "runner": "serial", "artifact": model_path.name, "runs": 20, "warmup": 5,
                  "latency_ms": {"p50": measured_ms}, "complete": True, "error": ""},
        "artifact": {"format": "tflm", "path": f"../{model_path.name}", "files": [], "bytes": 1,
                     "sha256": "0" * 64, "precision": "int8"},
        "profile": profile}))
    return directory / "bench.json"


@pytest.mark.slow
def test_calibrate_writes_an_overlay_that_profiles_show_accepts_and_estimates_then_match(tmp_path):
    from edge_sdk import analyze, deps, load_model

    keras = deps.tf_keras()
    L = keras.layers
    base = get_profile("stm32f746-disco")
    models = {"cnn": _kernel_model(keras),
              "mlp": keras.Sequential([keras.Input((64,)), L.Dense(128, activation="relu"), L.Dense(10)]),
              "dw": keras.Sequential([keras.Input((32, 32, 8)), L.DepthwiseConv2D(3), L.Conv2D(8, 1), L.MaxPooling2D()])}
    benches, expected = [], {}
    for name, model in models.items():
        path = tmp_path / f"{name}.keras"
        model.save(path)
        work = op_work(analyze(load_model(path)), "tflite", "int8")
        measured = 1000 * sum(TRUE_CYCLES[f] * w for f, w in work.items()) / base.compute.clock_hz
        benches.append(str(_bench_file(tmp_path / name, path, measured)))
        expected[name] = measured
    out = tmp_path / "profiles" / "board.yaml"
    result = run_cli("calibrate", *benches, "--out", str(out), "--name", "my-board", "--library", "cmsis-nn", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    # the weak prior toward the board's rate model costs a few percent on three models
    assert max(abs(e) for e in summary["errors"].values()) < 0.10
    shown = run_cli("profiles", "show", "my-board", "--profiles-dir", str(out.parent), "--json")
    assert shown.returncode == 0, shown.stderr
    kernels = json.loads(shown.stdout)["compute"]["units"][0]["kernels"]
    assert kernels["library"] == "cmsis-nn" and set(kernels["cycles"]["int8"]) <= set(FEATURES)
    plain = run_cli("profiles", "show", "my-board", "--profiles-dir", str(out.parent))
    assert plain.returncode == 0 and "kernel costs of cpu (cmsis-nn" in plain.stdout, plain.stderr
    calibrated = load_profile_file(out)
    for name in models:  # the planner's estimate under the overlay is the fit's own prediction
        got = estimate(analyze(load_model(tmp_path / f"{name}.keras")), calibrated, fmt="tflm", precision="int8")
        fitted = expected[name] * (1 + summary["errors"][f"{name}/{name}.keras"])
        assert got.latency_ms["cpu"] == pytest.approx(fitted, rel=0.005)
    ratios = [1 / (1 + e) for e in summary["leave_one_out_errors"].values()]
    assert kernels["error_band"]["int8"] == pytest.approx([min(ratios), max(ratios)], rel=1e-3)
    for check_on in ("lower", "upper"):  # plan shows the band and checks the end it was told to
        planned = run_cli("plan", "--model", str(tmp_path / "cnn.keras"), "--target", "my-board", "--profiles-dir",
                          str(out.parent), "--latency-check", check_on, "--json")
        assert planned.returncode == 0, planned.stderr
        rung = json.loads(planned.stdout)["targets"]["my-board"]["ladder"][0]
        assert rung["estimates"]["latency_band_ms"]["cpu"] and rung["budgets"]["latency_ms"]["basis"] == f"band {check_on} end"


def test_calibrate_names_the_file_it_cannot_use_and_writes_nothing(tmp_path):
    bad = tmp_path / "report.json"
    bad.write_text(json.dumps({"profile": {"name": "x"}}))
    host = _bench_file(tmp_path / "host", tmp_path / "model.tflite", 3.0)
    doc = json.loads(host.read_text())
    doc["bench"]["runner"] = "host"
    host.write_text(json.dumps(doc))
    out = tmp_path / "overlay.yaml"
    for path, says in ((bad, "not an `edge-sdk bench` bench.json"), (host, "on this machine, not on the device")):
        result = run_cli("calibrate", str(path), "--out", str(out))
        assert result.returncode == 2
        assert str(path) in result.stderr and says in result.stderr and "Traceback" not in result.stderr
        assert not out.exists()


def test_traced_operators_give_a_row_per_kind_that_pins_each_kind_from_few_models():
    """Per-operator times (bench.json op_profile) split each model into a row per op kind, so three
    models determine costs that three whole-model rows could not."""
    from edge_sdk.planner.calibrate import traced_samples
    from edge_sdk.planner.cost_model import traced_kinds

    truth = {"conv": 6.0, "pointwise": 6.0, "depthwise": 11.0, "dense": 2.5, "ops": 1500.0}
    names = {"conv": "Convolution (NHWC, F32) IGEMM #{}", "depthwise": "Convolution (NHWC, F32) DWConv #{}",
             "dense": "Fully Connected (NC, F32) GEMM #{}"}
    assert traced_kinds(names["conv"]) == ("conv", "pointwise") and traced_kinds("Transpose (ND, X32) #1") == ("data_movement",)
    assert traced_kinds("native_call_addmm.out") == ("dense",) and traced_kinds("Convert (NC, F32, QD8) #1") is None
    rng = np.random.default_rng(3)
    samples = []
    for m in range(3):
        work, ops = {}, []
        for kind, name in names.items():
            n = int(rng.integers(1, 6))
            per_op = rng.uniform(1e4, 1e6, n)
            work[kind] = float(per_op.sum())
            ops += [{"name": name.format(i), "ms": 1000 * (truth[kind] * w + truth["ops"]) / CLOCK} for i, w in enumerate(per_op)]
        ops.append({"name": "Transpose (ND, X32) #9", "ms": 0.5})  # a layout op the model has no work for: left out
        rows = traced_samples(f"m{m}", work, ops, "float32")
        assert sorted(r.name.split(":")[1] for r in rows) == ["conv+pointwise", "dense", "depthwise"]
        samples += rows
    result = fit(samples, CLOCK)
    for kind in ("conv", "depthwise", "dense"):
        assert result.cycles[kind] == pytest.approx(truth[kind], rel=0.02), kind
    assert max(abs(e) for e in result.errors.values()) < 0.02
