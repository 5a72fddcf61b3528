"""The attempt cache restores a built candidate exactly, and a damaged entry is rebuilt, not fatal."""

from __future__ import annotations

from pathlib import Path

from edge_sdk.cache import StepCache
from edge_sdk.planner import attempt_cache
from edge_sdk.contracts.records import Accuracy, ArenaInfo, Artifact, Fidelity, StepRecord, Verification

KEY = "ab" * 32


def _built(tmp_path: Path) -> tuple[Artifact, Path, Verification, list[StepRecord]]:
    out = tmp_path / "built"
    out.mkdir()
    (out / "model.tflite").write_bytes(b"TFL3-bytes")
    (out / "model_data.cc").write_text("const unsigned char g[] = {1};\n")
    artifact = Artifact("tflm", out / "model.tflite", 10, 30, "f" * 64, files=(out / "model.tflite", out / "model_data.cc"),
                        precision="int8", details={"ops": ["CONV_2D"]}, arena=ArenaInfo(7904, 7184, True, 0.1, 6000, 1184))
    verification = Verification("tflm", "executed", 360, Fidelity(0.99, 0.999, 40.0, 0.03), Accuracy(100.0, 99.7, 0.3))
    return artifact, out, verification, [StepRecord("ptq", {"mode": "int8"}, {"calibration_samples": 200}, ("note",))]


def test_round_trip_restores_files_and_records(tmp_path):
    cache = StepCache(tmp_path / "cache")
    artifact, out, verification, records = _built(tmp_path)
    attempt_cache.save(cache, KEY, artifact, out, verification, records)
    restored = attempt_cache.restore(cache, KEY, "int8", tmp_path / "work" / "int8")
    assert restored is not None
    r_artifact, r_dir, r_verification, r_records = restored
    assert r_artifact.path == r_dir / "model.tflite" and r_artifact.path.read_bytes() == b"TFL3-bytes"
    assert {p.name for p in r_artifact.files} == {"model.tflite", "model_data.cc"}
    assert r_artifact.details == {"ops": ["CONV_2D"]} and r_artifact.sha256 == "f" * 64
    assert r_artifact.arena == artifact.arena  # typed again, not the dict it was stored as
    assert r_verification == verification
    assert r_records == records


def test_damaged_entry_is_evicted_and_rebuilt(tmp_path):
    cache = StepCache(tmp_path / "cache")
    artifact, out, verification, records = _built(tmp_path)
    attempt_cache.save(cache, KEY, artifact, out, verification, records)
    entry = cache.get(KEY)
    (entry / "record.json").write_text("{not json")
    assert attempt_cache.restore(cache, KEY, "int8", tmp_path / "work") is None
    assert cache.get(KEY) is None  # evicted, so the next build writes a fresh entry


def test_disabled_cache_never_restores(tmp_path):
    cache = StepCache(tmp_path / "cache", enabled=False)
    artifact, out, verification, records = _built(tmp_path)
    attempt_cache.save(cache, KEY, artifact, out, verification, records)
    assert attempt_cache.restore(cache, KEY, "int8", tmp_path / "work") is None
