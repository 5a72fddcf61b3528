"""Fidelity to the original model, measured the way each output's task needs.

An output's kind decides its metrics (docs/export.md, "Fidelity"):

| kind | metrics (per output) | gated by default |
|---|---|---|
| classification (probabilities or logits; score maps per position) | `top1_agreement`, `top5_agreement` (more than 10 classes) | `top1_agreement` >= 0.99 |
| embedding | per-sample cosine `cosine_min` / `cosine_p5` / `cosine_mean`, `nn_agreement` (nearest neighbour kept) | `cosine_min` >= 0.98 |
| regression / reconstruction | `sqnr_db`, `relative_l2` | `sqnr_db` >= 20 |
| detection (boxes, ... x 4) | per-box IoU `box_iou_mean` / `box_iou_min` | `box_iou_mean` >= 0.9 |
| sequence (per-position scores) | `token_agreement` (per-position top-1) | `token_agreement` >= 0.98 |

Every metric also gets its per-sample distribution (`min`, `p5`, `median`, `mean`) where one exists, so a
report shows whether a miss is a few bad samples or a uniform shift.
"""

from __future__ import annotations

import numpy as np

from edge_sdk.contracts.records import OutputFidelity

KINDS = ("classification", "embedding", "regression", "detection", "sequence")
PRIMARY = {"classification": "top1_agreement", "embedding": "cosine_min", "regression": "sqnr_db",
           "detection": "box_iou_mean", "sequence": "token_agreement"}
DEFAULT_MIN_FIDELITY = {"top1_agreement": 0.99, "cosine_min": 0.98, "sqnr_db": 20.0, "box_iou_mean": 0.9,
                        "token_agreement": 0.98}
LOWER_IS_BETTER = frozenset({"relative_l2"})
METRICS = {
    "classification": ("top1_agreement", "top5_agreement"),
    "embedding": ("cosine_min", "cosine_p5", "cosine_mean", "nn_agreement"),
    "regression": ("sqnr_db", "relative_l2"),
    "detection": ("box_iou_mean", "box_iou_min"),
    "sequence": ("token_agreement",),
}
ALL_METRICS = tuple(sorted({m for ms in METRICS.values() for m in ms}))
SQNR_CAP_DB = 200.0  # identical outputs: reported as the cap, not infinity (JSON has no inf)
_EPS = 1e-12


def _stats(values: np.ndarray) -> dict[str, float]:
    v = np.asarray(values, dtype=np.float64)
    return {"min": float(v.min()), "p5": float(np.percentile(v, 5)), "median": float(np.median(v)), "mean": float(v.mean())}


def _sqnr(signal: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """dB per row; identical rows get the cap."""
    db = 10 * np.log10(np.maximum(signal, _EPS) / np.maximum(noise, _EPS))
    return np.where(noise <= 0, SQNR_CAP_DB, np.minimum(db, SQNR_CAP_DB))


def _classification(ref: np.ndarray, got: np.ndarray) -> tuple[dict, dict]:
    """Top-1 of each decision: a sample's scores, or each position's of a score map (N, H, W, C) - the
    argmax over a whole map picked one of many tied saturated int8 positions (MTCNN PNet: 0.0 against
    0.999 per position)."""
    if ref.ndim > 2:
        r, g = ref.reshape(-1, ref.shape[-1]), got.reshape(-1, ref.shape[-1])
    else:
        r, g = ref.reshape(len(ref), -1), got.reshape(len(got), -1)
    agree = r.argmax(1) == g.argmax(1)
    metrics = {"top1_agreement": float(agree.mean())}
    if r.shape[1] > 10:
        top5 = np.argsort(-g, axis=1)[:, :5]
        metrics["top5_agreement"] = float((top5 == r.argmax(1)[:, None]).any(1).mean())
    return metrics, {}


def _embedding(ref: np.ndarray, got: np.ndarray) -> tuple[dict, dict]:
    r, g = ref.reshape(len(ref), -1).astype(np.float64), got.reshape(len(got), -1).astype(np.float64)
    norms = np.linalg.norm(r, axis=1) * np.linalg.norm(g, axis=1)
    cos = np.where(norms > 0, (r * g).sum(1) / np.maximum(norms, _EPS), 1.0)
    stats = _stats(cos)
    metrics = {"cosine_min": stats["min"], "cosine_p5": stats["p5"], "cosine_mean": stats["mean"]}
    if len(r) > 2:
        def neighbours(x: np.ndarray) -> np.ndarray:
            unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), _EPS)
            sim = unit @ unit.T
            np.fill_diagonal(sim, -np.inf)
            return sim.argmax(1)

        metrics["nn_agreement"] = float((neighbours(r) == neighbours(g)).mean())
    return metrics, {"cosine": stats}


def _regression(ref: np.ndarray, got: np.ndarray) -> tuple[dict, dict]:
    r, g = ref.reshape(len(ref), -1).astype(np.float64), got.reshape(len(got), -1).astype(np.float64)
    signal, noise = (r**2).sum(1), ((r - g) ** 2).sum(1)
    total_noise, total_signal = float(noise.sum()), float(signal.sum())
    sqnr = SQNR_CAP_DB if total_noise == 0 else float(_sqnr(np.array([total_signal]), np.array([total_noise]))[0])
    rel = float(np.sqrt(total_noise / total_signal)) if total_signal > 0 else (0.0 if total_noise == 0 else float("inf"))
    return {"sqnr_db": sqnr, "relative_l2": rel}, {"sqnr_db": _stats(_sqnr(signal, noise))}


def _boxes_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of matching boxes, (y1, x1, y2, x2) or (x1, y1, x2, y2): the formula is symmetric in axes."""
    lo, hi = np.maximum(a[..., :2], b[..., :2]), np.minimum(a[..., 2:], b[..., 2:])
    inter = np.clip(hi - lo, 0, None).prod(-1)
    area = lambda x: np.clip(x[..., 2:] - x[..., :2], 0, None).prod(-1)  # noqa: E731
    union = area(a) + area(b) - inter
    return np.where(union > 0, inter / np.maximum(union, _EPS), 1.0)


def _detection(ref: np.ndarray, got: np.ndarray) -> tuple[dict, dict]:
    iou = _boxes_iou(ref.reshape(len(ref), -1, 4), got.reshape(len(got), -1, 4)).mean(1)
    stats = _stats(iou)
    return {"box_iou_mean": stats["mean"], "box_iou_min": stats["min"]}, {"box_iou": stats}


def _sequence(ref: np.ndarray, got: np.ndarray) -> tuple[dict, dict]:
    r, g = ref.reshape(len(ref), -1, ref.shape[-1]), got.reshape(len(got), -1, ref.shape[-1])
    per_sample = (r.argmax(-1) == g.argmax(-1)).mean(1)
    return {"token_agreement": float(per_sample.mean())}, {"token_agreement": _stats(per_sample)}


_BY_KIND = {"classification": _classification, "embedding": _embedding, "regression": _regression,
            "detection": _detection, "sequence": _sequence}


def output_fidelity(name: str, kind: str, ref: np.ndarray, got: np.ndarray) -> OutputFidelity:
    if ref.size != got.size:
        raise ValueError(f"output {name!r} of {got.shape} does not match the reference {ref.shape}")
    metrics, per_sample = _BY_KIND[kind](np.asarray(ref), np.asarray(got).reshape(ref.shape))
    return OutputFidelity(name, kind, {k: round(v, 6) for k, v in metrics.items()}, per_sample)


def misses(outputs: tuple[OutputFidelity, ...], limits: dict[str, float]) -> list[tuple[str, float]]:
    """('output metric value < limit', relative shortfall) for every measured metric that has a limit
    and misses it."""
    found = []
    for out in outputs:
        for metric, value in out.metrics.items():
            limit = limits.get(metric)
            if limit is None:
                continue
            shortfall = (value - limit if metric in LOWER_IS_BETTER else limit - value) / max(abs(limit), _EPS)
            if shortfall > 0:
                found.append((f"{out.output} {metric} {value:.4g} {'>' if metric in LOWER_IS_BETTER else '<'} {limit:g}",
                              shortfall))
    return found


def parse_min_fidelity(values: list[str] | str | float | dict | None) -> dict[str, float] | None:
    """`--min-fidelity` / edge-sdk.yaml `min_fidelity`: METRIC=VALUE (repeatable), a mapping, or a bare
    number, which sets the primary agreement metrics (top-1, min cosine, token agreement, box IoU)."""
    from edge_sdk.errors import BudgetError

    if values is None:
        return None
    if isinstance(values, dict):
        items = list(values.items())
    else:
        items = []
        for value in [values] if isinstance(values, (str, float, int)) else values:
            text = str(value)
            if "=" in text:
                metric, _, number = text.partition("=")
                items.append((metric.strip(), number))
            else:
                items += [(m, text) for m in ("top1_agreement", "cosine_min", "token_agreement", "box_iou_mean")]
    out: dict[str, float] = {}
    for metric, number in items:
        if metric not in ALL_METRICS:
            raise BudgetError(f"min_fidelity metric {metric!r} is unknown; valid: {', '.join(ALL_METRICS)}")
        try:
            limit = float(number)
        except (TypeError, ValueError):
            raise BudgetError(f"min_fidelity {metric}={number!r}: expected a number") from None
        if not np.isfinite(limit) or (metric != "sqnr_db" and metric not in LOWER_IS_BETTER and not 0 < limit <= 1):
            raise BudgetError(f"min_fidelity {metric}={number}: expected a fraction in (0, 1]"
                              + (" (sqnr_db is in dB)" if metric != "sqnr_db" else ""))
        out[metric] = limit
    return out
