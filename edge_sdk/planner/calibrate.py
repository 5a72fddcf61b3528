"""Fit per-op-kind kernel costs to latencies measured on a device (`edge-sdk calibrate`).

Each measurement is one model's work per feature (cost_model.op_work of its artifact) and its measured
median latency; the unknowns are the cycles per feature. Non-negative least squares (scipy's nnls: a
cost is never negative) on rows scaled by 1/measured cycles, so a 1 ms and a 500 ms model weigh alike
in relative error. With fewer models than features the system is underdetermined: plain NNLS then
sets some costs to zero (measured: the autoencoder's dense layers free after fitting three CNNs), so
the fit is pulled weakly toward a prior, the unit's rate model (`PRIOR_WEIGHT` per feature, in the same
relative units as a measurement): a kind the measurements do not pin stays near the rate model, one
they do follows them. The leave-one-out errors (each model predicted by a fit without it) show how far
the fit carries to other op mixes; their range of measured / estimated ratios is the error band the
overlay gives later estimates on the unit (`kernels.error_band`, docs/estimates.md "Error bands").
A bench.json whose runtime profiled its operators (`op_profile`: ExecuTorch's ETDump, benchmark_model's
op profiling) gives one row per op kind instead of one per model (`traced_samples`), so a single
profiled bench can pin several kinds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_sdk.errors import ConfigError, DataError
from edge_sdk.planner.cost_model import FEATURES, OP_KINDS, OPS, op_work, traced_kinds
from edge_sdk.profiles import ComputeUnit, KernelCosts, Profile


@dataclass(frozen=True)
class Sample:
    name: str
    work: dict[str, float]  # feature -> amount (cost_model.FEATURES)
    measured_ms: float
    dtype: str = "int8"  # the compute dtype the artifact ran (estimate.compute_dtype)


@dataclass(frozen=True)
class Fit:
    cycles: dict[str, float]  # feature -> cycles per unit, features with work in some sample
    errors: dict[str, float]  # sample name -> relative error of the fitted model on it
    loo_errors: dict[str, float]  # sample name -> relative error of a fit without that sample (needs >= 2)

    @property
    def error_band(self) -> tuple[float, float] | None:
        """(lowest, highest) measured / estimated ratio over the leave-one-out predictions: how far off an
        estimate for a model the fit has not seen has been; None without two models."""
        ratios = [1 / (1 + e) for e in self.loo_errors.values()]
        return (round(min(ratios), 4), round(max(ratios), 4)) if ratios else None

    def summary(self) -> dict:
        """What a calibrated overlay records about its own fit (profile field kernels.fit)."""
        loo = [abs(e) for e in self.loo_errors.values()]
        return {"models": len(self.errors), "errors": {k: round(v, 4) for k, v in self.errors.items()},
                "leave_one_out_errors": {k: round(v, 4) for k, v in self.loo_errors.items()},
                "leave_one_out_median_abs_error": round(float(np.median(loo)), 4) if loo else None}


PRIOR_WEIGHT = 0.05


def fit(samples: list[Sample], clock_hz: float, prior: dict[str, float] | None = None) -> Fit:
    """Cycles per feature that best explain the samples (relative least squares, non-negative), pulled
    toward `prior` (cycles per feature) where the samples leave a feature free."""
    if not samples:
        raise ValueError("no measurements to fit")
    features = [f for f in FEATURES if any(s.work.get(f) for s in samples)]
    prior = {f: c for f, c in (prior or {}).items() if f in features and c > 0}
    cycles = _solve(samples, features, clock_hz, prior)
    errors = {s.name: _predict(s, cycles, clock_hz) / s.measured_ms - 1 for s in samples}
    loo = {}
    if len(samples) >= 2:
        for i, held_out in enumerate(samples):
            rest = samples[:i] + samples[i + 1:]
            loo[held_out.name] = _predict(held_out, _solve(rest, features, clock_hz, prior), clock_hz) / held_out.measured_ms - 1
    return Fit(cycles, errors, loo)


def _solve(samples: list[Sample], features: list[str], clock_hz: float, prior: dict[str, float]) -> dict[str, float]:
    from scipy.optimize import nnls

    measured_cycles = np.array([s.measured_ms * clock_hz / 1000 for s in samples])
    rows = [np.array([[s.work.get(f, 0.0) for f in features] for s in samples]) / measured_cycles[:, None]]
    targets = [np.ones(len(samples))]
    for feature, cycles in prior.items():  # PRIOR_WEIGHT * (c / prior - 1) = 0
        row = np.zeros(len(features))
        row[features.index(feature)] = PRIOR_WEIGHT / cycles
        rows.append(row[None, :])
        targets.append(np.array([PRIOR_WEIGHT]))
    solution, _ = nnls(np.vstack(rows), np.concatenate(targets))
    return {f: float(c) for f, c in zip(features, solution)}


def _predict(sample: Sample, cycles: dict[str, float], clock_hz: float) -> float:
    return 1000 * sum(cycles.get(f, 0.0) * amount for f, amount in sample.work.items()) / clock_hz


def read_samples(bench_files: list[Path]) -> tuple[list[Sample], set[str], set[str]]:
    """One Sample per bench.json (its artifact analysed: the runtime ops it holds), with the profiles
    the files name and the artifact formats. DataError naming the file on anything unreadable."""
    from edge_sdk.model import analyze, load_model
    from edge_sdk.planner.estimate import compute_dtype
    from edge_sdk.profiles import OP_NAMESPACE

    samples, profiles, formats = [], set(), set()
    for path in bench_files:
        try:
            doc = json.loads(path.read_text())
            bench, artifact = doc["bench"], doc["artifact"]
            measured = float(bench["latency_ms"]["p50"])
            fmt, precision = artifact["format"], artifact["precision"]
            artifact_path = (path.parent / artifact["path"]).resolve()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(f"{path}: not an `edge-sdk bench` bench.json ({type(exc).__name__}: {exc}); "
                            "pass the bench.json files `edge-sdk bench` wrote") from None
        if bench.get("runner") == "host":
            raise DataError(f"{path}: measured with `--device host`, i.e. on this machine, not on the device the profile "
                            "describes; calibrate from runs on the device")
        if not bench.get("complete") or measured <= 0:
            raise DataError(f"{path}: the measurement is incomplete ({bench.get('error') or 'no latency'}); re-run `edge-sdk bench`")
        try:
            dtype = compute_dtype("int8" if precision.startswith("int8") else precision)  # int8-mixed: int8 kernels
        except ValueError:
            raise DataError(f"{path}: the artifact's precision is {precision!r} (benchmarked outside its build output?); "
                            "bench OUT/<profile> as the build wrote it, so report.json names the precision") from None
        if fmt not in OP_NAMESPACE:
            raise DataError(f"{path}: artifact format {fmt!r} has no op vocabulary to fit; valid: {', '.join(OP_NAMESPACE)}")
        if not artifact_path.exists():
            raise DataError(f"{path}: its artifact {artifact_path} is missing; keep bench.json beside the build output")
        info = analyze(load_model(artifact_path if fmt in ANALYSABLE_ARTIFACTS else source_model(path, fmt)))
        work = op_work(info, OP_NAMESPACE[fmt], dtype)
        name = f"{path.parent.name}/{artifact_path.name}"
        traced = bench.get("op_profile")
        samples.extend(traced_samples(name, work, traced, dtype) if traced else [Sample(name, work, measured, dtype)])
        profiles.add(doc.get("profile"))
        formats.add(fmt)
    return samples, profiles - {None}, formats


ANALYSABLE_ARTIFACTS = ("tflite", "tflm")  # artifacts load_model reads; the others through their source model
RESHAPING_STEPS = ("distill", "lowrank")  # techniques that change the architecture (so its work per kind)


def source_model(bench_path: Path, fmt: str) -> Path:
    """The model a .pte (or other unreadable artifact) was built from, from the build's report.json
    beside bench.json; refused when the chosen rung changed the architecture (a distilled student,
    low-rank or channel-pruned layers), whose work per kind the source model does not have."""
    report_path = bench_path.parent / "report.json"
    try:
        report = json.loads(report_path.read_text())
        model = Path(report["model"]["path"])
        steps = report["plan"]["steps"]
    except (OSError, ValueError, KeyError, TypeError):
        raise DataError(f"{bench_path}: a {fmt} artifact is analysed through the model it was built from, named in the "
                        f"build's report.json; keep {report_path.name} beside bench.json (the build output as written)") from None
    reshaped = [s["technique"] for s in steps
                if s.get("technique") in RESHAPING_STEPS or (s.get("params") or {}).get("structure") == "channel"]
    if reshaped:
        raise DataError(f"{bench_path}: rung {report['plan'].get('name')} changed the architecture ({', '.join(reshaped)}), "
                        f"so its {fmt} artifact has work the source model does not show; calibrate from a rung that keeps "
                        "the architecture (e.g. int8 or fp32)")
    model = model if model.is_absolute() else (bench_path.parent / model).resolve()
    if not model.exists():
        raise DataError(f"{bench_path}: the model it was built from, {model}, is missing; calibrate where the build ran")
    return model


def traced_samples(name: str, work: dict[str, float], ops: list[dict], dtype: str) -> list[Sample]:
    """One Sample per group of op kinds the traced operators ran (cost_model.traced_kinds): the time of
    that group's operators against the model's work of those kinds and their count. So one traced
    bench gives a row per kind instead of one per model. Operators of no known kind, or of kinds the
    model has no work of (layout transposes a delegate inserts), are left out: the fit cannot place
    their time."""
    groups: dict[tuple[str, ...], list[float]] = {}
    for op in ops:
        kinds = traced_kinds(str(op.get("name", "")))
        if kinds is not None and any(work.get(k) for k in kinds):
            groups.setdefault(kinds, []).append(float(op["ms"]))
    return [Sample(f"{name}:{'+'.join(kinds)}", {**{k: work[k] for k in kinds if work.get(k)}, OPS: float(len(times))},
                   sum(times), dtype)
            for kinds, times in groups.items() if sum(times) > 0]


def pick_unit(profile: Profile, fmt: str, unit_name: str | None) -> ComputeUnit:
    """The unit the measurements ran on: `unit_name`, else the format's first unit."""
    units = profile.units_for(fmt)
    unit = next((u for u in units if u.name == unit_name), None) if unit_name else (units[0] if units else None)
    if unit is None:
        valid = ", ".join(u.name for u in units) or "none"
        raise ConfigError(f"--unit {unit_name!r}: profile {profile.name} has no such unit for {fmt}; valid: {valid}")
    return unit


def rate_prior(profile: Profile, unit: ComputeUnit, dtype: str) -> dict[str, float]:
    """The unit's rate model in cycles per feature: what the fit falls back toward."""
    from edge_sdk.planner.estimate import OP_OVERHEAD_CYCLES, unit_rate

    rate = unit_rate(unit, dtype)
    if not rate:
        return {}
    per_mac = profile.compute.clock_hz / (rate * unit.efficiency)
    return {**dict.fromkeys(OP_KINDS, per_mac), OPS: float(OP_OVERHEAD_CYCLES)}


def overlay(profile: Profile, unit: ComputeUnit, dtype: str, result: Fit, name: str, library: str,
            sources: list[str]) -> dict:
    """A profile that `extends:` `profile`, `unit` carrying the fitted kernel costs for `dtype`."""
    previous = unit.kernels or KernelCosts(library=library, cycles={}, source="")
    bands = {d: list(b) for d, b in previous.error_band.items() if d != dtype}
    if result.error_band is not None:
        bands[dtype] = list(result.error_band)
    kernels = {"library": library, "cycles": {**previous.cycles, dtype: {k: round(v, 6) for k, v in result.cycles.items()}},
               "fit": {"dtype": dtype, **result.summary()}, "error_band": bands,
               "source": "edge-sdk calibrate from " + ", ".join(sources)}
    dumped = [u.model_dump(mode="json", exclude_none=True) for u in profile.compute.units]
    for raw in dumped:
        if raw["name"] == unit.name:
            raw["kernels"] = kernels
    return {"name": name, "extends": profile.name, "compute": {"units": dumped}}
