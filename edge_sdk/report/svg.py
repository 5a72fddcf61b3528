"""Small inline-SVG charts for the HTML reports (no scripts, no network, no plotting library).

Why hand-written SVG: report.html must be one self-contained file that opens offline in any browser
and stays a few tens of KB; a plotting stack would add a heavy dependency for three chart shapes.
Every chart is `<svg class="chart" id=...>` and every mark carries a class (`bar <series>`, `limit`,
`point status-<status>`, `pareto-front`) so tests and CSS can find them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Callable, Optional, Sequence

WIDTH = 1000
CHAR_W = 7  # approximate width of one label character at 12px, to size the label column
VALUE_W = 150  # right margin for value labels
BAR_H = 14
ROW_GAP = 16


@dataclass(frozen=True)
class Bar:
    series: str  # CSS class of the bar (estimate, measured, float32, ...)
    value: Optional[float]  # None: nothing to draw (e.g. not measured)
    text: str  # value label drawn after the bar


@dataclass(frozen=True)
class Row:
    label: str
    bars: tuple[Bar, ...]
    limit: Optional[float] = None  # drawn as a dashed vertical line across the row
    limit_text: str = ""
    scale_min: float = 0.0  # the row's scale reaches at least this (so a tiny lone value is not a full bar)


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str
    status: str  # accepted | pareto | rejected | ... (CSS class status-<status>)


def _attr(value: str) -> str:
    return escape(value, quote=True)


def _svg(chart_id: str, height: float, body: list[str], title: str) -> str:
    return (
        f'<svg class="chart" id="{_attr(chart_id)}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" width="{WIDTH}" height="{height:.0f}">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def grouped_hbars(chart_id: str, rows: Sequence[Row], *, title: str, shared_scale: bool = True) -> str:
    """Horizontal bars, one group per row; each row may carry a limit line.

    shared_scale=False scales every row on its own (budgets of different units side by side: each row
    shows its values against its own limit).
    """
    label_w = min(320, max(80, CHAR_W * max((len(r.label) for r in rows), default=0) + 12))
    longest_value = max((len(b.text) for r in rows for b in r.bars), default=0)
    plot_w = WIDTH - label_w - min(WIDTH // 2, max(VALUE_W, CHAR_W * longest_value + 8))  # room for every value label

    def row_max(row: Row) -> float:
        values = [b.value for b in row.bars if b.value is not None] + ([row.limit] if row.limit is not None else [])
        return max(values + [row.scale_min])

    global_max = max([row_max(r) for r in rows] + [0.0])
    body, y = [], 18.0
    for row in rows:
        scale_max = (global_max if shared_scale else row_max(row)) or 1.0
        group_h = max(1, len(row.bars)) * (BAR_H + 2)
        body.append(f'<g class="row" data-label="{_attr(row.label)}">')
        shown = _fit(row.label, (label_w - 12) // CHAR_W)
        body.append(
            f'<text class="row-label" x="{label_w - 8}" y="{y + group_h / 2 + 4:.1f}" text-anchor="end">{escape(shown)}'
            + (f"<title>{escape(row.label)}</title>" if shown != row.label else "") + "</text>"
        )
        for i, bar in enumerate(row.bars):
            by = y + i * (BAR_H + 2)
            if bar.value is None:
                body.append(f'<text class="value missing" x="{label_w + 4}" y="{by + BAR_H - 3:.1f}">{escape(bar.text)}</text>')
                continue
            w = max(1.0, plot_w * max(bar.value, 0.0) / scale_max)
            body.append(
                f'<rect class="bar {_attr(bar.series)}" x="{label_w}" y="{by:.1f}" width="{w:.1f}" height="{BAR_H}" '
                f'data-value="{bar.value}"><title>{escape(bar.series)}: {escape(bar.text)}</title></rect>'
            )
            # after the bar, or pulled back over it where a bar past its limit leaves no room on the right
            tx = min(label_w + w + 4, WIDTH - CHAR_W * len(bar.text) - 4)
            body.append(f'<text class="value" x="{max(tx, label_w + 4):.1f}" y="{by + BAR_H - 3:.1f}">{escape(bar.text)}</text>')
        if row.limit is not None:
            lx = label_w + plot_w * row.limit / scale_max
            body.append(
                f'<line class="limit" x1="{lx:.1f}" x2="{lx:.1f}" y1="{y - 3:.1f}" y2="{y + group_h + 1:.1f}" '
                f'data-value="{row.limit}"><title>limit {escape(row.limit_text)}</title></line>'
            )
            body.append(f'<text class="limit-label" x="{lx:.1f}" y="{y - 5:.1f}" text-anchor="middle">{escape(row.limit_text)}</text>')
        body.append("</g>")
        y += group_h + ROW_GAP
    return _svg(chart_id, y + 4, body, title)


def _fit(text: str, chars: int) -> str:
    """`text` cut to `chars` characters with an ellipsis (the full text stays in the mark's <title>)."""
    return text if len(text) <= chars else text[: max(1, chars - 1)] + "\u2026"


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About n round-numbered ticks (1, 2, 2.5, 5 x 10^k apart) covering [lo, hi]."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if raw <= m * magnitude)
    first = math.ceil(lo / step - 1e-9) * step
    count = int(math.floor((hi - first) / step + 1e-9)) + 1
    return [round(first + i * step, 10) for i in range(count)]


def scatter(
    chart_id: str,
    points: Sequence[Point],
    *,
    title: str,
    x_label: str,
    y_label: str,
    x_fmt: Callable[[float], str],
    y_fmt: Callable[[float], str],
    front: Sequence[str] = (),
    x_limit: Optional[float] = None,
    y_limit: Optional[float] = None,
) -> str:
    """Points (x, y) with the named `front` points joined by a `pareto-front` line and optional limits."""
    height, left, right, top, bottom = 360, 70, 20, 16, 46
    if x_limit is not None and points and x_limit > 3 * max(p.x for p in points):
        x_label, x_limit = f"{x_label} (limit {x_fmt(x_limit)}, far right of the chart)", None  # keep points readable
    xs = [p.x for p in points] + ([x_limit] if x_limit is not None else [])
    ys = [p.y for p in points] + ([y_limit] if y_limit is not None else [])
    x_lo, x_hi = 0.0, (max(xs) if xs else 1.0) * 1.08 or 1.0
    y_lo, y_hi = (min(ys) if ys else 0.0), (max(ys) if ys else 1.0)
    pad = (y_hi - y_lo) * 0.1 or abs(y_hi) * 0.01 or 0.01
    y_lo, y_hi = y_lo - pad, y_hi + pad
    pw, ph = WIDTH - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + pw * (x - x_lo) / (x_hi - x_lo)

    def py(y: float) -> float:
        return top + ph * (1 - (y - y_lo) / (y_hi - y_lo))

    body = [f'<rect class="plot-area" x="{left}" y="{top}" width="{pw}" height="{ph}"/>']
    for t in _nice_ticks(x_lo, x_hi):
        body.append(f'<line class="grid" x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{top}" y2="{top + ph}"/>')
        body.append(f'<text class="tick" x="{px(t):.1f}" y="{top + ph + 14}" text-anchor="middle">{escape(x_fmt(t))}</text>')
    for t in _nice_ticks(y_lo, y_hi):
        body.append(f'<line class="grid" x1="{left}" x2="{left + pw}" y1="{py(t):.1f}" y2="{py(t):.1f}"/>')
        body.append(f'<text class="tick" x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{escape(y_fmt(t))}</text>')
    body.append(f'<text class="axis-label" x="{left + pw / 2}" y="{height - 8}" text-anchor="middle">{escape(x_label)}</text>')
    body.append(
        f'<text class="axis-label" x="14" y="{top + ph / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + ph / 2})">{escape(y_label)}</text>'
    )
    if x_limit is not None:
        body.append(f'<line class="limit" x1="{px(x_limit):.1f}" x2="{px(x_limit):.1f}" y1="{top}" y2="{top + ph}"><title>size limit</title></line>')
    if y_limit is not None:
        body.append(f'<line class="limit" x1="{left}" x2="{left + pw}" y1="{py(y_limit):.1f}" y2="{py(y_limit):.1f}"><title>quality limit</title></line>')
    on_front = sorted((p for p in points if p.label in set(front)), key=lambda p: p.x)
    if on_front:
        coords = " ".join(f"{px(p.x):.1f},{py(p.y):.1f}" for p in on_front)
        body.append(f'<polyline class="pareto-front" points="{coords}"><title>Pareto front</title></polyline>')
    placed: list[tuple[float, float, float]] = []  # label boxes (x, y, width) already drawn
    for p in points:
        cls = f"point status-{_attr(p.status)}" + (" on-front" if p in on_front else "")
        body.append(
            f'<circle class="{cls}" cx="{px(p.x):.1f}" cy="{py(p.y):.1f}" r="6" data-name="{_attr(p.label)}">'
            f"<title>{escape(p.label)} ({escape(p.status)}): {escape(x_fmt(p.x))}, {escape(y_fmt(p.y))}</title></circle>"
        )
        width = CHAR_W * len(p.label)
        lx, ly = px(p.x) + 8, py(p.y) - 7
        if lx + width > WIDTH - 4:  # no room right of the point: the label ends left of it
            lx = max(4.0, px(p.x) - 8 - width)
        while any(abs(ly - y) < 12 and lx < x + w and x < lx + width for x, y, w in placed):
            ly += 13  # nudge down past a label it would overlap
        placed.append((lx, ly, width))
        body.append(f'<text class="point-label" x="{lx:.1f}" y="{ly:.1f}">{escape(p.label)}</text>')
    return _svg(chart_id, height, body, title)


def legend(items: Sequence[tuple[str, str]]) -> str:
    """HTML legend: (CSS class of the swatch, text)."""
    return '<div class="legend">' + "".join(
        f'<span><i class="swatch {_attr(cls)}"></i>{escape(text)}</span>' for cls, text in items
    ) + "</div>"
