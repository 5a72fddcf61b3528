"""The zoo's registry and matrix bookkeeping (fast: no model is generated or built)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from zoo import REGISTRY  # noqa: E402
from zoo import matrix  # noqa: E402


def test_registry_has_twenty_models_and_every_generator_exists():
    assert len(REGISTRY) >= 20
    for entry in REGISTRY.values():
        module, func = entry.generator.split(":")
        spec = importlib.util.find_spec(module)
        assert spec is not None, entry.name
        assert f"def {func}(" in Path(spec.origin).read_text(), entry.name
        if entry.framework == "torch":
            assert "cortex-m" not in entry.families, f"{entry.name}: torch models export to no cortex-m format"


def test_zoo_modules_stay_small():
    for path in list((ROOT / "zoo").glob("*.py")) + [ROOT / "scripts" / "zoo.py"]:
        assert len(path.read_text().splitlines()) <= 400, path


def test_edit_plan_drops_trained_rungs_and_caps_epochs():
    doc = {"targets": {"pixel-8": [
        {"name": "int8", "framework": "torch", "trains": False, "steps": [{"technique": "ptq", "params": {}}]},
        {"name": "qat-int8", "framework": "torch", "trains": True, "steps": [{"technique": "qat", "params": {}}]},
        {"name": "distill0.5-int8", "framework": "torch", "trains": True,
         "steps": [{"technique": "distill", "params": {"width": 0.5}}, {"technique": "ptq", "params": {}}]},
        {"name": "int8-cle", "framework": "keras", "trains": False, "steps": [{"technique": "equalize", "params": {}}]},
    ]}}
    import copy

    capped = matrix.edit_plan(copy.deepcopy(doc), untrained_only=False, epochs=1)["targets"]["pixel-8"]
    assert capped[1]["steps"][0]["params"] == {"epochs": 1}
    assert capped[2]["steps"][0]["params"] == {"width": 0.5, "epochs": 1}
    assert capped[2]["steps"][1]["params"] == {}  # ptq does not train
    assert capped[3]["steps"][0]["params"] == {}  # nor does equalize: it declares no epochs
    assert [r["name"] for r in matrix.edit_plan(doc, untrained_only=True, epochs=None)["targets"]["pixel-8"]] == ["int8", "int8-cle"]


def test_summary_is_loud_about_exit_1_signals_and_failed_rungs():
    rows = [
        {"model": "a", "target": "android", "exit": "0", "wall_s": 1.0,
         "rungs": [{"rung": "int8", "status": "pareto", "status4": "accepted", "reason": "meets every budget",
                    "error_kind": None, "internal": False}]},
        {"model": "b", "target": "cortex-m", "exit": "1", "wall_s": 2.0,
         "rungs": [{"rung": "int8", "status": "failed", "status4": "failed", "reason": "", "error_kind": "exception",
                    "internal": True}]},
        {"model": "c", "target": "ios", "exit": "signal SIGSEGV", "wall_s": 3.0, "rungs": []},
        {"model": "d", "target": "cortex-m", "exit": "3", "wall_s": 1.0, "rungs": [],
         "bench": {"exit": "1", "error": "TFLM failed to allocate tensors"}},
    ]
    s = matrix.summarize(rows)
    assert s["exit_codes"] == {"0": 1, "1": 1, "3": 1, "signal SIGSEGV": 1}
    assert s["bench_host_runs"] == 1 and s["bench_host_failures"] == ["d/cortex-m: 1 TFLM failed to allocate tensors"]
    assert s["internal_or_signal"] == ["b/cortex-m: exit 1", "c/ios: exit signal SIGSEGV"]
    assert s["rungs_without_status_or_reason"] == ["b/cortex-m/int8"]
    assert s["failed_rungs"][0]["internal"] is True
    assert "SIGSEGV" in matrix.markdown_summary(s)
    assert matrix.exit_label(-11) == "signal SIGSEGV" and matrix.exit_label(None, timed_out=True) == "timeout"


def test_matrix_reads_the_metric_each_output_was_judged_by():
    """An embedding is judged by its worst sample's cosine, not by the mean cosine or top-1."""
    attempt = {"name": "dynamic-int8-emb4", "status": "accepted", "steps": [], "measured": {"flash_bytes": 10},
               "quality": {"top1_agreement": None, "cosine": 0.9997, "primary": {"output": "y", "metric": "cosine_min", "value": 0.9989}}}
    fidelity = {"cosine": 0.9997, "outputs": [{"output": "y", "kind": "embedding", "metrics": {"cosine_min": 0.9989, "cosine_mean": 0.9997}}]}
    row = matrix.row_from_report({"attempts": [attempt], "verification": {"fidelity": fidelity}, "artifacts": [{"bytes": 10}]})
    assert (row["metric"], row["value"]) == ("cosine_min", 0.9989)
    assert (row["rungs"][0]["metric"], row["rungs"][0]["value"]) == ("cosine_min", 0.9989)


def test_summary_scores_flash_and_arena_estimates_against_tflm_on_cortex_m_rungs_only():
    def rung(name, measured, est, arena, arena_est):
        return {"rung": name, "status": "accepted", "status4": "accepted", "reason": "ok", "error_kind": None,
                "internal": False, "bytes": measured, "bytes_est": est, "arena": arena, "arena_est": arena_est}

    rows = [{"model": "m", "target": "cortex-m", "exit": "0", "rungs": [rung("int8", 1000, 1030, 2000, 1600),
                                                                       rung("int16x8", 1000, 990, None, 900)]},
            {"model": "m", "target": "android", "exit": "0", "rungs": [rung("fp16", 1000, 2000, None, None)]}]
    s = matrix.summarize(rows)["estimates_vs_tflm"]
    assert s["flash"] == {"rungs": 2, "max_abs_error": 0.03, "worst": "m/int8 +3.0%", "within_5pct": 2}
    assert s["arena"] == {"rungs": 1, "max_abs_error": 0.2, "worst": "m/int8 -20.0%", "within_5pct": 0}
    assert "arena estimate vs TFLM's figure on 1 built Cortex-M rungs: 0 within 5%" in matrix.markdown_summary(matrix.summarize(rows))
