"""The zoo matrix's bookkeeping: plan editing, one row per model x target from the build's
report.json, the summary, and the docs/zoo.md table. No heavy imports; scripts/zoo.py drives it.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

FOUR = ("accepted", "rejected", "discarded", "failed")
# --search pareto relabels accepted rungs on the front that were not chosen as "pareto": still accepted
NORMALIZE = {"accepted": "accepted", "pareto": "accepted", "rejected": "rejected", "discarded": "discarded", "failed": "failed"}
LETTER = {"accepted": "A", "pareto": "P", "rejected": "R", "discarded": "D", "failed": "F"}


def edit_plan(doc: dict, *, untrained_only: bool, epochs: int | None) -> dict:
    """Drop the rungs that train (untrained_only) and cap the epochs of every step whose technique
    declares them (ptq and equalize, say, do not)."""
    from edge_sdk.techniques.dispatch import TECHNIQUES

    for target, ladder in doc["targets"].items():
        kept = []
        for rung in ladder:
            if untrained_only and rung.get("trains"):
                continue
            if epochs is not None:
                for step in rung["steps"]:
                    if "epochs" in TECHNIQUES.get(step["technique"], rung["framework"]).config.model_fields:
                        step.setdefault("params", {})["epochs"] = epochs
            kept.append(rung)
        doc["targets"][target] = kept
    return doc


def exit_label(code: int | None, timed_out: bool = False) -> str:
    if timed_out:
        return "timeout"
    if code is None:
        return "not run"
    if code < 0:
        import signal

        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return str(code)


def _quality(q: dict | None) -> tuple[str, float | None]:
    """The task-aware metric the build judged by: an attempt's `primary`, or the first output's primary
    metric in a verification record (top-1 agreement, cosine_min, sqnr_db... by the output's kind)."""
    from edge_sdk.fidelity import PRIMARY

    if not q:
        return "-", None
    if q.get("primary"):
        return q["primary"]["metric"], q["primary"]["value"]
    for out in q.get("outputs") or []:
        metric = PRIMARY.get(out.get("kind"))
        if metric in (out.get("metrics") or {}):
            return metric, out["metrics"][metric]
    return "-", None


def rungs_of(report: dict) -> list[dict]:
    out = []
    for a in report.get("attempts", []):
        err = a.get("error") or {}
        metric, value = _quality(a.get("quality"))
        out.append({
            "rung": a["name"], "status": a["status"], "status4": NORMALIZE.get(a["status"], a["status"]),
            "reason": a.get("reason") or "", "error_kind": err.get("kind"), "internal": bool(err.get("internal")),
            "bytes": (a.get("measured") or {}).get("flash_bytes"), "arena": (a.get("measured") or {}).get("arena_bytes_measured"),
            "bytes_est": (a.get("estimates") or {}).get("flash_bytes"), "arena_est": (a.get("estimates") or {}).get("arena_bytes"),
            "metric": metric, "value": value, "trains": any(s["technique"] not in ("export", "ptq") for s in a.get("steps", [])),
        })
    return out


def row_from_report(report: dict) -> dict:
    """The matrix row of one target's report.json."""
    params = (report.get("model") or {}).get("params") or 0
    fp32 = params * 4
    art = (report.get("artifacts") or [{}])[0]
    ver = report.get("verification") or {}
    metric, value = _quality(ver.get("fidelity"))
    arena = (art.get("arena") or {}).get("bytes")
    return {
        "profile": (report.get("profile") or {}).get("name"), "plan": (report.get("plan") or {}).get("name"),
        "feasible": report.get("feasible"), "binding": (report.get("binding_constraint") or {}).get("budget")
        if isinstance(report.get("binding_constraint"), dict) else report.get("binding_constraint"),
        "bytes": art.get("bytes"), "fp32_bytes": fp32, "ratio": round(art["bytes"] / fp32, 3) if art.get("bytes") and fp32 else None,
        "metric": metric, "value": value, "arena": arena, "params": params,
        "rungs": rungs_of(report),
    }


def summarize(rows: list[dict]) -> dict:
    exits = Counter(r["exit"] for r in rows)
    per_family: dict[str, Counter] = {}
    failures = []
    for r in rows:
        c = per_family.setdefault(r["target"], Counter())
        for g in r.get("rungs", []):
            c[g["status4"]] += 1
            if g["status4"] == "failed":
                failures.append({"model": r["model"], "target": r["target"], "rung": g["rung"],
                                 "kind": g["error_kind"], "internal": g["internal"], "reason": g["reason"]})
    bad_rungs = [f"{r['model']}/{r['target']}/{g['rung']}" for r in rows for g in r.get("rungs", [])
                 if g["status4"] in FOUR and not g["reason"].strip() or g["status4"] not in FOUR]
    return {
        "builds": len(rows), "exit_codes": dict(sorted(exits.items())),
        "internal_or_signal": [f"{r['model']}/{r['target']}: exit {r['exit']}" for r in rows
                               if r["exit"] == "1" or r["exit"].startswith("signal") or r["exit"] == "timeout"],
        "rung_status_per_family": {k: dict(sorted(v.items())) for k, v in per_family.items()},
        "rung_status_total": dict(sorted(sum(per_family.values(), Counter()).items())),
        "rungs_without_status_or_reason": bad_rungs,
        "bench_host_failures": [f"{r['model']}/{r['target']}: {r['bench']['exit']} {r['bench'].get('error', '')}"
                                for r in rows if r.get("bench") and r["bench"]["exit"] != "0"],
        "bench_host_runs": sum(1 for r in rows if r.get("bench")),
        "failed_rungs": failures,
        "estimates_vs_tflm": estimate_errors(rows),
        "wall_s": round(sum(r.get("wall_s") or 0 for r in rows), 1),
    }


def estimate_errors(rows: list[dict]) -> dict:
    """The planner's flash and arena estimates against TFLM's own figures for every built Cortex-M rung
    (artifact bytes; the smallest arena the interpreter allocates and runs it in): the issue-18 goal
    is within 5%. `worst` names the rung of each largest miss."""
    out = {}
    for key, measured_key, estimate_key in (("flash", "bytes", "bytes_est"), ("arena", "arena", "arena_est")):
        errors = [(g[estimate_key] / g[measured_key] - 1, f"{r['model']}/{g['rung']}") for r in rows
                  if r["target"] == "cortex-m" for g in r.get("rungs", []) if g.get(measured_key) and g.get(estimate_key)]
        worst = max(errors, key=lambda e: abs(e[0]), default=None)
        out[key] = {"rungs": len(errors), "max_abs_error": round(abs(worst[0]), 4) if worst else None,
                    "worst": f"{worst[1]} {worst[0]:+.1%}" if worst else None,
                    "within_5pct": sum(abs(e) <= 0.05 for e, _ in errors)}
    return out


def _kib(n: int | None) -> str:
    if not n:
        return "-"
    return f"{n / 1024:.0f} KiB" if n < 1024 * 1024 else f"{n / 1048576:.1f} MiB"


def markdown_table(rows: list[dict]) -> str:
    lines = ["| model | target | exit | chosen plan | bytes (vs fp32) | fidelity | arena | wall s | rungs |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        size = "-" if not r.get("bytes") else f"{_kib(r['bytes'])} ({r['ratio']:.2f}x)" if r.get("ratio") else _kib(r["bytes"])
        fid = "-" if r.get("value") is None else f"{r['metric']} {r['value']:.4f}"
        plan = r.get("plan") or "-"
        if r.get("feasible") is False:
            plan += f" (infeasible: {r['binding']})" if r.get("binding") else " (nothing built)"
        elif r.get("stage") == "plan" or (not r.get("rungs") and r.get("error")):
            plan = "refused: " + r.get("error", "").removeprefix("error: ")[:120].replace("|", "/")
        rungs = " ".join(f"{g['rung']}:{LETTER.get(g['status'], '?')}" for g in r.get("rungs", [])) or r.get("note", "")
        lines.append(f"| {r['model']} | {r['target']} | {r['exit']} | {plan} | {size} | {fid} | {_kib(r.get('arena'))} "
                     f"| {r.get('wall_s', '-')} | {rungs} |")
    return "\n".join(lines)


def markdown_summary(summary: dict) -> str:
    out = [f"- builds: {summary['builds']}; exit codes: " + ", ".join(f"{k}: {v}" for k, v in summary["exit_codes"].items()),
           f"- exit 1 / signal / timeout: {', '.join(summary['internal_or_signal']) or 'none'}",
           f"- `edge-sdk bench --device host` on the Cortex-M artifacts: {summary['bench_host_runs']} run, "
           f"failed: {', '.join(summary['bench_host_failures']) or 'none'}",
           "- rung statuses (A accepted, P accepted and on the Pareto front, R rejected, D discarded, F failed): "
           + ", ".join(f"{k}: {v}" for k, v in summary["rung_status_total"].items())]
    for fam, c in summary["rung_status_per_family"].items():
        out.append(f"  - {fam}: " + ", ".join(f"{k} {v}" for k, v in c.items()))
    for key, e in (summary.get("estimates_vs_tflm") or {}).items():
        if e["rungs"]:
            out.append(f"- {key} estimate vs TFLM's figure on {e['rungs']} built Cortex-M rungs: {e['within_5pct']} within 5%, "
                       f"largest miss {e['worst']}")
    out.append(f"- total build wall time: {summary['wall_s']} s")
    if summary["failed_rungs"]:
        groups: dict[tuple, list[str]] = {}
        for f in summary["failed_rungs"]:
            key = (f["model"], f["kind"], f["internal"], (f["reason"].splitlines() or ["(no reason)"])[0][:240])
            groups.setdefault(key, []).append(f"{f['target']}/{f['rung']}")
        out += ["", "Failed rungs, grouped by model and reason (as report.json gives it):", ""]
        out += [f"- {model} ({kind}{', internal' if internal else ''}) - {', '.join(where)}: {reason}"
                for (model, kind, internal, reason), where in groups.items()]
    return "\n".join(out)


def models_table(models: list[dict]) -> str:
    """One line per generated zoo model (from what `python -m zoo make` printed)."""
    lines = ["| model | framework | task | weights | inputs | outputs | file | checks |", "|---|---|---|---|---|---|---|---|"]
    for m in models:
        ins = ", ".join(f"{k} {v[0]} {v[1]}" for k, v in m["inputs"].items())
        outs = ", ".join(str(o[0]) for o in m["outputs"])
        checks = {k: v for k, v in m.get("checks", {}).items() if k != "top1_histogram"}
        lines.append(f"| {m['name']} | {m['framework']} | {m['task']} | {m['weights']} | {ins} | {outs} "
                     f"| {Path(m['model']).name}, {_kib(m.get('model_bytes'))} | {json.dumps(checks)[:160]} |")
    return "\n".join(lines)


def _replace(text: str, tag: str, body: str) -> str:
    begin, end = f"<!-- zoo:{tag} -->", f"<!-- /zoo:{tag} -->"
    block = f"{begin}\n{body}\n{end}"
    if begin in text and end in text:
        return text[: text.index(begin)] + block + text[text.index(end) + len(end):]
    return text + "\n" + block + "\n"


def write_markdown(path: Path, rows: list[dict], summary: dict, header: str, models: list[dict] | None = None) -> None:
    """Replace the text between the zoo markers of `path` (create the file if missing)."""
    text = path.read_text() if path.exists() else "# Conformance zoo\n"
    text = _replace(text, "matrix", f"{header}\n\n{markdown_table(rows)}\n\n{markdown_summary(summary)}")
    if models:
        text = _replace(text, "models", models_table(models))
    path.write_text(text)


def dump(path: Path, rows: list[dict], summary: dict, meta: dict, models: list[dict] | None = None) -> None:
    path.write_text(json.dumps({"meta": meta, "summary": summary, "rows": rows, "models": models or []}, indent=1) + "\n")
