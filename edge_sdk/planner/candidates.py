"""Rungs every framework's ladder shares (the distillation widths); `Candidate` and `Step` themselves
are contracts (edge_sdk/contracts/plan.py). The generic order lives in ladder.py; the framework-specific
rung lists in `edge_sdk/frameworks/<name>/rungs.py`."""

from __future__ import annotations

from typing import Any

from edge_sdk.contracts.plan import Candidate, Step

DISTILL_WIDTHS = (0.75, 0.5, 0.35)  # the student widths every ladder tries, widest first


def distill_rungs(framework: str, suffix: str, fmt: str, precision: str, then: tuple[Step, ...] = (), **export: Any) -> list[Candidate]:
    """One rung per width in DISTILL_WIDTHS: distill to width w (params and MACs scale by w^2,
    activations by w), then the steps `then`; `export` sets e.g. coreml_compression."""
    return [
        Candidate(
            f"distill{w}-{suffix}", fmt, precision, (Step("distill", {"width": w}), *then),
            params_scale=w * w, macs_scale=w * w, activation_scale=w, trains=True, framework=framework, **export,
        )
        for w in DISTILL_WIDTHS
    ]
