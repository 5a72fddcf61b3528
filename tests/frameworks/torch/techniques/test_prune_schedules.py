"""Pruning schedules on a torch program (issue 19): one magnitude threshold over the network
(`scope: global`), pruned iteratively, keeps more fidelity than the same sparsity cut from every layer
at once; every layer reaches its own target."""

from __future__ import annotations

import pytest

from edge_sdk.techniques.dispatch import apply_step

pytestmark = pytest.mark.slow


def test_iterative_global_pruning_keeps_more_of_mtcnn_onet_than_one_shot_local():
    """Pretrained MTCNN ONet (ported to torch) at 80% sparsity, 10 epochs each. Measured (box SQNR on
    eval): one-shot local 8.1 dB, iterative global 8.9 dB (one-shot global 10.2 dB: on this model the
    ramp's shorter fine-tune at full sparsity costs more than it gives)."""
    from edge_sdk import load_dataset, load_model
    from edge_sdk.frameworks.torch.reference import run_eager
    from edge_sdk.techniques.base import TechniqueData
    from edge_sdk.verify import fidelity
    from tests.zoo.test_zoo_ptq import make

    entry = make("t_mtcnn_onet")
    model = load_model(entry["model"])
    calibration, evaluation = (load_dataset(entry[k], model.inputs) for k in ("calibration", "eval"))
    data = TechniqueData(train=calibration, calibration=calibration, teacher=model, eval=evaluation)
    x = list(evaluation.inputs.values())
    reference = run_eager(model, x)
    kinds = {"output_0": "regression", "output_1": "regression", "output_2": "classification"}
    boxes = {}
    for scope, prune_epochs in (("local", 0), ("global", 4)):
        pruned, record = apply_step("prune", model, data, {"progress": False, "sparsity": 0.8, "scope": scope,
                                                           "prune_epochs": prune_epochs, "epochs": 10})
        assert record.metrics["losses"] == ["mse", "mse", "kl"]
        boxes[scope] = fidelity(reference, run_eager(pruned, x), kinds).outputs[0].metrics["sqnr_db"]
        if scope == "global":
            targets = record.metrics["layer_targets"]
            assert targets["conv1.weight"] < 0.2 and targets["dense5.weight"] > 0.85, targets
            assert all(abs(record.metrics["layer_sparsity"][n] - t) < 0.01 for n, t in targets.items())
    assert boxes["global"] > boxes["local"] + 0.4, boxes
