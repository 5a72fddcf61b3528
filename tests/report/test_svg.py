"""Chart primitives: scales, limits and escaping (the HTML tests cover the charts as a whole)."""

from __future__ import annotations

from edge_sdk.report.svg import Bar, Point, Row, _nice_ticks, grouped_hbars, scatter

from .browser import DomIndex


def _widths(svg: str, series: str) -> list[float]:
    return [float(e.attrs["width"]) for e in DomIndex(svg).marks("c", "rect", series)]


def test_ticks_are_round_and_cover_the_range():
    assert _nice_ticks(0, 178000) == [0, 50000, 100000, 150000]
    assert _nice_ticks(0.98, 1.001) == [0.98, 0.985, 0.99, 0.995, 1.0]
    assert _nice_ticks(5, 5) == [5]


def test_shared_scale_vs_per_row_scale():
    rows = [Row("a", (Bar("x", 10.0, "10"),)), Row("b", (Bar("x", 40.0, "40"),))]
    shared = _widths(grouped_hbars("c", rows, title="t"), "x")
    assert shared[1] == 4 * shared[0]
    own = _widths(grouped_hbars("c", rows, title="t", shared_scale=False), "x")
    assert own[0] == own[1]  # each row fills its own scale


def test_limit_beyond_the_bar_sets_the_scale_and_scale_min_keeps_small_values_small():
    svg = grouped_hbars("c", [Row("flash", (Bar("x", 50.0, "50"),), limit=100.0, limit_text="100 B")], title="t")
    dom = DomIndex(svg)
    bar, line = dom.marks("c", "rect", "x")[0], dom.marks("c", "line", "limit")[0]
    assert float(line.attrs["x1"]) - float(bar.attrs["x"]) == 2 * float(bar.attrs["width"])
    tiny = _widths(grouped_hbars("c", [Row("q", (Bar("x", 0.1, "0.1"),), scale_min=1.0)], title="t"), "x")[0]
    full = _widths(grouped_hbars("c", [Row("q", (Bar("x", 0.1, "0.1"),))], title="t"), "x")[0]
    assert tiny < full / 5


def test_missing_value_draws_no_bar_but_says_so():
    svg = grouped_hbars("c", [Row("ram", (Bar("x", None, "not measured"),))], title="t")
    assert _widths(svg, "x") == [] and "not measured" in svg


def test_scatter_front_line_joins_front_points_by_size():
    pts = [Point(100, 0.9, "small", "rejected"), Point(300, 0.99, "big", "accepted"), Point(200, 0.8, "bad", "rejected")]
    svg = scatter("c", pts, title="t", x_label="x", y_label="y", x_fmt=str, y_fmt=str, front=["big", "small"])
    dom = DomIndex(svg)
    line = dom.marks("c", "polyline", "pareto-front")[0]
    xs = [float(p.split(",")[0]) for p in line.attrs["points"].split()]
    assert len(xs) == 2 and xs[0] < xs[1]
    assert {e.attrs["data-name"] for e in dom.marks("c", "circle", "on-front")} == {"small", "big"}


def test_labels_are_escaped():
    svg = grouped_hbars("c", [Row("<script>", (Bar("x", 1.0, "a&b"),))], title="<t>")
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "a&amp;b" in svg
