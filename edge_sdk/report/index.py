"""OUT/index.html: one build's targets side by side, each linking to its own report.html."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Optional

from edge_sdk.atomic_text import write_text_atomic
from edge_sdk.report import summary
from edge_sdk.report.html import _ms, _page, _section, _share, _table
from edge_sdk.report.summary import dig
from edge_sdk.report.svg import Bar, Row, grouped_hbars, legend
from edge_sdk.units import human_bytes


def _percent_of_budget(report: dict, key: str, value: Optional[float]) -> Optional[float]:
    limit = dig(report, "budgets", key, "limit")
    return None if value is None or not limit else 100.0 * value / limit


def render_index(reports: list[dict], folders: list[str] | None = None) -> str:
    """`folders`: each report's directory relative to the index (default: its profile's name; in a
    matrix build `<model name>/<profile>`)."""
    rows, chart_rows = [], []
    for i, r in enumerate(reports):
        profile = dig(r, "profile", "name") or "?"
        folder = folders[i] if folders else profile
        size = summary.artifact_bytes(r)
        ram, ram_src = summary.ram_bytes(r)
        latency, latency_src = summary.latency_ms(r)
        verdict = '<span class="ok">feasible</span>' if r.get("feasible") else (
            f'<span class="over">infeasible ({escape(str(dig(r, "binding_constraint", "budget") or "?"))})</span>'
        )
        rows.append([
            escape(str(r.get("target", "?"))),
            f'<a href="{escape(folder)}/report.html">{escape(folder)}</a>',
            verdict,
            escape(str(dig(r, "plan", "name") or "-")),
            human_bytes(size),
            f"{human_bytes(ram)} <span class=\"na\">{ram_src}</span>",
            f"{_ms(latency)} <span class=\"na\">{latency_src}</span>",
            escape(summary.quality_text(r)),  # what the build's summary line says
        ])
        bars = []
        for series, key, value in (("flash", "flash_bytes", size), ("ram", "ram_bytes", ram), ("latency", "latency_ms", latency)):
            pct = _percent_of_budget(r, key, value)
            bars.append(Bar(series, pct, f"{series} {_share(pct, 100.0)}" if pct is not None else f"{series}: no budget"))
        chart_rows.append(Row(f"{r.get('target')} ({folder})", tuple(bars), 100.0, "100% of budget"))
    table = _table(["target", "profile", "verdict", "plan", "artifact", "RAM", "latency", "quality"], rows, "targets-table")
    chart = grouped_hbars("targets-chart", chart_rows, title="share of each budget used, per target") if chart_rows else ""
    feasible = sum(1 for r in reports if r.get("feasible"))
    body = (
        f"<h1>edge-sdk build: {len(reports)} targets</h1><p class=\"sub\">{feasible} of {len(reports)} feasible. "
        "Open a profile for its full report.</p>"
        + _section("targets", "Targets", table)
        + _section("budget-use", "Budget use", chart + legend([("flash", "flash"), ("ram", "RAM"), ("latency", "latency"), ("limit", "100% of budget")]),
                   "Size, RAM and latency as a share of each target's own budget; past the dashed line is over.")
    )
    return _page("edge-sdk build: targets", body)


def write_index(reports: list[dict], path: str | Path, folders: list[str] | None = None) -> Path:
    """Write OUT/index.html comparing the targets of one build (links to each <folder>/report.html)."""
    return write_text_atomic(path, render_index(reports, folders))
