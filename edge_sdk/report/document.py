"""Assemble report.json: the machine-readable record of one target's build (keys per design.md,
validated by schemas/report.schema.json).

Keys are only ever added, never renamed; `schema_version` changes when a key's meaning changes.
Every path in it is relative to the report's own directory (OUT/<profile>/), where the shipped files
are: a build directory moved or archived as a whole still resolves, and no machine's absolute paths
leak into a release record.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from edge_sdk.artifact_metadata import ArtifactMetadata
from edge_sdk.contracts.model import LoadedModel, ModelInfo
from edge_sdk.contracts.budgets import Budgets
from edge_sdk.contracts.search import Attempt, SearchResult
from edge_sdk.profiles import Profile

SCHEMA_VERSION = 1


def relative_path(path: str | Path, report_dir: Path) -> str:
    """`path` as seen from the report's directory (POSIX separators): how report.json and bench.json name files."""
    return Path(os.path.relpath(Path(path).resolve(), report_dir.resolve())).as_posix()


def _data_sources(sources: dict[str, Any], report_dir: Path) -> dict[str, Any]:
    """Data files relative to the report; a `module:function` source or an in-memory array stays as named."""
    return {split: {**entry, "source": relative_path(entry["source"], report_dir)} if Path(str(entry.get("source"))).is_file()
            else entry for split, entry in sources.items()}


def _attempt_entries(result: SearchResult, report_dir: Path) -> list[dict]:
    """Each attempt; its artifact's files where OUT keeps them (the chosen one beside the report, a
    Pareto point under pareto/<name>/), else by file name alone (built in scratch space, not kept)."""
    kept = {id(result.chosen): ""} if result.chosen is not None else {}
    kept.update({id(a): f"pareto/{a.candidate.name}/" for a in result.pareto})
    entries = []
    for attempt in result.attempts:
        entry = attempt.to_dict()
        artifact = entry.get("artifact")
        if artifact:
            where = kept.get(id(attempt))
            name = Path(artifact["path"]).name
            artifact["path"] = None if where is None else where + name
            artifact["files"] = [(where or "") + Path(f).name for f in artifact.get("files") or []]
            artifact["kept"] = where is not None
        entries.append(entry)
    return entries


def _artifact_entries(attempt: Attempt | None) -> list[dict]:
    if attempt is None or attempt.artifact is None:
        return []
    a = attempt.artifact
    return [
        {
            "format": a.format,
            "path": a.path.name,
            "files": sorted(p.name for p in a.files) if a.files else [a.path.name],
            "bytes": a.bytes,
            "gzip_bytes": a.gzip_bytes,
            "sha256": a.sha256,
            "precision": a.precision,
            "details": a.details,
            "arena": a.arena.to_dict() if a.arena is not None else None,
        }
    ]


def _verification(attempt: Attempt | None) -> dict | None:
    if attempt is None or attempt.verification is None:
        return None
    return attempt.verification.to_dict()


def _layers(info: ModelInfo) -> list[dict]:
    return [
        {
            "name": l.name,
            "op": l.op,
            "kind": l.kind,
            "output_shapes": [list(s) for s in l.output_shapes],
            "params": l.params,
            "macs": l.macs,
            "activation_bytes": {"float32": l.activation_bytes("float32"), "int8": l.activation_bytes("int8")},
            "runtime_ops": {k: list(v) for k, v in l.runtime_ops.items()},
            "folded": l.name in info.aliases,  # no tensor of its own at inference (a BN folded into its conv, Dropout)
        }
        for l in info.layers
        if l.kind != "input"
    ]


def build_report(
    *,
    target: str,
    profile: Profile,
    loaded: LoadedModel,
    info: ModelInfo,
    budgets: Budgets,
    result: SearchResult,
    rationale: str,
    versions: dict[str, str],
    timings_s: dict[str, float],
    data_sources: dict[str, Any],
    report_dir: Path,
    output_kinds: dict[str, str] | None = None,
    metadata: ArtifactMetadata | None = None,
    executor: dict | None = None,
) -> dict:
    """`report_dir`: OUT/<profile>/, where report.json is written; its paths are relative to it.
    `executor`: where the candidates ran (Executor.describe())."""
    chosen = result.chosen
    estimates = chosen.estimate.to_dict() if chosen is not None else {}
    measured = chosen.measured() if chosen is not None else {}
    return {
        "schema_version": SCHEMA_VERSION,
        "target": target,
        "profile": {"name": profile.name, "family": profile.family, "description": profile.description},
        "model": {
            "path": relative_path(loaded.path, report_dir) if loaded.path else None,
            "framework": loaded.framework,
            "source_format": loaded.source_format,
            "bridged_from": loaded.bridged_from,
            "sha256": loaded.sha256,
            "inputs": [{"name": spec.name, "shape": list(spec.shape), "dtype": spec.dtype,
                        "ranges": [list(r) if r else None for r in spec.ranges]} for spec in loaded.inputs],
            "params": info.params,
            "macs": info.macs,
            "output_kinds": output_kinds or {},
            "peak_activation_bytes": {"float32": info.peak_activation_bytes("float32"), "int8": info.peak_activation_bytes("int8")},
        },
        "data": _data_sources(data_sources, report_dir),
        "metadata": (metadata or ArtifactMetadata()).to_dict(),
        "budgets": {c.name: c.to_dict() for c in chosen.checks} if chosen is not None else {},
        "budget_limits": budgets.to_dict(),
        "plan": {
            "name": chosen.candidate.name if chosen else None,
            "format": chosen.candidate.fmt if chosen else None,
            "steps": chosen.candidate.plan_steps() if chosen else [],
            "rationale": rationale,
        },
        "attempts": _attempt_entries(result, report_dir),
        "pareto": [a.candidate.name for a in result.pareto],
        "artifacts": _artifact_entries(chosen),
        "verification": _verification(chosen),
        "estimates": estimates,
        "measured": measured,
        "feasible": result.feasible,
        "binding_constraint": result.binding_constraint,
        "layers": _layers(info),
        "versions": versions,
        "timings_s": {k: round(v, 3) for k, v in timings_s.items()},
        "executor": executor,
    }


def rationale_for(result: SearchResult) -> str:
    tried = [a for a in result.attempts if a.status not in ("not_tried",)]
    skipped = [f"{a.candidate.name} ({a.status}: {a.reason})" for a in tried if a is not result.chosen]
    if result.chosen is None:
        return "no candidate could be built; " + "; ".join(skipped)
    head = (
        f"{result.chosen.candidate.name} is the cheapest candidate that meets every budget"
        if result.feasible
        else f"no candidate met every budget; {result.chosen.candidate.name} missed by the least"
    )
    return head + (". Before it: " + "; ".join(skipped) if skipped else ".")
