"""report.html (one target) and index.html (all targets of a build), rendered from report.json dicts.

Each page is one self-contained file: inline CSS and inline SVG, no scripts, fonts or network, so it
can be attached to a CI run or mailed and still open anywhere. Every optional report key (bench,
accuracy, measured values, layers) may be missing: the section then says so instead of failing.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any, Optional

from edge_sdk.atomic_text import write_text_atomic
from edge_sdk.pareto import pareto_front
from edge_sdk.units import human_bytes, human_count
from edge_sdk.report import summary
from edge_sdk.report.summary import dig
from edge_sdk.report.svg import Bar, Point, Row, grouped_hbars, legend, scatter

MAX_LAYER_ROWS = 60  # larger models show their 60 biggest layers per chart (the table note says so)

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;color:#1f2933;background:#f5f7fa}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:0 0 12px}
section{background:#fff;border:1px solid #d9e2ec;border-radius:8px;padding:16px 20px;margin:16px 0}
.sub{color:#52606d;margin:0 0 12px}.desc{font-size:13px;max-width:900px}
.verdict{display:inline-block;padding:6px 14px;border-radius:16px;font-weight:600;color:#fff}
.verdict.feasible{background:#2f9e44}.verdict.infeasible{background:#c92a2a}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:12px}
.card{border:1px solid #d9e2ec;border-radius:6px;padding:10px 12px}.card b{display:block;font-size:18px}
.card span{color:#52606d;font-size:13px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e4e7eb}
th{background:#f0f4f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#2f9e44;font-weight:600}.over{color:#c92a2a;font-weight:600}.na{color:#9aa5b1}
.chart{width:100%;height:auto;font-size:12px}
.chart .limit-label{fill:#c92a2a;font-size:10px}
.chart text{fill:#1f2933}.chart .tick,.chart .value{fill:#52606d;font-size:11px}
.bar.estimate{fill:#a5d8ff}.bar.measured{fill:#1c7ed6}.bar.macs{fill:#5c7cfa}
.bar.float32{fill:#ffc078}.bar.int8{fill:#e8590c}.bar.p50{fill:#1c7ed6}.bar.p90{fill:#4dabf7}.bar.p99{fill:#a5d8ff}
.bar.quality{fill:#12b886}.bar.flash{fill:#1c7ed6}.bar.ram{fill:#7048e8}.bar.latency{fill:#e8590c}
.limit{stroke:#c92a2a;stroke-width:2;stroke-dasharray:5 3}
.plot-area{fill:#fafbfc;stroke:#d9e2ec}.grid{stroke:#e4e7eb}
.pareto-front{fill:none;stroke:#1c7ed6;stroke-width:2}
.point{stroke:#fff;stroke-width:1.5}.point.on-front{stroke:#1c7ed6;stroke-width:3}
.status-accepted{fill:#2f9e44}.status-pareto{fill:#1c7ed6}.status-rejected{fill:#f08c00}
.status-failed{fill:#c92a2a}.status-discarded,.status-not_tried{fill:#adb5bd}
.legend{display:flex;flex-wrap:wrap;gap:14px;font-size:12px;margin:6px 0}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.swatch.limit{background:none;border-top:2px dashed #c92a2a;height:0;border-radius:0}
.legend .estimate{background:#a5d8ff}.legend .measured{background:#1c7ed6}.legend .float32{background:#ffc078}
.legend .int8{background:#e8590c}.legend .status-accepted{background:#2f9e44}.legend .status-pareto{background:#1c7ed6}
.legend .status-rejected{background:#f08c00}.legend .status-failed{background:#c92a2a}
.legend .pareto-front{background:none;border-top:2px solid #1c7ed6;height:0;border-radius:0}
.legend .flash{background:#1c7ed6}.legend .ram{background:#7048e8}.legend .latency{background:#e8590c}
.legend .p50{background:#1c7ed6}.legend .p90{background:#4dabf7}.legend .p99{background:#a5d8ff}
code{font-size:12px;background:#f0f4f8;padding:1px 4px;border-radius:3px}
ol.plan li{margin:3px 0}.missing{color:#9aa5b1;font-style:italic}
footer{color:#52606d;font-size:12px}
"""

BUDGET_ROWS = (("flash_bytes", "flash", human_bytes), ("ram_bytes", "RAM", human_bytes), ("latency_ms", "latency", None))


def _ms(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.3g} ms"


def _fmt(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):  # not Python's True / False on a page for people
        return "yes" if value else "no"
    if key.endswith("_bytes"):
        return human_bytes(value)
    if key.endswith("_ms"):
        return _ms(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return escape(str(value))


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main>{body}</main></body></html>\n"
    )


def _section(section_id: str, title: str, content: str, sub: str = "") -> str:
    sub_html = f'<p class="sub">{sub}</p>' if sub else ""
    return f'<section id="{section_id}"><h2>{escape(title)}</h2>{sub_html}{content}</section>'


def _table(headers: list[str], rows: list[list[str]], table_id: str = "") -> str:
    """Cells are HTML already (callers escape text)."""
    id_attr = f' id="{table_id}"' if table_id else ""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table{id_attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _ok(ok: Any) -> str:
    if ok is None:
        return '<span class="na">n/a</span>'
    return '<span class="ok">ok</span>' if ok else '<span class="over">over</span>'


# --- report.html sections -------------------------------------------------------------------------


def _verdict(report: dict) -> str:
    if report.get("feasible"):
        return '<span id="verdict" class="verdict feasible">FEASIBLE: every budget met</span>'
    binding = report.get("binding_constraint") or {}
    what = binding.get("budget", "unknown")
    detail = ""
    if binding.get("over_by_ratio") is not None:
        detail = f" ({binding['over_by_ratio'] * 100:.0f}% over"
        detail += f" in {binding['attempt']})" if binding.get("attempt") else ")"
    elif binding.get("reason"):
        detail = f" ({binding['reason']})"
    return f'<span id="verdict" class="verdict infeasible">INFEASIBLE: {escape(what)} is the binding constraint{escape(detail)}</span>'


def _header(report: dict) -> str:
    profile = report.get("profile") or {}
    model = report.get("model") or {}
    artifact = (report.get("artifacts") or [{}])[0]
    q_value, q_metric = summary.quality(report)
    latency, latency_src = summary.latency_ms(report)
    ram, ram_src = summary.ram_bytes(report)
    cards = [
        ("artifact", human_bytes(artifact.get("bytes")), f"{artifact.get('format', '-')} {artifact.get('precision', '')} · gzip {human_bytes(artifact.get('gzip_bytes'))}"),
        ("RAM", human_bytes(ram), ram_src or "unknown"),
        ("latency", _ms(latency), latency_src or "unknown"),
        ("quality", summary.format_quality(q_value, q_metric), q_metric.replace("_", " ") or "not measured"),
        ("model", f"{human_count(model.get('params'))} params", f"{model.get('framework', '-')} · {human_count(model.get('macs'))} MACs"),
    ]
    card_html = "".join(
        f'<div class="card" id="card-{key.lower()}"><span>{escape(key)}</span><b>{escape(value)}</b><span>{escape(sub)}</span></div>'
        for key, value, sub in cards
    )
    return (
        f"<h1>{escape(str(report.get('target', '?')))} &rarr; {escape(str(profile.get('name', '?')))}</h1>"
        f'<p class="sub desc">{escape(profile.get("description") or "")} · family {escape(str(profile.get("family", "-")))} · '
        f'model <code>{escape(str(model.get("path") or "in-memory"))}</code></p>'
        f"<p>{_verdict(report)}</p><div class=\"cards\">{card_html}</div>"
    )


def _budgets(report: dict) -> str:
    budgets = report.get("budgets") or {}
    bench_p50 = dig(report, "bench", "latency_ms", "p50")
    rows, table = [], []
    for key, label, fmt in BUDGET_ROWS:
        entry = budgets.get(key) or {}
        fmt = fmt or _ms
        measured = entry.get("measured")
        measured_label = "measured"
        if key == "latency_ms" and measured is None and bench_p50 is not None:
            measured, measured_label = bench_p50, "bench p50"
        limit, estimate = entry.get("limit"), entry.get("estimate")

        def text(name: str, value: Optional[float]) -> str:
            share = f" ({_share(value, limit)} of budget)" if limit else ""
            return f"{name} {fmt(value)}{share}"

        bars = (
            Bar("estimate", estimate, text("estimate", estimate) if estimate is not None else "no estimate"),
            Bar("measured", measured, text(measured_label, measured) if measured is not None else "not measured"),
        )
        rows.append(Row(label, bars, limit, fmt(limit)))
        band = entry.get("band")
        shown = fmt(estimate) + (f" (band {fmt(band[0])}-{fmt(band[1])}; checked: {entry.get('basis')})" if band else "")
        table.append([escape(label), fmt(limit), escape(shown), fmt(measured), _ok(entry.get("ok") if entry else None)])
    chart = grouped_hbars("budget-chart", rows, title="budgets: limit vs estimate vs measured", shared_scale=False)
    key = legend([("estimate", "estimate"), ("measured", "measured"), ("limit", "limit (budget)")])
    return _section(
        "budgets", "Budgets", chart + key + _table(["budget", "limit", "estimate", "measured", "verdict"], table),
        "Each row on its own scale; the dashed line is the budget.",
    )


def _quality(report: dict) -> str:
    verification = report.get("verification") or {}
    budgets = report.get("budgets") or {}
    fidelity = verification.get("fidelity") or {}
    accuracy = verification.get("accuracy") or {}
    rows = []
    if accuracy.get("drop") is not None:
        limit = dig(budgets, "accuracy", "limit")
        rows.append(Row("accuracy drop", (Bar("quality", accuracy["drop"], f"{accuracy['drop']:.2f} points"),), limit, f"{limit} points", 1.0))
    if fidelity.get("top1_agreement") is not None:
        disagreement = (1 - fidelity["top1_agreement"]) * 100
        min_fid = dig(budgets, "fidelity", "limit")
        limit = None if min_fid is None else (1 - min_fid) * 100
        rows.append(Row("top-1 disagreement", (Bar("quality", disagreement, f"{disagreement:.2f}% of samples"),), limit, f"{limit:.3g}%" if limit is not None else "", 1.0))
    if not rows:
        return _section("quality", "Quality", '<p class="missing">not verified: no fidelity or accuracy was measured</p>')
    chart = grouped_hbars("quality-chart", rows, title="quality loss vs its budget", shared_scale=False)
    details = [
        ["runtime", escape(str(verification.get("runtime", "-")))],
        ["method", escape(str(verification.get("method", "-")))],
        ["samples", escape(str(verification.get("samples", "-")))],
    ]
    details += [[escape(f"fidelity {k}"), _fmt(k, v)] for k, v in fidelity.items()]
    details += [[escape(f"accuracy {k}"), _fmt(k, v)] for k, v in accuracy.items()]
    if verification.get("method") not in (None, "executed"):
        details.append(["note", escape(f"method {verification.get('method')}: not executed on the artifact's own runtime on this machine")])
    for artifact in report.get("artifacts") or []:  # what the exporter says about where the artifact really runs
        details += [["note", escape(str(note))] for note in (artifact.get("details") or {}).get("notes") or []]
    return _section(
        "quality", "Quality", chart + legend([("limit", "limit (budget)")]) + _table(["", "value"], details),
        "Loss against the original model: lower is better; the dashed line is the budget.",
    )


def _plan(report: dict) -> str:
    plan = report.get("plan") or {}
    steps = plan.get("steps") or []
    items = "".join(
        f"<li><b>{escape(str(s.get('technique')))}</b> <code>{escape(', '.join(f'{k}={v}' for k, v in (s.get('params') or {}).items()) or '-')}</code></li>"
        for s in steps
    )
    body = f'<ol class="plan" id="plan-steps">{items}</ol>' if items else '<p class="missing">no plan</p>'
    return _section("plan", f"Plan: {plan.get('name') or '-'}", body + _rationale(report))


def _rationale(report: dict) -> str:
    """Why this plan: the verdict sentence, then each candidate tried before it on a line of its own
    (the rationale string runs them together)."""
    rationale = (report.get("plan") or {}).get("rationale") or ""
    head = rationale.split(". Before it: ", 1)[0].rstrip(".")
    chosen = (report.get("plan") or {}).get("name")
    tried = [a for a in report.get("attempts") or [] if a.get("status") not in ("not_tried", None) and a.get("name") != chosen]
    items = "".join(f"<li><b>{escape(str(a.get('name')))}</b> {escape(str(a.get('status')))}: {escape(str(a.get('reason') or ''))}</li>"
                    for a in tried)
    return f"<p>{escape(head)}.</p>" + (f'<p>Before it:</p><ul id="plan-tried">{items}</ul>' if items else "") if head else ""


def _attempts(report: dict) -> str:
    attempts = report.get("attempts") or []
    if not attempts:
        return _section("candidates", "Candidates", '<p class="missing">no candidates recorded</p>')
    metric = "accuracy" if any(summary.attempt_quality(a, "accuracy") is not None for a in attempts) else "top1_agreement"
    points = []
    for a in attempts:
        size, q = summary.attempt_bytes(a), summary.attempt_quality(a, metric)
        if size is not None and q is not None:
            points.append(Point(float(size), q, a.get("name", "?"), a.get("status", "?")))
    front = _pareto_names(points, report)
    limits = report.get("budget_limits") or {}
    x_limit = dig(report, "budgets", "flash_bytes", "limit") or limits.get("flash_bytes")
    if metric == "accuracy":
        reference = dig(report, "verification", "accuracy", "reference")
        drop = dig(report, "budgets", "accuracy", "limit") or limits.get("max_accuracy_drop")
        y_limit = None if reference is None or drop is None else reference - drop
        y_fmt, y_label = (lambda v: f"{v:.1f}%"), "accuracy on eval data (%)"
    else:
        y_limit = dig(report, "budgets", "fidelity", "limit") or limits.get("min_fidelity")
        y_fmt, y_label = (lambda v: f"{v:.3f}"), "top-1 agreement with the original"
    chart = scatter(
        "candidates-chart", points, title="candidates: size vs quality", x_label="artifact size",
        y_label=y_label, x_fmt=human_bytes, y_fmt=y_fmt, front=front, x_limit=x_limit, y_limit=y_limit,
    ) if points else '<p class="missing">no candidate was built, so none can be plotted</p>'
    key = legend([("status-accepted", "accepted"), ("status-pareto", "Pareto"), ("status-rejected", "rejected"),
                  ("status-failed", "failed"), ("pareto-front", "Pareto front"), ("limit", "budget")])
    rows = []
    for a in attempts:
        q = summary.attempt_quality(a, metric)
        rows.append([
            escape(str(a.get("name", "?"))),
            f'<span class="status-text status-{escape(str(a.get("status")))}">{escape(str(a.get("status", "?")))}</span>',
            human_bytes(summary.attempt_bytes(a)),
            human_bytes(dig(a, "estimates", "flash_bytes")),
            "-" if q is None else y_fmt(q),
            escape(str(a.get("reason") or "")),
        ])
    table = _table(["candidate", "status", "size", "size estimate", metric.replace("_", " "), "reason"], rows, "attempts-table")
    return _section("candidates", "Candidates", chart + key + table,
                    "Every candidate tried, cheapest first; unbuilt ones (discarded, failed, not tried) are in the table only.")


def _pareto_names(points: list[Point], report: dict) -> list[str]:
    """The report's Pareto set when the search computed one, else the front of the plotted points."""
    listed = report.get("pareto") or []
    if listed:
        return [p.label for p in points if p.label in listed]
    return [p.label for p in pareto_front(points, size=lambda p: p.x, quality=lambda p: p.y)]


def _largest(rows: list[Row], key) -> tuple[list[Row], str]:
    if len(rows) <= MAX_LAYER_ROWS:
        return rows, ""
    keep = set(map(id, sorted(rows, key=key, reverse=True)[:MAX_LAYER_ROWS]))
    return [r for r in rows if id(r) in keep], f" Showing the {MAX_LAYER_ROWS} largest of {len(rows)} layers."


def _layers(report: dict) -> str:
    layers = report.get("layers") or []
    if not layers:
        return _section("layers", "Layers", '<p class="missing">no per-layer analysis in this report</p>')
    mac_rows = [
        Row(f"{l.get('name')} ({l.get('op')})", (Bar("macs", l["macs"], human_count(l["macs"])),))
        for l in layers if l.get("macs")
    ]
    mem_rows = [
        Row(
            str(l.get("name")),
            tuple(Bar(dt, dig(l, "activation_bytes", dt), human_bytes(dig(l, "activation_bytes", dt))) for dt in ("float32", "int8")),
        )
        for l in layers if l.get("activation_bytes") and not l.get("folded")
    ]
    folded = sum(bool(l.get("folded")) for l in layers)
    mac_rows, mac_note = _largest(mac_rows, lambda r: r.bars[0].value or 0)
    mem_rows, mem_note = _largest(mem_rows, lambda r: r.bars[0].value or 0)
    mem_note += f" {folded} layer(s) folded away at inference (no tensor of their own) are left out." if folded else ""
    macs = grouped_hbars("layer-macs-chart", mac_rows, title="MACs per layer") if mac_rows else '<p class="missing">no MAC-bearing layers</p>'
    mem = grouped_hbars("layer-memory-chart", mem_rows, title="activation memory per layer") if mem_rows else ""
    return _section(
        "layers", "Layers",
        f"<h3>MACs per layer</h3><p class=\"sub\">Multiply-accumulates per inference (batch 1).{mac_note}</p>{macs}"
        f"<h3>Activation memory per layer</h3><p class=\"sub\">Output tensor size at float32 and int8.{mem_note}</p>"
        f"{mem}{legend([('float32', 'float32'), ('int8', 'int8')])}",
    )


def _bench(report: dict) -> str:
    bench = report.get("bench")
    if not bench:
        return _section("bench", "Benchmark", '<p class="missing">not benchmarked yet: run <code>edge-sdk bench OUT/&lt;profile&gt; --device ADDR</code></p>')
    latency = bench.get("latency_ms") or {}
    versus = bench.get("latency_vs_estimate") or {}
    estimate = versus.get("estimated_ms") if versus.get("estimated_ms") is not None else summary.estimated_latency_ms(report.get("estimates"))
    limit = dig(report, "budgets", "latency_ms", "limit")
    bars = tuple(Bar(p, latency.get(p), f"{p} {_ms(latency.get(p))}") for p in ("p50", "p90", "p99") if latency.get(p) is not None)
    rows = [Row("measured", bars, limit, _ms(limit))]
    if estimate is not None:
        rows.append(Row("estimate", (Bar("estimate", estimate, f"estimate {_ms(estimate)}"),)))
    where = "on-device" if bench.get("on_device", bench.get("runner") != "host") else "host (not the profile's device)"
    chart = grouped_hbars("bench-chart", rows, title=f"{where} latency")
    facts = [[escape(k), _fmt(k, v)] for k, v in bench.items() if not isinstance(v, (dict, list)) and v not in (None, "")]
    facts += [[escape(f"latency {k}"), _ms(v)] for k, v in latency.items()]
    facts += [[escape(f"vs estimate: {k}"), _fmt(k, v)] for k, v in versus.items()]
    return _section("bench", f"{where.capitalize()} benchmark", chart + legend([("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("estimate", "estimate"), ("limit", "budget")]) + _table(["", "value"], facts))


def _footer(report: dict) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in (report.get("versions") or {}).items())
    timings = ", ".join(f"{k} {v:.2f}s" for k, v in (report.get("timings_s") or {}).items() if isinstance(v, (int, float)))
    artifacts = "".join(
        f"<li><code>{escape(str(a.get('path')))}</code> {escape(str(a.get('format')))} {human_bytes(a.get('bytes'))} sha256 <code>{escape(str(a.get('sha256', ''))[:16])}</code>"
        + "".join(f" · <code>{escape(str(f))}</code>" for f in a.get("files") or [] if f != a.get("path"))  # model_data.cc, op_resolver.h, ...
        + "</li>"
        for a in report.get("artifacts") or []
    )
    return (
        _section("artifacts", "Artifacts", f"<ul>{artifacts}</ul>" if artifacts else '<p class="missing">no artifact written</p>')
        + f"<footer><p>versions: {escape(versions) or '-'}</p><p>timings: {escape(timings) or '-'}</p>"
        f"<p>schema_version {escape(str(report.get('schema_version', '-')))} · the same data is in report.json</p></footer>"
    )


def _share(value: float, limit: float) -> str:
    """A share of a budget, readable from 0.01% to several times over."""
    pct = 100.0 * value / limit
    return f"{pct:.0f}%" if pct >= 10 else f"{pct:.2g}%"


def render_html(report: dict) -> str:
    body = "".join(
        part(report) for part in (_header, _budgets, _quality, _plan, _attempts, _layers, _bench, _footer)
    )
    profile = dig(report, "profile", "name") or "?"
    return _page(f"edge-sdk: {report.get('target', '?')} ({profile})", body)


def write_html(report: dict, path: str | Path) -> Path:
    """Write report.html for one target's report.json dict."""
    return write_text_atomic(path, render_html(report))
