"""Task-aware fidelity: each output is judged by the metric of its kind (classification, embedding,
regression, detection, sequence), inferred from the graph or set by the user."""

from __future__ import annotations

import numpy as np
import pytest

from edge_sdk.contracts.budgets import Budgets
from edge_sdk.contracts.records import Verification
from edge_sdk.fidelity import output_fidelity
from edge_sdk.planner.search import fidelity_check
from edge_sdk.verify import fidelity

RNG = np.random.default_rng(0)


def test_a_reconstruction_is_judged_by_sqnr_not_argmax():
    ref = RNG.normal(size=(64, 640)).astype(np.float32)
    got = ref + 0.05 * RNG.normal(size=ref.shape).astype(np.float32)  # ~26 dB: a good int8 reconstruction
    as_regression = output_fidelity("recon", "regression", ref, got)
    assert as_regression.metrics["sqnr_db"] == pytest.approx(26.0, abs=0.5)
    assert as_regression.per_sample["sqnr_db"]["min"] < as_regression.per_sample["sqnr_db"]["median"]
    assert output_fidelity("recon", "classification", ref, got).metrics["top1_agreement"] < 0.95  # what argmax said


def test_an_embedding_is_judged_per_sample_with_nearest_neighbours():
    centres = RNG.normal(size=(25, 384))
    ref = np.repeat(centres, 2, axis=0) + 0.1 * RNG.normal(size=(50, 384))  # pairs of similar sentences
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    got = ref + 0.003 * RNG.normal(size=ref.shape)
    got[0] = -ref[0]  # one sentence ruined: the minimum shows it, the mean hides it
    out = output_fidelity("emb", "embedding", ref, got)
    assert out.metrics["cosine_min"] == pytest.approx(-1.0, abs=0.01) and out.metrics["cosine_mean"] > 0.9
    assert 0.9 <= out.metrics["nn_agreement"] <= 1.0
    assert set(out.per_sample["cosine"]) == {"min", "p5", "median", "mean"}


def test_boxes_are_judged_by_iou_and_sequences_per_position():
    boxes = np.tile(np.array([[0.1, 0.1, 0.5, 0.5]]), (8, 1))
    shifted = boxes + np.array([0.0, 0.0, 0.1, 0.0])  # IoU 0.4*0.4 / (0.5*0.4) = 0.8
    assert output_fidelity("boxes", "detection", boxes, shifted).metrics["box_iou_mean"] == pytest.approx(0.8)
    seq = RNG.normal(size=(4, 10, 6))
    noisy = seq.copy()
    noisy[:, 0] = -noisy[:, 0]  # the first position of every sample flips its top-1
    assert output_fidelity("tokens", "sequence", seq, noisy).metrics["token_agreement"] == pytest.approx(0.9)


def test_each_output_gets_its_kind_and_the_binding_metric_is_named():
    scores = RNG.normal(size=(40, 5)).astype(np.float32)
    recon = RNG.normal(size=(40, 32)).astype(np.float32)
    fid = fidelity([scores, recon], [scores, recon + 0.5 * RNG.normal(size=recon.shape).astype(np.float32)],
                   {"scores": "classification", "recon": "regression"})
    assert [(o.output, o.kind) for o in fid.outputs] == [("scores", "classification"), ("recon", "regression")]
    budgets = Budgets.from_profile(_profile())
    check = fidelity_check(budgets.min_fidelity, Verification("litert", "executed", 40, fid))
    assert not check.ok and check.detail == "recon (regression) sqnr_db" and check.limit == 20.0
    assert "recon (regression) sqnr_db" in check.describe()


def test_a_fidelity_budget_is_never_met_without_a_measurement():
    check = fidelity_check({"top1_agreement": 0.99}, Verification("coreml", "not_run", 0, None))
    assert check.status == "not_measured" and not check.ok and "not measured" in check.describe()


def _profile():
    from edge_sdk.profiles import get_profile

    return get_profile("android")


def test_output_kinds_are_inferred_from_the_graph(tmp_path):
    from edge_sdk import analyze, load_model
    from edge_sdk.model.tasks import output_kinds

    tfk = __import__("edge_sdk.deps", fromlist=["tf_keras"]).tf_keras()
    x = tfk.Input((16,), name="x")
    h = tfk.layers.Dense(8, activation="relu")(x)
    recon = tfk.layers.Dense(16, activation="sigmoid", name="recon")(h)  # same shape as the input
    logits = tfk.layers.Dense(5, name="logits")(h)  # no softmax, beside a softmax output: a regression head
    emb = tfk.layers.UnitNormalization(name="embedding")(tfk.layers.Dense(6)(h))
    boxes = tfk.layers.Dense(4, activation="sigmoid", name="boxes")(h)
    probs = tfk.layers.Dense(3, activation="softmax", name="probs")(h)
    model = tfk.Model(x, [recon, logits, emb, boxes, probs])
    model.save(tmp_path / "m.keras")
    info = analyze(load_model(tmp_path / "m.keras"))
    kinds = list(output_kinds(info).values())
    assert kinds == ["regression", "regression", "embedding", "classification", "classification"]
    # sigmoid reads as classification; a user says what "boxes" is
    overridden = output_kinds(info, {list(output_kinds(info))[3]: "detection"})
    assert list(overridden.values())[3] == "detection"
    # alone, a linear head of several units is a classifier's logits (no softmax exported)
    alone = tfk.Model(x, tfk.layers.Dense(5, name="logits_only")(h))
    alone.save(tmp_path / "logits.keras")
    assert list(output_kinds(analyze(load_model(tmp_path / "logits.keras"))).values()) == ["classification"]


def test_a_score_map_is_judged_per_position():
    """MTCNN PNet's (N, H, W, 2) face-score map: int8 saturates many positions to the same 0.996, so an
    argmax over the whole map picked another tied position in every sample (agreement 0.0)."""
    from edge_sdk.fidelity import output_fidelity

    rng = np.random.default_rng(0)
    face = rng.uniform(0.9, 1.0, (20, 5, 5))
    ref = np.stack([1 - face, face], axis=-1)
    got = np.round(ref * 256).clip(0, 255) / 256  # int8-like output: the high scores tie
    got[..., 1] = np.maximum(got[..., 1], 0.99609375)
    assert output_fidelity("prob", "classification", ref, got).metrics["top1_agreement"] == 1.0


def test_misses_name_each_metric_below_its_floor_with_the_relative_shortfall():
    from edge_sdk.contracts.records import OutputFidelity
    from edge_sdk.fidelity import misses

    outputs = (OutputFidelity("boxes", "regression", {"sqnr_db": 15.0, "relative_l2": 0.2}),
               OutputFidelity("scores", "classification", {"top1_agreement": 0.995}))
    found = misses(outputs, {"sqnr_db": 20.0, "relative_l2": 0.1, "top1_agreement": 0.99})
    assert [text for text, _ in found] == ["boxes sqnr_db 15 < 20", "boxes relative_l2 0.2 > 0.1"]
    assert [round(short, 3) for _, short in found] == [0.25, 1.0]
