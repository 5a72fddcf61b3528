"""One `edge-sdk bench` call: resolve the artifact, run the device's runner, save bench.json, and
compare the measured latency with the planner's estimate in report.json.

bench.json is written even when the device disconnects mid-run (`complete: false`, the runs that
finished), before the DeviceError reaches the user; an attempt that measured nothing leaves earlier
results in place. Writes are atomic (temp file + rename).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from edge_sdk.atomic_text import write_text_atomic
from edge_sdk.devices.address import parse_address
from edge_sdk.devices.artifact import BenchTarget, resolve_target
from edge_sdk.devices.base import RUNNERS, BenchConfig, BenchInterrupted
from edge_sdk.devices.inputs import bench_inputs
from edge_sdk.report.document import relative_path
from edge_sdk.contracts.records import BenchResult


def write_json(path: Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, default=str) + "\n")


def estimate_comparison(report: dict | None, result: BenchResult) -> dict | None:
    """Measured vs the planner's latency estimate for the profile's best unit (ratio = measured/estimate)."""
    estimates = (report or {}).get("estimates") or {}
    per_unit = {k: v for k, v in (estimates.get("latency_ms") or {}).items() if v}
    if not per_unit or not result.latency_ms:
        return None
    unit = estimates.get("best_unit") if estimates.get("best_unit") in per_unit else min(per_unit, key=per_unit.get)
    measured = result.latency_ms.get("p50", result.latency_ms.get("mean"))
    comparison = {
        "unit": unit,
        "estimated_ms": per_unit[unit],
        "measured_ms": measured,
        "measured_stat": "p50" if "p50" in result.latency_ms else "mean",
        "ratio": round(measured / per_unit[unit], 4) if measured is not None else None,
    }
    if result.runner == "host":
        comparison["note"] = "measured on the host, not on the profile's device: the ratio says how this machine compares"
    return comparison


def _record(target: BenchTarget, result: BenchResult) -> dict:
    artifact = target.artifact.to_dict()  # its files named from bench.json's directory, like report.json's
    artifact.update(path=relative_path(artifact["path"], target.out_dir),
                    files=[relative_path(f, target.out_dir) for f in artifact["files"]])
    doc = {"bench": result.to_dict(), "artifact": artifact}
    comparison = estimate_comparison(target.report, result)
    if target.report is not None:
        doc["profile"] = (target.report.get("profile") or {}).get("name")
        doc["latency_vs_estimate"] = comparison
    return doc


def _save(target: BenchTarget, result: BenchResult) -> dict:
    doc = _record(target, result)
    write_json(target.out_dir / "bench.json", doc)
    if target.report is not None:
        report = json.loads(target.report_path.read_text())
        report["bench"] = {**result.to_dict(), "on_device": result.runner != "host",
                           "latency_vs_estimate": doc.get("latency_vs_estimate")}
        report["bench"].pop("raw", None)
        report["bench"].pop("op_profile", None)  # per-operator times stay in bench.json
        write_json(target.report_path, report)
        from edge_sdk.report.html import write_html

        write_html(report, target.report_path.with_name("report.html"))  # the page shows the bench too
    return doc


def default_config(target: BenchTarget, **overrides: Any) -> BenchConfig:
    """Threads/delegate from the profile that built the artifact (report.json), then the user's flags."""
    settings: dict[str, Any] = {}
    if target.report is not None:
        from edge_sdk.devices.harness import device_settings
        from edge_sdk.errors import ProfileError
        from edge_sdk.profiles import get_profile

        try:
            profile = get_profile((target.report.get("profile") or {}).get("name", ""))
        except ProfileError:
            profile = None  # a user profile not on this machine: keep the defaults
        if profile is not None:
            unit = (target.report.get("estimates") or {}).get("best_unit")
            s = device_settings(profile, unit)
            settings = {"threads": s["threads"], "delegate": s["delegate"]}
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return BenchConfig(**settings)


def bench(
    path: str | Path | BenchTarget, device: str, config: BenchConfig | None = None, **overrides: Any
) -> tuple[BenchResult, dict]:
    """Benchmark `path` (OUT/<profile> or an artifact) on `device`; returns (result, bench.json doc)."""
    target = path if isinstance(path, BenchTarget) else resolve_target(path)
    address = parse_address(device)
    runner = RUNNERS.get(address.transport)
    config = config or default_config(target, **overrides)
    try:
        with bench_inputs(target, config, address.transport) as fed:
            result = runner(target.artifact, address, fed)
    except BenchInterrupted as exc:
        if exc.partial.runs == 0 and not exc.partial.raw.get("warmup"):  # nothing measured: keep earlier results
            raise BenchInterrupted(f"{exc}; no run finished, nothing was saved", exc.partial) from None
        _save(target, replace(exc.partial, complete=False))
        raise BenchInterrupted(
            f"{exc}; the {exc.partial.runs} finished runs were saved to {target.out_dir / 'bench.json'} (complete: false)",
            exc.partial,
        ) from None
    return result, _save(target, result)
