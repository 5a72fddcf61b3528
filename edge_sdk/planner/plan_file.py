"""plan.json: the ladders `edge-sdk plan --save` wrote, replayed by `edge-sdk build --plan`.

A user can edit it (drop rungs, change a sparsity or width) to steer the search without code. Each
rung records the model's framework, so the steps are checked against their techniques' declared
configs when the file is read: a typo is exit 2 naming the target, the rung and the field, before
anything is trained.
"""

from __future__ import annotations

import json
from pathlib import Path

from edge_sdk.errors import ConfigError
from edge_sdk.contracts.plan import Candidate, Step
from edge_sdk.planner.ladder import check_rung

PLAN_VERSION = 2  # 2: rungs record their framework; technique names are framework-neutral
_FIELDS = (
    "name", "fmt", "precision", "framework", "coreml_compression", "dense_per_tensor", "tuned", "params_scale", "macs_scale", "activation_scale",
    "sparsity", "trains",
)  # fmt: skip


def candidate_to_dict(c: Candidate) -> dict:
    d = {f: getattr(c, f) for f in _FIELDS}
    d["steps"] = [s.to_dict() for s in c.steps]
    return d


def write_plan(ladders: dict[str, list[Candidate]], path: str | Path) -> None:
    doc = {"plan_version": PLAN_VERSION, "targets": {name: [candidate_to_dict(c) for c in ladder] for name, ladder in ladders.items()}}
    Path(path).write_text(json.dumps(doc, indent=2) + "\n")


def read_plan(path: str | Path) -> dict[str, list[Candidate]]:
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
        if doc.get("plan_version") != PLAN_VERSION:
            raise ConfigError(
                f"{path}: plan version {doc.get('plan_version')}, this edge-sdk reads version {PLAN_VERSION}; "
                "write it again with `edge-sdk plan --save`"
            )
        ladders = {
            name: [
                Candidate(**{f: c[f] for f in _FIELDS if f in c}, steps=tuple(Step(s["technique"], dict(s.get("params", {}))) for s in c["steps"]))
                for c in ladder
            ]
            for name, ladder in doc["targets"].items()
        }
    except FileNotFoundError:
        raise ConfigError(f"plan file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"plan file {path} is a directory; pass the plan.json written by `edge-sdk plan --save`") from None
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: not a plan written by `edge-sdk plan --save` ({exc.__class__.__name__}: {exc})") from None
    for name, ladder in ladders.items():
        for cand in ladder:
            try:
                check_rung(cand)
            except ConfigError as exc:
                raise ConfigError(f"{path}: target {name!r}, {exc}") from None
    return ladders
