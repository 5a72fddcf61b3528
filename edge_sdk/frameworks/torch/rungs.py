"""The PyTorch model's ladder on ExecuTorch targets (Core ML rungs are format-level: planner/ladder.py).

    pte:        float32 -> dynamic-int8 (where the target runs float ops) -> int8 PTQ -> QAT int8
                -> prune 50% + PTQ -> distill to width 0.75 / 0.5 / 0.35 + PTQ
    pte-coreml: float32 -> distill (the Core ML partitioner takes float programs only)
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from edge_sdk.contracts.model import ModelInfo
from edge_sdk.contracts.plan import Candidate, Step
from edge_sdk.planner.candidates import distill_rungs

if TYPE_CHECKING:
    from edge_sdk.profiles import Profile

_rung = partial(Candidate, framework="torch")


def rungs(info: ModelInfo, profile: Profile, fmt: str, allows_float: bool) -> list[Candidate]:
    if fmt == "pte-coreml":
        return [_rung("fp32", fmt, "float32")] + distill_rungs("torch", "fp32", fmt, "float32")
    ptq = Step("ptq", {})
    ladder = []
    if allows_float:
        ladder.append(_rung("fp32", fmt, "float32"))
        ladder.append(_rung("dynamic-int8", fmt, "dynamic-int8", (Step("ptq", {"mode": "dynamic-int8"}),)))
    ladder += [
        _rung("int8", fmt, "int8", (ptq,)),
        _rung("qat-int8", fmt, "int8", (Step("qat", {}),), trains=True),
        _rung("prune50-int8", fmt, "int8", (Step("prune", {"sparsity": 0.5}), ptq), sparsity=0.5, trains=True),
    ]
    return ladder + distill_rungs("torch", "int8", fmt, "int8", then=(ptq,))
