"""Cache of whole built candidates: the exported artifact files, the verification and the step records.

Exporting and verifying on a runtime costs seconds to minutes per candidate (converters, TFLM arena
measurement, ExecuTorch lowering). An attempt's result depends only on the model, the data, the
candidate, the profile, the seed and the installed versions, so it is stored content-addressed in the
build's StepCache under a key over all of those; an identical rebuild copies the files back instead of
converting again, and says so. Budgets are not part of the key (they are re-checked on every build),
except the fidelity floor of a rung that searches against it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from edge_sdk.cache import RECORD_FILE, StepCache, cache_key
from edge_sdk.techniques.base import TechniqueData
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.planner.plan_file import candidate_to_dict
from edge_sdk.profiles import Profile
from edge_sdk.contracts.records import Artifact, StepRecord, Verification

FILES_DIR = "files"


def attempt_key(model: LoadedModel, data: TechniqueData, eval_fingerprint: str, candidate: Any, profile: Profile, seed: int,
                min_fidelity: dict[str, float] | None = None, metadata: Any = None) -> str | None:
    """`min_fidelity` counts only for a rung whose export searches against it (int8-mixed's float
    fallback, int8-tuned's choices); other rungs' results do not depend on budgets."""
    if model.sha256 is None:
        return None
    fingerprints = [data.train.fingerprint(), data.calibration.fingerprint(), eval_fingerprint]
    config = {"profile": profile.model_dump(mode="json"), "seed": seed}
    if candidate.precision == "int8-mixed" or getattr(candidate, "tuned", False):
        config["min_fidelity"] = min_fidelity
    if metadata is not None:  # names, labels and descriptions are written into the files
        config["metadata"] = metadata.to_dict()
    return cache_key(model.sha256, "/".join(fingerprints), ["attempt", candidate_to_dict(candidate)], config)


def save(cache: StepCache, key: str, artifact: Artifact, artifact_dir: Path, verification: Verification, records: list[StepRecord]) -> None:
    def write(tmp: Path) -> None:
        shutil.copytree(artifact_dir, tmp / FILES_DIR)
        meta = {"artifact": artifact.to_dict(), "verification": verification.to_dict(), "records": [r.to_dict() for r in records]}
        (tmp / RECORD_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))

    cache.put(key, write)


def restore(cache: StepCache, key: str, label: str, work_dir: Path) -> tuple[Artifact, Path, Verification, list[StepRecord]] | None:
    entry = cache.get(key, label)
    if entry is None:
        return None
    try:
        return _restore_entry(entry, work_dir)
    except Exception as exc:  # noqa: BLE001 - a damaged entry means "rebuild", which is always safe
        cache.say(f"cache entry {key[:12]} unreadable ({exc.__class__.__name__}); rebuilding")
        cache.evict(key)
        return None


def _restore_entry(entry: Path, work_dir: Path) -> tuple[Artifact, Path, Verification, list[StepRecord]]:
    meta = json.loads((entry / RECORD_FILE).read_text())
    if work_dir.exists():
        shutil.rmtree(work_dir)
    shutil.copytree(entry / FILES_DIR, work_dir)
    records = [StepRecord.from_dict(r) for r in meta["records"]]
    return Artifact.from_dict(meta["artifact"], work_dir), work_dir, Verification.from_dict(meta["verification"]), records
