"""The regression gate: compare two builds' report.json files target by target.

Why a gate on reports, not artifacts: a release pipeline needs to know whether the model got bigger,
slower or worse than the last release, under the same definitions the report uses (see summary.py):
size = artifact bytes; latency = measured on the device when both builds measured it, else the
estimate; quality = top-1 agreement and accuracy, in points (0-100). A target that was feasible and
no longer is, or that disappeared, is a regression too.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional
from xml.etree import ElementTree as ET

from edge_sdk.errors import ReportError
from edge_sdk.report import summary


@dataclass(frozen=True)
class Thresholds:
    max_size_growth: float = 0.05  # fraction: 0.05 = new may be 5% larger
    max_latency_growth: float = 0.10  # fraction
    max_quality_drop: float = 0.5  # points (percentage points of top-1 agreement / accuracy)


@dataclass(frozen=True)
class Change:
    target: str
    metric: str  # model | size_bytes | latency_ms | ram_bytes | top1_agreement | accuracy | feasible | present
    base: Optional[float | bool | str]
    new: Optional[float | bool | str]
    change: str  # "+10.0%", "-0.42 pt", "feasible -> infeasible"
    limit: str  # the threshold applied ("" for metrics that are shown, not gated)
    regression: bool
    note: str = ""
    delta: Optional[float] = None  # `change` as a number: relative (0.1 = +10%) for sizes and latency, points for quality
    max_delta: Optional[float] = None  # `limit` as a number, in the same unit

    @property
    def moved(self) -> bool:
        return self.base != self.new or self.regression


def parse_fraction(text: str, flag: str) -> float:
    """'5%' or '5' -> 0.05 (a bare number is a percentage); negative values are refused."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*%?\s*", str(text))
    if not m:
        raise ReportError(f"{flag} {text!r}: expected a percentage like 5% or 10")
    return float(m.group(1)) / 100.0


def parse_points(text: str, flag: str) -> float:
    """'0.5', '0.5pt' or '0.5%' -> 0.5 points."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(pt|points?|%)?\s*", str(text))
    if not m:
        raise ReportError(f"{flag} {text!r}: expected points like 0.5")
    return float(m.group(1))


def _read(path: Path) -> dict:
    try:
        report = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path}: not a readable report.json ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(report, dict) or "target" not in report or "feasible" not in report:
        raise ReportError(f"{path}: not an edge-sdk report.json (no 'target'/'feasible' keys)")
    return report


def load_reports(path: str | Path) -> dict[str, dict]:
    """{profile name: report} from a build output dir (OUT/<profile>/report.json) or one report.json."""
    path = Path(path)
    if path.is_file():
        report = _read(path)
        return {_name(report, path.parent.name): report}
    if (path / "report.json").is_file():
        report = _read(path / "report.json")
        return {_name(report, path.name): report}
    if not path.is_dir():
        raise ReportError(f"{path}: no such file or directory; pass a build output dir or a report.json")
    found = sorted(path.glob("*/report.json"))
    if not found:
        raise ReportError(f"{path}: no <profile>/report.json inside; is this an `edge-sdk build --out` directory?")
    return {_name(r, f.parent.name): r for f in found for r in [_read(f)]}


def _name(report: dict, fallback: str) -> str:
    return str((report.get("profile") or {}).get("name") or fallback)


def _pct(base: float, new: float) -> str:
    return "new" if not base else f"{(new - base) / base * 100:+.1f}%"


def _growth(target: str, metric: str, base: Optional[float], new: Optional[float], limit: Optional[float], note: str = "") -> Optional[Change]:
    if base is None and new is None:
        return None
    if base is None or new is None:
        return Change(target, metric, base, new, "appeared" if base is None else "missing", "", False, note or "not in both reports")
    regression = limit is not None and base > 0 and new > base * (1 + limit)
    limit_text = "" if limit is None else f"+{limit * 100:g}%"
    delta = (new - base) / base if base else None
    return Change(target, metric, base, new, _pct(base, new), limit_text, regression, note, delta, limit)


def _quality(target: str, metric: str, base: Optional[float], new: Optional[float], max_drop: float) -> Optional[Change]:
    if base is None or new is None:
        return None  # quality measured in only one build (e.g. labels added): nothing to compare
    drop = base - new
    return Change(target, metric, base, new, f"{-drop:+.2f} pt", f"-{max_drop:g} pt", drop > max_drop + 1e-9,
                  delta=-drop, max_delta=-max_drop)


def _points(report: dict, metric: str) -> Optional[float]:
    verification = report.get("verification") or {}
    if metric == "top1_agreement":
        value = (verification.get("fidelity") or {}).get("top1_agreement")
        return None if value is None else float(value) * 100
    value = (verification.get("accuracy") or {}).get("compressed")
    return None if value is None else float(value)


def _latency(base: dict, new: dict) -> tuple[Optional[float], Optional[float], str]:
    """Like with like: measured in both, else the estimate in both."""
    (b, b_src), (n, n_src) = summary.latency_ms(base), summary.latency_ms(new)
    if b_src == n_src:
        return b, n, b_src
    return summary.estimated_latency_ms(base.get("estimates")), summary.estimated_latency_ms(new.get("estimates")), (
        "estimate (only one build measured it)"
    )


def _model(target: str, base: dict, new: dict) -> Optional[Change]:
    """A row when the two reports were built from different model files: a retrained release (then
    expected) or two unrelated models (then the other rows compare apples with pears); shown, not gated."""
    b, n = base.get("model") or {}, new.get("model") or {}
    if b.get("sha256") == n.get("sha256"):
        return None
    return Change(target, "model", (b.get("sha256") or "?")[:12], (n.get("sha256") or "?")[:12], "different model file", "",
                  False, f"{b.get('path')} ({b.get('params')} params) -> {n.get('path')} ({n.get('params')} params)")


def compare_target(target: str, base: dict, new: dict, t: Thresholds) -> list[Change]:
    changes: list[Optional[Change]] = [
        _model(target, base, new),
        Change(target, "feasible", base.get("feasible"), new.get("feasible"),
               f"{_verdict(base)} -> {_verdict(new)}", "stays feasible",
               bool(base.get("feasible")) and not new.get("feasible")),
        _growth(target, "size_bytes", summary.artifact_bytes(base), summary.artifact_bytes(new), t.max_size_growth),
    ]
    b_lat, n_lat, source = _latency(base, new)
    changes.append(_growth(target, "latency_ms", b_lat, n_lat, t.max_latency_growth, source))
    changes.append(_growth(target, "ram_bytes", summary.ram_bytes(base)[0], summary.ram_bytes(new)[0], None, "shown, not gated"))
    for metric in ("top1_agreement", "accuracy"):
        changes.append(_quality(target, metric, _points(base, metric), _points(new, metric), t.max_quality_drop))
    return [c for c in changes if c is not None]


def _verdict(report: dict) -> str:
    return "feasible" if report.get("feasible") else "infeasible"


def compare(base: dict[str, dict], new: dict[str, dict], thresholds: Thresholds) -> list[Change]:
    """Every compared (target, metric); a single report on each side is compared whatever its name."""
    if len(base) == 1 and len(new) == 1:
        (b_name, b), (n_name, n) = next(iter(base.items())), next(iter(new.items()))
        return compare_target(n_name if b_name == n_name else f"{b_name} -> {n_name}", b, n, thresholds)
    changes = []
    for name in sorted(set(base) | set(new)):
        if name not in new:
            changes.append(Change(name, "present", True, False, "missing from NEW", "every BASE target", True))
        elif name not in base:
            changes.append(Change(name, "present", False, True, "new target", "", False))
        else:
            changes.extend(compare_target(name, base[name], new[name], thresholds))
    return changes


def to_dict(changes: list[Change], thresholds: Thresholds) -> dict:
    return {
        "regressions": sum(c.regression for c in changes),
        "thresholds": asdict(thresholds),
        "changes": [{**asdict(c), "moved": c.moved} for c in changes],
    }


def write_junit(changes: list[Change], path: str | Path) -> Path:
    """JUnit XML: one testcase per target x metric, a <failure> for each regression."""
    failures = sum(c.regression for c in changes)
    suites = ET.Element("testsuites", name="edge-sdk compare", tests=str(len(changes)), failures=str(failures))
    suite = ET.SubElement(suites, "testsuite", name="edge-sdk compare", tests=str(len(changes)), failures=str(failures), errors="0", skipped="0")
    for c in changes:
        case = ET.SubElement(suite, "testcase", classname=c.target, name=c.metric, time="0")
        message = f"{c.metric}: {c.base} -> {c.new} ({c.change}; limit {c.limit or 'none'})"
        if c.regression:
            ET.SubElement(case, "failure", message=message, type="regression").text = message + (f"; {c.note}" if c.note else "")
        else:
            ET.SubElement(case, "system-out").text = message
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
    except OSError as exc:
        raise ReportError(f"--junit {path}: cannot write there ({exc.strerror or exc}); pass a writable file path") from None
    return path
