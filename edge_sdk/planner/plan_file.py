"""plan.json: the ladders `edge-sdk plan --save` wrote, replayed by `edge-sdk build --plan`.

A user can edit it (drop rungs, change a sparsity or width) to steer the search without code.
"""

from __future__ import annotations

import json
from pathlib import Path

from edge_sdk.errors import ConfigError
from edge_sdk.planner.ladder import Candidate, Step

PLAN_VERSION = 1
_FIELDS = ("name", "fmt", "precision", "coreml_compression", "params_scale", "macs_scale", "activation_scale", "sparsity", "trains")


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
        targets = doc["targets"]
        return {
            name: [
                Candidate(**{f: c[f] for f in _FIELDS if f in c}, steps=tuple(Step(s["technique"], s.get("params", {})) for s in c["steps"]))
                for c in ladder
            ]
            for name, ladder in targets.items()
        }
    except FileNotFoundError:
        raise ConfigError(f"plan file {path} does not exist") from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a plan written by `edge-sdk plan --save` ({exc.__class__.__name__}: {exc})") from None
