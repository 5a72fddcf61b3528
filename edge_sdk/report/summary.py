"""Headline numbers read out of a report.json dict, tolerant of missing optional keys.

The HTML index and `edge-sdk compare` both need "the size", "the quality" and "the latency" of a
build; defining them once here keeps the two views (and the regression gate) in agreement.
"""

from __future__ import annotations

from typing import Any, Optional


def dig(d: Any, *keys: str) -> Any:
    """d[k1][k2]... or None as soon as a level is missing or not a mapping."""
    for key in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def artifact_bytes(report: dict) -> Optional[int]:
    """Bytes of the shipped artifact (the first in `artifacts`), else the measured flash."""
    artifacts = report.get("artifacts") or []
    if artifacts and artifacts[0].get("bytes") is not None:
        return int(artifacts[0]["bytes"])
    value = dig(report, "measured", "flash_bytes")
    return None if value is None else int(value)


def ram_bytes(report: dict) -> tuple[Optional[float], str]:
    """(RAM, "measured" | "estimate"): measured arena/working memory where known."""
    for source, key in (("measured", "measured"), ("estimate", "estimates")):
        value = dig(report, key, "ram_bytes")
        if value is not None:
            return float(value), source
    return None, ""


def estimated_latency_ms(estimates: dict | None) -> Optional[float]:
    """The estimate on the profile's best compute unit (`latency_ms` is {unit: ms} or a number)."""
    latency = (estimates or {}).get("latency_ms")
    if isinstance(latency, (int, float)):
        return float(latency)
    known = {u: v for u, v in (latency or {}).items() if v is not None} if isinstance(latency, dict) else {}
    if not known:
        return None
    unit = (estimates or {}).get("best_unit")
    return float(known[unit] if unit in known else min(known.values()))


def estimated_latency_text(estimates: dict) -> str:
    """`1.23 ms (cpu)` and, on a calibrated unit, its error band: how the CLI prints an estimate."""
    unit = estimates.get("best_unit")
    latency = (estimates.get("latency_ms") or {}).get(unit) if unit else None
    band = (estimates.get("latency_band_ms") or {}).get(unit) if unit else None
    if latency is None:
        return "-"
    return f"{latency:.2f} ms ({unit})" + (f" band {band[0]:.3g}-{band[1]:.3g}" if band else "")


def latency_ms(report: dict) -> tuple[Optional[float], str]:
    """(latency, source): on-device bench p50 > measured on the target > estimate. Host timings never count."""
    bench_p50 = dig(report, "bench", "latency_ms", "p50")
    if bench_p50 is not None and dig(report, "bench", "on_device") is not False:  # `bench --device host` is not the target
        return float(bench_p50), "measured"
    measured = dig(report, "budgets", "latency_ms", "measured")
    if measured is not None:
        return float(measured), "measured"
    value = estimated_latency_ms(report.get("estimates"))
    return (value, "estimate") if value is not None else (None, "")


def quality(report: dict) -> tuple[Optional[float], str]:
    """(value, metric): top-1 agreement with the original model (0-1) if measured, else accuracy (%)."""
    verification = report.get("verification") or {}
    agreement = dig(verification, "fidelity", "top1_agreement")
    if agreement is not None:
        return float(agreement), "top1_agreement"
    accuracy = dig(verification, "accuracy", "compressed")
    if accuracy is not None:
        return float(accuracy), "accuracy"
    return None, ""


def quality_text(report: dict) -> str:
    """The one quality figure people see for a target (the build's summary line, index.html): the
    accuracy drop when labelled eval data measured one, else the first output's primary fidelity metric."""
    verification = report.get("verification") or {}
    accuracy, fidelity = verification.get("accuracy"), verification.get("fidelity") or {}
    outputs = fidelity.get("outputs") or []
    primary = next((m for m in ("top1_agreement", "cosine_min", "sqnr_db", "box_iou_mean", "token_agreement")
                    if outputs and m in outputs[0]["metrics"]), None)
    if accuracy:
        return f"acc drop {accuracy['drop']:.2f} pt"
    if primary:
        return f"{primary.replace('_', ' ')} {outputs[0]['metrics'][primary]:.3f}"
    return f"top1 agree {fidelity.get('top1_agreement', 0):.3f}" if fidelity else "quality n/a"


def format_quality(value: Optional[float], metric: str) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}%" if metric == "accuracy" else f"{value:.4f}"


def attempt_quality(attempt: dict, metric: str) -> Optional[float]:
    """One attempt's `quality` entry for a metric ("accuracy" or "top1_agreement")."""
    value = (attempt.get("quality") or {}).get(metric)
    return None if value is None else float(value)


def attempt_bytes(attempt: dict) -> Optional[int]:
    value = dig(attempt, "measured", "flash_bytes")
    if value is None:
        value = dig(attempt, "artifact", "bytes")
    return None if value is None else int(value)
