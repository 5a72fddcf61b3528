"""Torch techniques honour the exported batch (issue 12): a batch-1 program (what `torch.export`
gives by default) is calibrated and trained one sample at a time and stays batch 1; a program with
the user's own `Dim("batch", max=256)` keeps exactly that range through every step. Each step's result
is lowered to a .pte and run on the ExecuTorch runtime."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edge_sdk.frameworks.torch.graph import batch_range, chunks, module_copy, reexport
from edge_sdk.model import load_model
from edge_sdk.techniques.dispatch import apply_step
from tests.frameworks.torch.helpers import export_pte, verify_pte

STEPS = {
    "ptq": {},
    "qat": {"epochs": 1},
    "prune": {"epochs": 1},
    "distill": {"epochs": 2, "width": 0.75},
}


def _reexported(model, batch: str):
    """The digits CNN exported again the way a user would: at batch 1 (static), or Dim(max=256)."""
    x = model.example_inputs[0]
    if batch == "batch1":
        return load_model(torch.export.export(module_copy(model), (x[:1],)))
    dim = torch.export.Dim("batch", max=256)
    return load_model(torch.export.export(module_copy(model), (x[:2],), dynamic_shapes=({0: dim},)))


def test_chunks_fit_the_accepted_batches():
    idx = np.arange(10)
    assert [len(c) for c in chunks(idx, (1, 1), 32)] == [1] * 10
    assert [len(c) for c in chunks(idx, (0, 4), 32)] == [4, 4, 2]
    topped = chunks(idx, (3, None), 4)
    assert [len(c) for c in topped] == [4, 4, 3] and list(topped[-1]) == [8, 9, 0]  # real samples repeated
    assert [len(c) for c in chunks(idx, (8, 8), 32)] == [8, 8]


def test_reexport_keeps_the_users_batch(torch_digits):
    one = _reexported(torch_digits, "batch1")
    assert batch_range(one) == (1, 1)
    assert batch_range(reexport(module_copy(one), one)) == (1, 1)
    capped = _reexported(torch_digits, "dim256")
    assert batch_range(capped) == (0, 256)
    again = reexport(module_copy(capped), capped)
    assert again.inputs[0].shape[0] is None and batch_range(again) == (0, 256)
    assert batch_range(torch_digits) == (1, 1024)
    x = torch.zeros(2, 3)
    unbounded = load_model(torch.export.export(torch.nn.Linear(3, 2), (x,), dynamic_shapes=({0: torch.export.Dim("batch")},)))
    assert batch_range(unbounded) == (0, None)  # torch's int_oo upper bound, which claims is_finite
    assert batch_range(reexport(module_copy(unbounded), unbounded)) == (0, None)


@pytest.mark.slow
@pytest.mark.parametrize("technique", list(STEPS))
@pytest.mark.parametrize("batch", ["batch1", "dim256"])
def test_every_step_works_on_the_users_batch(torch_digits, digits_data, android, tmp_path, batch, technique):
    import dataclasses

    from edge_sdk.data import load_dataset

    model = _reexported(torch_digits, batch)
    data = dataclasses.replace(
        digits_data,
        train=load_dataset(digits_data.train, model.inputs),
        calibration=load_dataset(digits_data.calibration, model.inputs),
        teacher=model,
    )
    out, record = apply_step(technique, model, data, {**STEPS[technique], "progress": False})
    assert batch_range(out) == batch_range(model)
    if technique == "ptq":
        assert record.metrics["calibration_samples"] == min(200, len(data.calibration))  # max_samples
    else:
        assert record.metrics["epochs_run"] >= 1 and np.isfinite(record.metrics["final_loss"])
    art = export_pte(out, android, tmp_path)
    assert art.details["batch"] == 1
    v = verify_pte(art, model, digits_data.eval)
    assert v.method == "executed", v.reason
    print(batch, technique, v.fidelity)
    assert v.fidelity.top1_agreement >= 0.9, v.fidelity
