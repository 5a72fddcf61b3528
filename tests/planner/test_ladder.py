"""The candidate ladder: order, target capabilities, and estimates that discard before training."""

from __future__ import annotations

import pytest

from edge_sdk import analyze, check_fit, get_profile
from edge_sdk.units import parse_bytes
from edge_sdk.errors import BudgetError
from edge_sdk.contracts.budgets import Budgets
from edge_sdk.planner.ladder import build_ladder
from edge_sdk.planner.plan_file import read_plan, write_plan
from edge_sdk.planner.search import HARD, candidate_estimate, evaluate_budgets


@pytest.fixture(scope="module")
def info(digits_loaded):
    return analyze(digits_loaded)


def names(ladder):
    return [c.name for c in ladder]


def test_int8_only_target_skips_float_rungs_and_exports_tflm(info):
    ladder = build_ladder(info, get_profile("cortex-m"))
    assert {c.fmt for c in ladder} == {"tflm"}
    assert not any(c.precision in ("float32", "float16", "dynamic-int8", "int8-mixed") for c in ladder)
    assert names(ladder)[0] == "int8"
    assert all(c.io_dtype == ("int16" if c.precision == "int16x8" else "int8") for c in ladder)


def test_float_target_orders_float_then_int8_then_training_then_distillation(info):
    ladder = names(build_ladder(info, get_profile("android")))
    assert ladder[:7] == ["fp32", "fp16", "dynamic-int8", "int8", "int8-cle", "int8-tuned", "int8-mixed"]
    order = [ladder.index(n) for n in ("qat-int8", "prune50-qat-int8", "prune80-qat-int8", "cluster16-qat-int8",
                                          "lowrank-qat-int8", "distill0.75-qat-int8", "distill0.5-qat-int8", "distill0.35-qat-int8")]
    assert order == sorted(order)


def test_ios_uses_core_ml_precisions_and_weight_compression(info):
    ladder = build_ladder(info, get_profile("ios"))
    assert {c.fmt for c in ladder} == {"coreml"}
    assert [c.coreml_compression for c in ladder[:4]] == [None, "linear8", "palettize6", "palettize4"]


def test_estimates_shrink_down_the_ladder(info):
    profile = get_profile("cortex-m")
    ladder = {c.name: c for c in build_ladder(info, profile)}
    flash = {n: candidate_estimate(info, profile, ladder[n]).flash_bytes for n in ("int8", "distill0.75-qat-int8", "distill0.5-qat-int8", "distill0.35-qat-int8")}
    assert flash["int8"] > flash["distill0.75-qat-int8"] > flash["distill0.5-qat-int8"] > flash["distill0.35-qat-int8"]
    android = get_profile("android")
    phone = {c.name: c for c in build_ladder(info, android)}
    pruned = candidate_estimate(info, android, phone["prune80-qat-int8"])
    dense = candidate_estimate(info, android, phone["int8"])
    assert pruned.flash_gzip_bytes < dense.flash_gzip_bytes  # zeros compress
    assert pruned.flash_bytes == dense.flash_bytes  # weights are stored dense


def test_cortex_m_prunes_channels_not_weights(info):
    """Unstructured zeros give TFLM nothing (and a sparse conversion emits DENSIFY, which TFLM lacks):
    the MCU ladder removes channels instead, exported dense, so flash, arena and latency shrink."""
    profile = get_profile("cortex-m")
    ladder = {c.name: c for c in build_ladder(info, profile)}
    prunes = [c for c in ladder.values() if any(s.technique == "prune" for s in c.steps)]
    assert [c.name for c in prunes] == ["prune-channels25-qat-int8", "prune-channels50-qat-int8"]
    assert all(c.sparsity == 0 and c.steps[0].params["structure"] == "channel" for c in prunes)
    dense = candidate_estimate(info, profile, ladder["int8"])
    for cand in prunes:
        est = candidate_estimate(info, profile, cand)
        assert est.flash_bytes < dense.flash_bytes and est.arena_bytes < dense.arena_bytes
        assert est.latency_ms["cpu"] < dense.latency_ms["cpu"]
    phone = names(build_ladder(info, get_profile("android")))
    assert "prune50-qat-int8" in phone and not any("channels" in n for n in phone)


def test_cortex_m_offers_per_tensor_dense_weights_for_less_arena(info):
    """TFLM keeps two int32 multipliers per output channel of a per-channel FULLY_CONNECTED in its
    arena: the MCU ladder tries per-tensor dense weights right after the untrained int8 rungs; phones
    do not need it."""
    profile = get_profile("cortex-m")
    ladder = build_ladder(info, profile)
    assert names(ladder)[:4] == ["int8", "int8-cle", "int8-tuned", "int8-dense-per-tensor"]
    per_tensor = ladder[3]
    assert per_tensor.dense_per_tensor and per_tensor.precision == "int8" and not per_tensor.steps
    assert per_tensor.plan_steps()[-1]["params"]["dense_weights"] == "per-tensor"
    plain, lean = candidate_estimate(info, profile, ladder[0]), candidate_estimate(info, profile, per_tensor)
    assert lean.arena_bytes < plain.arena_bytes and lean.flash_bytes < plain.flash_bytes
    assert not any(c.dense_per_tensor for c in build_ladder(info, get_profile("android")))


def test_cortex_m_offers_int16x8_after_the_int8_rungs_where_the_converter_takes_every_op(info, tmp_path):
    """16x8 (int16 activations) is the last untrained rung on a TFLM target with 16x8 kernels: it costs
    arena (2-byte activations) and latency (half the int8 rate) but keeps accuracy where int8 ranges are
    too coarse. Left out where a model op has no 16x8 quantization (PRELU) or the target no int16."""
    from edge_sdk import deps
    from edge_sdk.model import load_model
    from edge_sdk.profiles import load_profile_file

    profile = get_profile("cortex-m")
    ladder = names(build_ladder(info, profile))
    assert ladder.index("int16x8") == ladder.index("int8-dense-per-tensor") + 1 < ladder.index("qat-int8")
    rungs = {c.name: c for c in build_ladder(info, profile)}
    int8, int16 = (candidate_estimate(info, profile, rungs[n]) for n in ("int8", "int16x8"))
    assert int16.arena_bytes > int8.arena_bytes and int16.latency_ms["cpu"] > int8.latency_ms["cpu"]
    assert rungs["int16x8"].io_dtype == "int16" and "int16x8" not in names(build_ladder(info, get_profile("android")))

    tfk = deps.tf_keras()
    inp = tfk.Input((8, 8, 1))
    x = tfk.layers.PReLU()(tfk.layers.Conv2D(4, 3)(inp))
    prelu = analyze(load_model(tfk.Model(inp, tfk.layers.Dense(3)(tfk.layers.Flatten()(x)))))
    assert "int16x8" not in names(build_ladder(prelu, profile))

    user = tmp_path / "m7-int8.yaml"
    user.write_text(f"name: m7-int8\nextends: {profile.name}\nruntime:\n  dtypes: [int8]\n")
    assert "int16x8" not in names(build_ladder(info, load_profile_file(user)))


def test_per_tensor_dense_is_refused_outside_tflite_int8():
    from edge_sdk.contracts.plan import Candidate
    from edge_sdk.errors import ConfigError
    from edge_sdk.planner.ladder import check_rung

    with pytest.raises(ConfigError, match="rung 'x': dense_per_tensor applies to tflite/tflm exports at int8"):
        check_rung(Candidate("x", "tflite", "float16", dense_per_tensor=True, framework="keras"))


def test_tuning_is_an_int8_export_option(info):
    """int8-tuned is plain int8 with its ranges and bias chosen at export: no step, the same cost, the
    choice in the plan's export step; refused where the export is not a TFLite int8 one."""
    from edge_sdk.contracts.plan import Candidate
    from edge_sdk.errors import ConfigError
    from edge_sdk.planner.ladder import check_rung

    for target in ("android", "cortex-m", "jetson"):
        profile = get_profile(target)
        ladder = {c.name: c for c in build_ladder(info, profile)}
        tuned = ladder["int8-tuned"]
        assert tuned.precision == "int8" and not tuned.steps and tuned.tuned
        assert tuned.plan_steps()[-1]["params"]["tuned"] is True
        assert candidate_estimate(info, profile, tuned) == candidate_estimate(info, profile, ladder["int8"])
    with pytest.raises(ConfigError, match="rung 'x': tuned applies to tflite/tflm/onnx exports at int8"):
        check_rung(Candidate("x", "tflite", "int16x8", tuned=True, framework="keras"))


def test_tight_flash_budget_discards_large_rungs_before_training(info):
    profile = get_profile("cortex-m")
    budgets = Budgets.from_profile(profile, flash_bytes=24 * 1024)
    status = {}
    for cand in build_ladder(info, profile):
        checks = evaluate_budgets(budgets, candidate_estimate(info, profile, cand), None)
        status[cand.name] = [c.name for c in checks if c.name in HARD and not c.ok]
    assert status["int8"] == ["flash_bytes"] and status["qat-int8"] == ["flash_bytes"]
    assert status["distill0.35-qat-int8"] == []


def test_plan_file_round_trip(info, tmp_path):
    ladder = build_ladder(info, get_profile("cortex-m"))
    write_plan({"stm32f746-disco": ladder}, tmp_path / "plan.json")
    assert read_plan(tmp_path / "plan.json") == {"stm32f746-disco": ladder}


@pytest.mark.parametrize("text,expected", [("262144", 262144), ("256KiB", 262144), ("1.5MB", 1_500_000), ("2 k", 2000)])
def test_parse_bytes(text, expected):
    assert parse_bytes(text, "--ram-budget") == expected


def test_parse_bytes_names_the_flag():
    with pytest.raises(BudgetError, match="--flash-budget '12 parsecs'"):
        parse_bytes("12 parsecs", "--flash-budget")


def test_untrained_rungs_are_measured_unless_hopeless_trained_rungs_discarded(info):
    from edge_sdk.planner.search import discard_reason

    profile = get_profile("cortex-m")
    ladder = {c.name: c for c in build_ladder(info, profile)}
    int8_est = candidate_estimate(info, profile, ladder["int8"])

    def checks(limit_factor, name):
        budgets = Budgets.from_profile(profile, ram_bytes=int(int8_est.ram_bytes / limit_factor))
        return discard_reason(ladder[name], evaluate_budgets(budgets, candidate_estimate(info, profile, ladder[name]), None))

    assert checks(1.2, "int8") is None, "20% over on paper: cheap to build and measure"
    assert "ram_bytes" in checks(1.2, "qat-int8"), "training is only spent on rungs whose estimate fits"
    assert "ram_bytes" in checks(2.0, "int8"), "100% over: not worth converting"


def test_measurements_correct_later_estimates(info):
    from types import SimpleNamespace

    from edge_sdk.planner.search import EstimateCorrections

    profile = get_profile("cortex-m")
    cand = build_ladder(info, profile)[0]
    est = candidate_estimate(info, profile, cand)
    built = SimpleNamespace(built=True, estimate=est, candidate=cand,
                            measured=lambda: {"flash_bytes": est.flash_bytes // 2, "arena_bytes": est.arena_bytes * 3 // 4})
    corrections = EstimateCorrections()
    corrections.learn(built)
    corrected = corrections.apply(est, "tflm")
    assert corrected.flash_bytes == pytest.approx(est.flash_bytes / 2, abs=2)
    assert corrected.arena_bytes == corrected.ram_bytes == pytest.approx(est.arena_bytes * 0.75, abs=2)
    assert corrections.apply(est, "tflite") == est, "a measurement only corrects its own format"
    assert "int8 measured" in corrections.note("tflm")


@pytest.mark.slow
def test_torch_models_get_core_ml_rungs_on_ios_and_int8_pte_on_android(digits_paths):
    from edge_sdk import load_model

    torch_info = analyze(load_model(digits_paths["model"].parents[1] / "torch_digits" / "model.pt2"))
    ios = build_ladder(torch_info, get_profile("ios"))
    assert {c.fmt for c in ios} == {"coreml"} and not any(s.technique == "ptq" for c in ios for s in c.steps)
    assert {s.technique for c in ios for s in c.steps} <= {"prune", "distill"}
    android = build_ladder(torch_info, get_profile("android"))
    assert {c.fmt for c in android} == {"pte"} and any(c.precision == "int8" for c in android)
    assert check_fit(torch_info, get_profile("android")).unsupported_ops == ()


def test_a_converted_tflite_model_has_no_ladder():
    from edge_sdk.errors import ModelLoadError
    from edge_sdk.contracts.model import ModelInfo, TensorSpec

    spec = (TensorSpec("x", (1, 8)),)
    info = ModelInfo("tflite", (), spec, spec, params=10, macs=10, other_ops=0, peak_activation_elems=16, dtypes=("int8",))
    with pytest.raises(ModelLoadError, match="inspected and benchmarked, not rebuilt.*\\.pt2"):
        build_ladder(info, get_profile("cortex-m"))


def test_every_rung_records_its_framework_and_passes_its_declared_configs(info):
    for target in ("cortex-m", "android", "ios"):
        ladder = build_ladder(info, get_profile(target))
        assert {c.framework for c in ladder} == {"keras"}
        lowrank = [s for c in ladder for s in c.steps if s.technique == "lowrank"]
        assert all(s.params == {"rank_fraction": 0.25} for s in lowrank)


def test_lowrank_rung_is_left_out_when_no_layer_would_be_factorised():
    """Conv1D -> GAP -> Dense(12, softmax): the only Dense is the output layer, which lowrank keeps whole
    (the zoo's KWS net: the rung used to be built and fail with "no layer to factorise")."""
    from edge_sdk import deps
    from edge_sdk.model import load_model

    tfk = deps.tf_keras()
    inp = tfk.Input((49, 10))
    x = tfk.layers.Conv1D(16, 3, activation="relu")(inp)
    x = tfk.layers.GlobalAveragePooling1D()(x)
    out = tfk.layers.Dense(12, activation="softmax")(x)
    info = analyze(load_model(tfk.Model(inp, out)))
    for target in ("android", "cortex-m"):
        ladder = names(build_ladder(info, get_profile(target)))
        assert "lowrank-qat-int8" not in ladder and "qat-int8" in ladder, ladder


def test_lowrank_estimate_counts_hidden_dense_layers_only(info):
    rung = next(c for c in build_ladder(info, get_profile("android")) if c.name == "lowrank-qat-int8")
    assert 0.0 < rung.params_scale < 1.0


def test_int8_mixed_latency_charges_the_float_ops_its_build_kept(info):
    """Before the build, int8-mixed is estimated as int8 (how many ops stay float is unknown); once
    built, the share of MACs its float ops run (from the artifact) is charged at the float32 rate."""
    import types

    from edge_sdk.contracts.task import TaskResult

    profile = get_profile("android")
    ladder = {c.name: c for c in build_ladder(info, profile)}
    mixed = ladder["int8-mixed"]
    before = candidate_estimate(info, profile, mixed)
    assert before == candidate_estimate(info, profile, ladder["int8"])
    built = TaskResult(artifact=types.SimpleNamespace(details={"float_macs_fraction": 0.5}))
    after = candidate_estimate(info, profile, mixed, built)
    fp32 = candidate_estimate(info, profile, ladder["fp32"])
    assert before.best_latency_ms < after.best_latency_ms < fp32.best_latency_ms
    none_float = TaskResult(artifact=types.SimpleNamespace(details={"float_macs_fraction": 0.0}))
    assert candidate_estimate(info, profile, mixed, none_float) == before
