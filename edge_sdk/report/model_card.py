"""MODEL_CARD.md: what a team reviewing a release reads about one target's artifact (issue 16, point 8).

Written from report.json into OUT/<profile>/ beside the artifact: target, the files that ship, budgets,
the plan and why, the fidelity measured on the artifact's runtime, and tool versions. Only what the
build decides goes in (no wall times, no host latency), so the same inputs and seed give the same card,
and SHA256SUMS can list it.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from edge_sdk.contracts.plan import describe_step
from edge_sdk.units import human_bytes


BUDGET_NAMES = {"accuracy": "accuracy drop (points)", "fidelity": "fidelity (worst shortfall)"}


def _row(*cells: Any) -> str:
    return "| " + " | ".join("-" if c is None else str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    return [_row(*header), _row(*["---"] * len(header)), *(_row(*r) for r in rows)]


def _number(value: Any) -> Any:
    return f"{value:.4g}" if isinstance(value, float) else value


def _budget_rows(report: dict) -> list[list[Any]]:
    rows = []
    for name, check in sorted((report.get("budgets") or {}).items()):
        ok = check.get("ok")
        rows.append([BUDGET_NAMES.get(name, name), _number(check.get("limit")), _number(check.get("estimate")), _number(check.get("measured")),
                     "met" if ok else ("missed" if ok is False else "not checked")])
    return rows


def _fidelity_lines(verification: dict | None) -> list[str]:
    if not verification:
        return ["No artifact was verified (no candidate could be built)."]
    method = verification.get("method")
    how = {"executed": "executed on", "simulated": "simulated for", "not_run": "not run on"}.get(method, method)
    lines = [f"{how} {verification.get('runtime')} over {verification.get('samples')} eval samples; "
             f"{'passed' if verification.get('passed') else 'failed: ' + str(verification.get('reason'))}.", ""]
    outputs = ((verification.get("fidelity") or {}).get("outputs")) or []
    rows = [[o.get("output"), o.get("kind"), metric, _number(value)]
            for o in outputs for metric, value in sorted((o.get("metrics") or {}).items())]
    if rows:
        lines += _table(["output", "kind", "metric", "value"], rows)
    accuracy = verification.get("accuracy")
    if accuracy:
        lines += ["", f"Accuracy on the labelled eval data: {accuracy['reference']:.2f}% float reference, "
                      f"{accuracy['compressed']:.2f}% this artifact (drop {accuracy['drop']:.2f} points)."]
    return lines


def _described(metadata: dict) -> list[str]:
    """Version, author, license, labels and input normalisation, where the build was given them."""
    lines = [f"{key.capitalize()}: {metadata[key]}" for key in ("version", "author", "license") if metadata.get(key)]
    if metadata.get("description"):
        lines.append(str(metadata["description"]))
    if metadata.get("input_mean"):
        lines.append(f"Input normalisation: feed (x - mean) / std, mean {metadata['input_mean']}, std {metadata['input_std']}.")
    if metadata.get("labels"):
        labels = metadata["labels"]
        lines.append(f"Labels ({len(labels)}, in labels.txt): {', '.join(map(str, labels[:20]))}{', ...' if len(labels) > 20 else ''}.")
    return [*(f"{line}\n" for line in lines)] if lines else []


def model_card(report: dict) -> str:
    """The card's Markdown for one target's report.json dict."""
    profile, model, plan = report.get("profile") or {}, report.get("model") or {}, report.get("plan") or {}
    feasible = report.get("feasible")
    lines = [
        f"# Model card: {PurePosixPath(model['path']).name if model.get('path') else 'in-memory model'} for "
        f"{profile.get('name')} ({profile.get('family')})",
        "",
        f"Target `{report.get('target')}`: {profile.get('description', '')}".rstrip(),
        "",
        f"Verdict: **{'meets every budget' if feasible else 'infeasible: no candidate met every budget'}**."
        + (f" Binding constraint: {(report.get('binding_constraint') or {}).get('budget')}." if not feasible and report.get("binding_constraint") else ""),
        "",
        "## Source model",
        "",
        f"{model.get('framework')} ({model.get('source_format')}), sha256 `{model.get('sha256')}`, "
        f"{model.get('params'):,} parameters, {model.get('macs'):,} MACs per inference.",
        "",
        *_table(["input", "shape", "dtype"], [[i.get("name"), i.get("shape"), i.get("dtype")] for i in model.get("inputs") or []]),
        "",
        *_described(report.get("metadata") or {}),
        "## What ships",
        "",
    ]
    artifacts = report.get("artifacts") or []
    if artifacts:
        lines += _table(["file", "format", "precision", "bytes", "sha256"],
                        [[f, a.get("format"), a.get("precision"), f"{a.get('bytes'):,} ({human_bytes(a.get('bytes'))})" if f == a.get("path") else "",
                          a.get("sha256") if f == a.get("path") else "see SHA256SUMS"] for a in artifacts for f in a.get("files") or []])
    else:
        lines.append("Nothing: no candidate could be built.")
    steps = "; ".join(describe_step(s.get("technique"), s.get("params")) for s in plan.get("steps") or [])
    lines += ["", "## Plan", "", f"`{plan.get('name')}`: {steps or 'no steps'}.", "", plan.get("rationale") or "",
              "", "## Budgets", "", *_table(["budget", "limit", "estimate", "measured", "status"], _budget_rows(report)),
              "", "## Fidelity against the source model", "", *_fidelity_lines(report.get("verification")),
              "", "## Tool versions", "",
              *_table(["tool", "version"], sorted((report.get("versions") or {}).items())), "",
              "Generated by `edge-sdk build` from report.json (the full record, with every candidate tried). "
              "SHA256SUMS lists the sha256 of every file here except the reports and bench.json, which "
              "`edge-sdk bench` rewrites.", ""]
    return "\n".join(lines)
