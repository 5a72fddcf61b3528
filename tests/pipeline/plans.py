"""A small plan with a trained rung shared by two targets, and the artifact hashes two builds of it
are compared by (the executor tests: --jobs, Ray)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def _rung(name, fmt, precision, steps=()):
    return {"name": name, "fmt": fmt, "precision": precision, "framework": "keras", "steps": list(steps)}


QAT = {"technique": "qat", "params": {"epochs": 2}}
PLAN = {"plan_version": 2, "targets": {
    "pixel-8": [_rung("fp32", "tflite", "float32"), _rung("dynamic-int8", "tflite", "dynamic-int8"),
                _rung("int8", "tflite", "int8"), _rung("qat-int8", "tflite", "int8", [QAT])],
    "stm32f746-disco": [_rung("int8", "tflm", "int8"), _rung("qat-int8", "tflm", "int8", [QAT])],
}}


def artifact_hashes(out: Path) -> dict[str, str]:
    """Every attempt's artifact sha256 and every shipped file's (reports aside: they hold timings)."""
    found = {}
    for report_path in sorted(out.glob("*/report.json")):
        report = json.loads(report_path.read_text())
        for attempt in report["attempts"]:
            if attempt["artifact"]:
                found[f"{report['profile']['name']}/{attempt['name']}"] = attempt["artifact"]["sha256"]
        for path in sorted(report_path.parent.rglob("*")):
            if path.is_file() and path.name not in ("report.json", "report.html"):
                found[str(path.relative_to(out))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found
