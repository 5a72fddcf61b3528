"""The step cache: keys change with every input, writes are atomic, and a cached trained model
restores to the same model (same predictions, byte-identical converted artifact)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge_sdk.cache import ENV_VAR, StepCache, cache_key, default_cache_dir
from edge_sdk.contracts.records import StepRecord

from .conftest import DIGITS_CALIBRATION

V = {"edge-sdk": "0.1.0", "tensorflow": "2.21.0"}
KEY = cache_key("model-sha", "data-fp", "qat", {"epochs": 2}, V)


def _record(technique: str = "qat") -> StepRecord:
    return StepRecord(technique, {"epochs": 2}, {"final_loss": 0.01}, ("conv1 kept float",), 1.5)


def _write_record(tmp):
    (tmp / "record.json").write_text("{}")


def test_key_depends_on_every_input_and_is_stable():
    assert cache_key("model-sha", "data-fp", "qat", {"epochs": 2}, dict(reversed(list(V.items())))) == KEY
    others = {
        cache_key("other-model", "data-fp", "qat", {"epochs": 2}, V),
        cache_key("model-sha", "other-data", "qat", {"epochs": 2}, V),
        cache_key("model-sha", "data-fp", "prune", {"epochs": 2}, V),
        cache_key("model-sha", "data-fp", "qat", {"epochs": 3}, V),
        cache_key("model-sha", "data-fp", "qat", {"epochs": 2}, {**V, "tensorflow": "2.22.0"}),
    }
    assert KEY not in others and len(others) == 5 and len(KEY) == 64
    assert len(cache_key("m", "d", "qat")) == 64  # installed versions by default


def test_miss_put_hit_and_messages(tmp_path):
    said = []
    cache = StepCache(tmp_path, say=said.append)
    assert cache.get(KEY, "qat") is None
    entry = cache.put(KEY, _write_record)
    assert entry == tmp_path / KEY[:2] / KEY and cache.get(KEY, "qat") == entry
    assert (cache.hits, cache.misses) == (1, 1)
    assert said == [f"cache miss: qat ({KEY[:12]})", f"cache hit: qat ({KEY[:12]})"]


def test_failed_write_leaves_nothing(tmp_path):
    cache = StepCache(tmp_path)

    def crash(tmp):
        (tmp / "model.keras").write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cache.put(KEY, crash)
    with pytest.raises(ValueError, match="wrote no record.json"):
        cache.put(KEY, lambda tmp: None)
    assert cache.get(KEY) is None
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_second_identical_write_keeps_the_first(tmp_path):
    cache = StepCache(tmp_path)
    first = cache.put(KEY, lambda tmp: (tmp / "record.json").write_text("first"))
    assert cache.put(KEY, lambda tmp: (tmp / "record.json").write_text("second")) == first
    assert (first / "record.json").read_text() == "first"
    assert len(list(first.parent.iterdir())) == 1


def test_disabled_cache_never_reads_or_writes(tmp_path):
    StepCache(tmp_path).put(KEY, _write_record)
    off = StepCache(tmp_path / "x", enabled=False)
    assert off.put(KEY, _write_record) is None and off.get(KEY) is None
    assert not (tmp_path / "x").exists()
    assert StepCache(tmp_path, enabled=False).get(KEY) is None


def test_bad_key_refused(tmp_path):
    with pytest.raises(ValueError, match="hex digest"):
        StepCache(tmp_path).get("../../etc")


def test_default_dir(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert default_cache_dir(tmp_path) == tmp_path / ".edge-sdk-cache"
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "shared"))
    assert default_cache_dir(tmp_path) == tmp_path / "shared"


def test_unreadable_entry_is_evicted_and_recomputed(tmp_path):
    from edge_sdk.contracts.model import LoadedModel

    template = LoadedModel("keras", None, (), (), "memory")  # never reached: the entry has no model file
    said = []
    cache = StepCache(tmp_path, say=said.append)
    cache.put(KEY, lambda tmp: (tmp / "record.json").write_text(json.dumps({"framework": "keras", "model_file": "model.h5", "record": {}})))
    assert cache.get_step(KEY, template) is None
    assert (cache.hits, cache.misses) == (0, 1) and "unreadable" in said[-1]
    assert not (tmp_path / KEY[:2] / KEY).exists()


@pytest.mark.slow
def test_qat_model_round_trip_gives_byte_identical_tflite(tmp_path, digits_loaded):
    """A real TFMOT QAT model (custom wrapper classes) survives the cache; its int8 TFLite is identical."""
    import dataclasses

    from edge_sdk import deps
    from edge_sdk.frameworks.keras.techniques.ptq import QuantSpec, convert_to_tflite
    from edge_sdk.data import load_dataset

    tfmot, tf_keras = deps.tfmot(), deps.tf_keras()
    tf_keras.utils.set_random_seed(0)
    clone = tf_keras.models.clone_model(digits_loaded.handle)
    clone.set_weights(digits_loaded.handle.get_weights())
    qat = tfmot.quantization.keras.quantize_model(clone)
    cal = load_dataset(DIGITS_CALIBRATION, digits_loaded.inputs)
    x = cal.inputs[digits_loaded.inputs[0].name][:64]
    qat.compile(optimizer="adam", loss="kl_divergence")
    qat.fit(x, digits_loaded.handle.predict(x, verbose=0), epochs=1, batch_size=32, verbose=0)
    trained = dataclasses.replace(digits_loaded, handle=qat)

    cache = StepCache(tmp_path)
    cache.put_step(KEY, trained, _record())
    restored, record = cache.get_step(KEY, digits_loaded)
    assert record == _record()
    assert restored.inputs == digits_loaded.inputs and restored.sha256 == digits_loaded.sha256
    np.testing.assert_array_equal(restored.handle.predict(x, verbose=0), qat.predict(x, verbose=0))
    spec = QuantSpec(mode="int8")
    assert convert_to_tflite(restored.handle, spec, cal)[0] == convert_to_tflite(qat, spec, cal)[0]


@pytest.mark.slow
def test_torch_exported_program_round_trip(tmp_path):
    from edge_sdk import deps
    from edge_sdk.contracts.model import LoadedModel, TensorSpec

    torch = deps.torch()
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)).eval()
    example = (torch.rand(1, 1, 8, 8),)
    ep = torch.export.export(module, example)
    model = LoadedModel("torch", ep, (TensorSpec("x", (1, 1, 8, 8)),), (TensorSpec("y", (1, 10)),), "memory", example_inputs=example)
    cache = StepCache(tmp_path)
    cache.put_step(KEY, model, _record("prune"))
    restored, record = cache.get_step(KEY, model)
    assert record.technique == "prune" and (tmp_path / KEY[:2] / KEY / "model.pt2").is_file()
    assert torch.equal(restored.handle.module()(*example), ep.module()(*example))


@pytest.mark.slow
def test_entry_with_a_lambda_layer_is_not_deserialised(tmp_path, digits_loaded):
    import dataclasses

    from edge_sdk import deps

    tf_keras = deps.tf_keras()
    inp = tf_keras.Input((8, 8, 1))
    out = tf_keras.layers.Lambda(lambda t: t * 2.0)(inp)
    lam = dataclasses.replace(digits_loaded, handle=tf_keras.Model(inp, out))
    said = []
    cache = StepCache(tmp_path, say=said.append)
    cache.put_step(KEY, lam, _record())
    assert cache.get_step(KEY, digits_loaded) is None
    assert "unreadable (ValueError)" in said[-1] and cache.misses == 1


def test_key_changes_with_edge_sdk_source(monkeypatch):
    """A development checkout keeps version 0.1.0 while its code changes; attempts verified by older
    code must not be reused (the zoo served a stale TFLM verification that way)."""
    from edge_sdk import cache as cache_module

    before = cache_module.cache_key("m", "d", "qat", {"epochs": 1})
    monkeypatch.setattr(cache_module, "code_fingerprint", lambda: "other source")
    assert cache_module.cache_key("m", "d", "qat", {"epochs": 1}) != before
    assert cache_module.cache_key("m", "d", "qat", {"epochs": 1}, versions={"tf": "1"}) == \
        cache_module.cache_key("m", "d", "qat", {"epochs": 1}, versions={"tf": "1"})  # explicit versions: as given


@pytest.mark.parametrize("damage, said", [
    (lambda e: (e / "model.h5").write_bytes(b"swapped"), "model.h5 no longer matches its sha256"),
    (lambda e: (e / "model.h5").unlink(), "model.h5 is missing"),
    (lambda e: (e / "extra.bin").write_bytes(b"x"), "extra.bin was added"),
    (lambda e: (e / "sha256.json").write_text("{"), "no readable sha256.json"),
])
def test_an_entry_whose_files_changed_is_discarded_counted_and_evicted(tmp_path, damage, said):
    messages = []
    cache = StepCache(tmp_path, say=messages.append)

    def write(tmp):
        (tmp / "model.h5").write_bytes(b"trained weights")
        _write_record(tmp)

    entry = cache.put(KEY, write)
    assert cache.get(KEY) == entry and json.loads((entry / "sha256.json").read_text()).keys() == {"model.h5", "record.json"}
    damage(entry)
    assert cache.get(KEY) is None and len(cache.discarded) == 1 and not entry.exists()
    assert any(said in m and "discarded" in m for m in messages), messages
