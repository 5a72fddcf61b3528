"""Render report.html and index.html in a real headless Chromium: the DOM the browser built holds every
chart with its marks, and a screenshot is saved under the test's tmp dir (look at it when in doubt)."""

from __future__ import annotations

import struct

import pytest

from edge_sdk.report.html import write_html
from edge_sdk.report.index import write_index

from .test_html import CHARTS

pytestmark = [pytest.mark.needs_tool, pytest.mark.slow]


def _png_size(path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def test_report_renders_every_chart_in_chromium(chromium, android_report, tmp_path):
    page = write_html(android_report, tmp_path / "pixel-7" / "report.html")
    dom = chromium.dump_dom(page)
    assert set(dom.charts()) == CHARTS
    assert len(dom.marks("budget-chart", "rect", "bar")) == 5
    assert len(dom.marks("budget-chart", "line", "limit")) == 3
    assert len(dom.marks("candidates-chart", "circle", "point")) == 6
    assert len(dom.marks("candidates-chart", "polyline", "pareto-front")) == 1
    assert len(dom.marks("layer-macs-chart", "rect", "macs")) == 5
    assert len(dom.marks("layer-memory-chart", "rect", "bar")) == 22
    assert len(dom.marks("bench-chart", "rect", "bar")) == 4
    assert "feasible" in dom.by_id("verdict").classes
    shot = chromium.screenshot(page, tmp_path / "report.png")
    assert _png_size(shot) == (1280, 2000)
    assert shot.stat().st_size > 50_000  # a blank page is a few KB


def test_infeasible_report_renders_in_chromium(chromium, cortex_m_report, tmp_path):
    page = write_html(cortex_m_report, tmp_path / "stm32f746-disco" / "report.html")
    dom = chromium.dump_dom(page)
    assert set(dom.charts()) == CHARTS - {"bench-chart"}
    assert "infeasible" in dom.by_id("verdict").classes
    assert len(dom.marks("candidates-chart", "circle", "point")) == 2
    assert _png_size(chromium.screenshot(page, tmp_path / "report.png")) == (1280, 2000)


def test_index_renders_in_chromium(chromium, android_report, cortex_m_report, tmp_path):
    page = write_index([android_report, cortex_m_report], tmp_path / "index.html")
    dom = chromium.dump_dom(page)
    assert set(dom.charts()) == {"targets-chart"}
    assert len(dom.marks("targets-chart", "rect", "bar")) == 6
    assert dom.by_id("targets-table") is not None
    assert _png_size(chromium.screenshot(page, tmp_path / "index.png")) == (1280, 2000)


def test_no_text_is_cut_off_at_1280_px(chromium, android_report, cortex_m_report, tmp_path):
    """Issue 16, point 9: budget-bar and candidate labels were clipped. Every chart label lies inside
    its chart, no cell scrolls, and no page is wider than a 1280 px window, also with long names."""
    import copy

    long_names = copy.deepcopy(android_report)
    for attempt in long_names["attempts"]:
        attempt["name"] = f"distill0.35-prune-channels50-qat-{attempt['name']}-dense-per-tensor"
    pages = [write_html(android_report, tmp_path / "a" / "report.html"),
             write_html(cortex_m_report, tmp_path / "m" / "report.html"),
             write_html(long_names, tmp_path / "long" / "report.html"),
             write_index([android_report, cortex_m_report], tmp_path / "index.html")]
    for page in pages:
        assert chromium.overflowing_text(page) == [], page
