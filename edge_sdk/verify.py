"""Verify an exported artifact on its runtime against the original model.

    verify(artifact, reference, data, kinds=None) -> Verification   # never raises on a miss
    check(verification)                                           # raises VerificationError when it failed

The artifact runs on its format's runner (`FORMATS.get(artifact.format).runner`, see edge_sdk/formats/);
the reference outputs come from the original model (its framework's `Frontend.reference`). Fidelity is
measured per output by the metric of its kind (edge_sdk/fidelity.py; `kinds` from edge_sdk/model/tasks.py);
with labels, accuracy (points, 0-100) of both and the drop. How much fidelity a compression may cost is
the build's budgets' business (`min_fidelity`, `max_accuracy_drop`), not verification's: a verification
fails only on what is broken whatever the budget - a structural problem of the artifact, or a runtime
that disagrees with its cross-check on the same file (TFLM vs LiteRT's reference kernels, bit for bit).
"""

from __future__ import annotations

import numpy as np

from edge_sdk.data import Dataset
from edge_sdk.errors import VerificationError
from edge_sdk.formats import FORMATS
from edge_sdk.formats.base import Runtime, RuntimeCrashed
from edge_sdk.frameworks import FRONTENDS
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.contracts.records import Accuracy, Artifact, Fidelity, Verification
from edge_sdk.fidelity import SQNR_CAP_DB, output_fidelity



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


def verify(artifact: Artifact, reference: LoadedModel, data: Dataset, kinds: dict[str, str] | None = None) -> Verification:
    """Run `artifact` on its runtime over `data` and compare with `reference`; never raises on a miss."""
    runner = FORMATS.get(artifact.format).runner
    ref_out = FRONTENDS.get(reference.framework).reference(reference, data.inputs)
    checks = runner.checks(artifact) if runner.checks else {}
    problems = list(checks.get("problems", []))
    try:
        got = runner.run(artifact, data.inputs, reference=reference)
    except NotImplementedError as exc:  # the runtime cannot predict on this OS (and nothing simulates it)
        return Verification(runner.runtime, "not_run", len(data), None, checks=checks,
                            passed=not problems, reason="; ".join(problems + [str(exc)]))
    except RuntimeCrashed as exc:
        if not runner.cross_check:
            raise
        return _verify_on_fallback(artifact, reference, data, ref_out, runner.cross_check, checks, problems, exc, kinds)
    fid = fidelity(ref_out, got, kinds)
    overflowed = _non_finite(ref_out, got)
    if overflowed:
        problems.append(f"{runner.runtime} ({runner.method}) outputs hold {overflowed} non-finite values where the "
                        "reference's are finite (an overflow, e.g. float16 activations beyond +-65504; the task log names where)")
    measured = runner.measure(artifact) if runner.measure else {}
    if runner.cross_check:
        same = _compare_runtimes(got, runner.cross_check.run(artifact, data.inputs, reference=reference),
                                 STEPS_PER_INT8_STEP.get(artifact.precision, 1))
        measured[f"vs_{runner.cross_check.runtime}"] = same
        if not same["identical"] and not same["within_rounding"]:
            problems.append(f"{runner.runtime} differs from {runner.cross_check.runtime} on the same file by up to "
                            f"{same['max_abs_error']:.4g} ({same['differing_values']} of {same['values']} values): "
                            "more than its kernels' rounding differences from the reference kernels")
    return Verification(
        runtime=runner.runtime,
        method=runner.method,
        samples=len(data),
        fidelity=fid,
        accuracy=_accuracy(ref_out, got, data.labels),
        measured=measured,
        checks=checks,
        passed=not problems,
        reason="; ".join(problems),
    )


def _non_finite(reference: list[np.ndarray], got: list[np.ndarray]) -> int:
    """Output values that are inf or NaN where the reference's are finite."""
    return sum(int((~np.isfinite(np.ravel(g)) & np.isfinite(np.ravel(r))).sum())
               for r, g in zip(reference, got) if np.size(r) == np.size(g))


# TFLite Micro's kernels are LiteRT's reference kernels, but a few round differently by a quantization
# step, and a step early in the graph can grow by a step or so per layer to the output (measured:
# AVERAGE_POOL_2D, 2 of 256 int8 outputs one step apart after a Dense; MTCNN RNet (PReLU, softmax) 16 of
# 1200 outputs up to 2 steps apart; ONet 58 of 3200 up to 3 steps). FULLY_CONNECTED rounds differently
# too: a Dense(128) -> Dense(32) differs on 1% of its outputs by one step, and after the zoo
# autoencoder's ten per-tensor dense layers 7.7% of its outputs differ by one step, 8 of 128,000 by two.
# Such differences stay small, and rare beyond a single step; a broken kernel or a mis-fed tensor
# differs on many values by many steps.
ROUNDING_MAX_DIFFERING = 0.05  # fraction of output values allowed to differ by more than one step
ROUNDING_MAX_STEPS = 4  # output quantization steps
ROUNDING_ONE_STEP = 1  # one-step differences are rounding however many values show them
# 16-bit outputs (int16x8) are compared in 8-bit steps of the same range: TFLM's int16 kernels (softmax's
# lookup table, the 16x8 requantization) differ from the reference by several 16-bit steps (digits CNN:
# 3 of 3,600 softmax outputs, up to 9 steps of 1/32768), far inside one 8-bit step
STEPS_PER_INT8_STEP = {"int16x8": 256}


def _step(values: np.ndarray) -> float:
    """An output's quantization step, read from the values themselves: the smallest gap between distinct
    values (a dequantized int8 output lies on a grid of its scale; a float output's gap is tiny)."""
    gaps = np.diff(np.unique(values))
    return float(gaps.min()) if gaps.size else 0.0


def _compare_runtimes(got: list[np.ndarray], expected: list[np.ndarray], steps_per_unit: int = 1) -> dict:
    """Two runtimes on the same file: identical outputs, or by how much and how often they differ, and
    whether that is within kernel rounding (ROUNDING_MAX_* in units of `steps_per_unit` output steps)."""
    pairs = [(np.asarray(g, np.float64), np.asarray(e, np.float64)) for g, e in zip(got, expected)]
    diffs = [np.abs(g - e).ravel() for g, e in pairs]
    diff = np.concatenate(diffs)
    worst, differing = float(diff.max(initial=0.0)), int((diff != 0).sum())
    steps = [d / max(_step(e) * steps_per_unit, 1e-30) for d, (_, e) in zip(diffs, pairs)]
    small = all(s.max(initial=0.0) <= ROUNDING_MAX_STEPS * (1 + 1e-3) for s in steps)
    beyond_one_step = sum(int((s > ROUNDING_ONE_STEP * (1 + 1e-3)).sum()) for s in steps)
    return {"identical": differing == 0, "max_abs_error": worst, "differing_values": differing, "values": int(diff.size),
            "within_rounding": small and beyond_one_step <= ROUNDING_MAX_DIFFERING * diff.size}


def _verify_on_fallback(artifact: Artifact, reference: LoadedModel, data: Dataset, ref_out: list[np.ndarray],
                        fallback: Runtime, checks: dict, problems: list[str],
                        crash: Exception, kinds: dict[str, str] | None) -> Verification:
    """The artifact's own runtime crashed: run the same file on its cross-check runtime (for TFLM, LiteRT's
    reference kernels, which TFLM's kernels match) and report it as simulated, with why."""
    got = fallback.run(artifact, data.inputs, reference=reference)
    fid = fidelity(ref_out, got, kinds)
    note = f"{crash}; verified on {fallback.runtime} running the same file instead"
    return Verification(
        runtime=fallback.runtime, method="simulated", samples=len(data), fidelity=fid,
        accuracy=_accuracy(ref_out, got, data.labels), checks=checks,
        passed=not problems, reason="; ".join(problems + [note]),
    )


def check(verification: Verification) -> Verification:
    """Raise VerificationError with what is broken when verification failed."""
    if not verification.passed:
        raise VerificationError(
            f"{verification.runtime} verification ({verification.method}) failed: {verification.reason}"
        )
    return verification
