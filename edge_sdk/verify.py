"""Verify an exported artifact on its runtime against the original model.

    verify(artifact, reference, data, tolerance=None) -> Verification   # passed / reason filled in
    check(verification)                                                # raises VerificationError on a miss

The artifact runs on its format's runner (`FORMATS.get(artifact.format).runner`, see edge_sdk/formats/);
the reference outputs come from the original model (its framework's `Frontend.reference`). Fidelity: top-1 agreement
(classification outputs: 2-D with >= 2 classes), cosine similarity, SQNR in dB and max abs error over
all outputs; with labels, accuracy (points, 0-100) of both and the drop. A runner with a cross-check
format is also compared with that format's runner on the same file (`measured["vs_<runtime>"]`).

Tolerances come from the format (`Format.tolerances`, documented in docs/export.md), per precision or
weight compression. They catch a broken export (wrong I/O quantization, wrong layout, a bad kernel),
not the expected loss of a compression: budgets such as max_accuracy_drop judge that.
"""

from __future__ import annotations

import numpy as np

from edge_sdk.data import Dataset
from edge_sdk.errors import VerificationError
from edge_sdk.formats import FORMATS
from edge_sdk.formats.base import RuntimeCrashed
from edge_sdk.frameworks import FRONTENDS
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.contracts.records import Accuracy, Artifact, Fidelity, Verification
from edge_sdk.fidelity import output_fidelity

SQNR_CAP_DB = 200.0  # identical outputs: reported as the cap, not infinity (JSON has no inf)


def tolerance_for(artifact: Artifact) -> dict[str, float]:
    return FORMATS.get(artifact.format).tolerance(artifact.details.get("compression") or artifact.precision)


def _is_classification(arr: np.ndarray) -> bool:
    return arr.ndim == 2 and arr.shape[1] >= 2


def default_kinds(reference: list[np.ndarray]) -> dict[str, str]:
    """Output kinds when the caller knows nothing of the graph: (N, C >= 2) classification, else regression."""
    return {f"output_{i}": "classification" if _is_classification(r) else "regression" for i, r in enumerate(reference)}


def fidelity(reference: list[np.ndarray], got: list[np.ndarray], kinds: dict[str, str] | None = None) -> Fidelity:
    """Per output, the metrics of its kind (`kinds`: output name -> kind, in output order; see
    edge_sdk/fidelity.py); over all outputs flattened, cosine / SQNR / max abs error; top-1 agreement
    of the first output when it is a classification."""
    if len(reference) != len(got):
        raise ValueError(f"{len(got)} outputs, the reference model has {len(reference)}")
    for r, g in zip(reference, got):
        if r.size != g.size:
            raise ValueError(f"output of {g.shape} does not match the reference {r.shape}")
    kinds = kinds if kinds is not None and len(kinds) == len(reference) else default_kinds(reference)
    outputs = tuple(output_fidelity(name, kind, r, g) for (name, kind), r, g in zip(kinds.items(), reference, got))
    ref = np.concatenate([r.reshape(len(r), -1) for r in reference], axis=1).astype(np.float64)
    out = np.concatenate([g.reshape(len(g), -1) for g in got], axis=1).astype(np.float64)
    top1 = outputs[0].metrics["top1_agreement"] if outputs[0].kind == "classification" else None
    denom = np.linalg.norm(ref) * np.linalg.norm(out)
    cosine = float((ref * out).sum() / denom) if denom else float(np.array_equal(ref, out))
    noise = float(((ref - out) ** 2).sum())
    signal = float((ref**2).sum())
    sqnr = SQNR_CAP_DB if noise == 0 else min(SQNR_CAP_DB, 10 * np.log10(signal / noise)) if signal else -SQNR_CAP_DB
    return Fidelity(top1, cosine, float(sqnr), float(np.abs(ref - out).max()), outputs)


def _accuracy(reference: list[np.ndarray], got: list[np.ndarray], labels: np.ndarray | None) -> Accuracy | None:
    if labels is None or not _is_classification(reference[0]):
        return None
    ref_acc = float((reference[0].argmax(1) == labels).mean() * 100)
    acc = float((got[0].reshape(reference[0].shape).argmax(1) == labels).mean() * 100)
    return Accuracy(reference=ref_acc, compressed=acc, drop=ref_acc - acc)


def _misses(values: dict[str, float | None], tolerance: dict[str, float]) -> list[str]:
    return [
        f"{metric} {values[metric]:.4f} < tolerance {limit}"
        for metric, limit in tolerance.items()
        if values.get(metric) is not None and values[metric] < limit  # type: ignore[operator]
    ]


def verify(artifact: Artifact, reference: LoadedModel, data: Dataset, tolerance: dict[str, float] | None = None,
           kinds: dict[str, str] | None = None) -> Verification:
    """Run `artifact` on its runtime over `data` and compare with `reference`; never raises on a miss."""
    runner = FORMATS.get(artifact.format).runner
    limits = {**tolerance_for(artifact), **(tolerance or {})}
    ref_out = FRONTENDS.get(reference.framework).reference(reference, data.inputs)
    checks = runner.checks(artifact) if runner.checks else {}
    problems = list(checks.get("problems", []))
    try:
        got = runner.run(artifact, data.inputs, reference=reference)
    except NotImplementedError as exc:  # the runtime cannot predict on this OS (and nothing simulates it)
        return Verification(runner.runtime, "not_run", len(data), None, checks=checks, tolerance=limits,
                            passed=not problems, reason="; ".join(problems + [str(exc)]))
    except RuntimeCrashed as exc:
        if not runner.cross_check:
            raise
        return _verify_on_fallback(artifact, reference, data, ref_out, runner.cross_check, limits, checks, problems, exc, kinds)
    fid = fidelity(ref_out, got, kinds)
    measured = runner.measure(artifact) if runner.measure else {}
    values: dict[str, float | None] = {"top1_agreement": fid.top1_agreement, "cosine": fid.cosine}
    if runner.cross_check:
        cross_runner = FORMATS.get(runner.cross_check).runner
        cross = fidelity(cross_runner.run(artifact, data.inputs, reference=reference), got)
        name = cross_runner.runtime
        measured[f"vs_{name}"] = {"top1_agreement": cross.top1_agreement, "cosine": cross.cosine,
                                  "max_abs_error": cross.max_abs_error}
        values.update({f"vs_{name}_top1_agreement": cross.top1_agreement, f"vs_{name}_cosine": cross.cosine})
    problems += _misses(values, limits)
    return Verification(
        runtime=runner.runtime,
        method=runner.method,
        samples=len(data),
        fidelity=fid,
        accuracy=_accuracy(ref_out, got, data.labels),
        measured=measured,
        checks=checks,
        tolerance=limits,
        passed=not problems,
        reason="; ".join(problems),
    )


def _verify_on_fallback(artifact: Artifact, reference: LoadedModel, data: Dataset, ref_out: list[np.ndarray],
                        fallback_format: str, limits: dict[str, float], checks: dict, problems: list[str],
                        crash: Exception, kinds: dict[str, str] | None) -> Verification:
    """The artifact's own runtime crashed: run the same file on the cross-check format's runtime (one
    that reads the same file, with kernels that differ by rounding) and report it as simulated, with why."""
    fallback = FORMATS.get(fallback_format).runner
    got = fallback.run(artifact, data.inputs, reference=reference)
    fid = fidelity(ref_out, got, kinds)
    own = {k: v for k, v in limits.items() if not k.startswith("vs_")}
    problems = problems + _misses({"top1_agreement": fid.top1_agreement, "cosine": fid.cosine}, own)
    note = f"{crash}; verified on {fallback.runtime} running the same file instead"
    return Verification(
        runtime=fallback.runtime, method="simulated", samples=len(data), fidelity=fid,
        accuracy=_accuracy(ref_out, got, data.labels), checks=checks, tolerance=own,
        passed=not problems, reason="; ".join(problems + [note]),
    )


def check(verification: Verification) -> Verification:
    """Raise VerificationError naming the metric, its value and the tolerance when verification failed."""
    if not verification.passed:
        raise VerificationError(
            f"{verification.runtime} verification ({verification.method}) failed: {verification.reason}"
        )
    return verification
