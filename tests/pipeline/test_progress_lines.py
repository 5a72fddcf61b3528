"""Progress lines name a step's parameters for people (issue 16, point 9: `ptq {'mode': 'int8'}`)."""

from __future__ import annotations

from types import SimpleNamespace

from edge_sdk.contracts.plan import Step
from edge_sdk.pipeline import evaluate


def test_a_step_is_announced_as_technique_and_key_value_pairs(tmp_path, monkeypatch):
    from edge_sdk.cache import StepCache

    applied = []
    monkeypatch.setattr(evaluate, "apply_step", lambda technique, model, data, config: (applied.append(technique) or model, object()))
    cache = StepCache(tmp_path)
    monkeypatch.setattr(cache, "put_step", lambda *args: None)
    data = SimpleNamespace(train=SimpleNamespace(fingerprint=lambda: "train-data"))
    task = SimpleNamespace(seed=0, progress=False, output_kinds=None)
    model = SimpleNamespace(sha256="m" * 64)
    said: list[str] = []
    steps = (Step("ptq", {"mode": "int8", "io_dtype": "float32"}), Step("qat", {}))
    evaluate.apply_steps(model, steps, data, task, cache, said.append)
    assert applied == ["ptq", "qat"]
    assert said == ["  ptq io_dtype=float32, mode=int8", "  qat"]
