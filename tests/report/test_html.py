"""report.html / index.html content, parsed without a browser (the browser test renders them)."""

from __future__ import annotations

import copy
import re

from edge_sdk.report.html import render_html, write_html
from edge_sdk.report.index import render_index, write_index

from .browser import DomIndex

CHARTS = {"budget-chart", "quality-chart", "candidates-chart", "layer-macs-chart", "layer-memory-chart", "bench-chart"}


def test_every_chart_and_section_present(android_report):
    dom = DomIndex(render_html(android_report))
    assert set(dom.charts()) == CHARTS
    assert "feasible" in dom.by_id("verdict").classes


def test_budget_bars_show_limit_estimate_and_measured(android_report):
    dom = DomIndex(render_html(android_report))
    assert len(dom.marks("budget-chart", "rect", "estimate")) == 3
    # flash measured + latency from the bench p50; RAM is not measured on Android
    assert len(dom.marks("budget-chart", "rect", "measured")) == 2
    limits = [float(e.attrs["data-value"]) for e in dom.marks("budget-chart", "line", "limit")]
    assert limits == [100000.0, 4000000.0, 20.0]


def test_scatter_has_every_built_candidate_and_the_pareto_front(android_report):
    dom = DomIndex(render_html(android_report))
    built = [a["name"] for a in android_report["attempts"] if a["measured"].get("flash_bytes")]
    points = dom.marks("candidates-chart", "circle", "point")
    assert sorted(p.attrs["data-name"] for p in points) == sorted(built)
    on_front = {p.attrs["data-name"] for p in points if "on-front" in p.classes}
    assert on_front == set(android_report["pareto"])
    assert len(dom.marks("candidates-chart", "polyline", "pareto-front")) == 1
    statuses = {p.attrs["data-name"]: p.classes for p in points}
    assert "status-accepted" in statuses["dynamic-int8"] and "status-rejected" in statuses["fp32"]


def test_pareto_front_computed_when_report_lists_none(android_report):
    android_report["pareto"] = []
    dom = DomIndex(render_html(android_report))
    on_front = {p.attrs["data-name"] for p in dom.marks("candidates-chart", "circle", "on-front")}
    # smallest-for-its-quality: int8 (smallest), dynamic-int8 (better, bit larger), fp16 (100%), distill (tiny)
    assert on_front == {"distill0.35-qat-int8", "int8", "dynamic-int8", "fp16"}


def test_layer_charts_one_bar_per_layer(android_report):
    dom = DomIndex(render_html(android_report))
    with_macs = [l for l in android_report["layers"] if l["macs"]]
    assert len(dom.marks("layer-macs-chart", "rect", "macs")) == len(with_macs) == 5
    assert len(dom.marks("layer-memory-chart", "rect", "float32")) == len(android_report["layers"])
    assert len(dom.marks("layer-memory-chart", "rect", "int8")) == len(android_report["layers"])


def test_self_contained_no_network_no_scripts(android_report):
    page = render_html(android_report)
    assert "<script" not in page and "<link" not in page and "@import" not in page and "url(" not in page
    assert re.findall(r"(?:src|href)=\"(https?:)?//", page) == []
    assert set(re.findall(r"https?://[^\"' ]+", page)) <= {"http://www.w3.org/2000/svg"}


def test_infeasible_names_binding_constraint_and_tolerates_missing_keys(cortex_m_report):
    page = render_html(cortex_m_report)
    dom = DomIndex(page)
    verdict = dom.by_id("verdict")
    assert "infeasible" in verdict.classes
    assert "ram_bytes is the binding constraint (44% over in distill0.5-qat-int8)" in page
    assert "bench-chart" not in dom.charts() and "not benchmarked yet" in page
    assert "quality-chart" in dom.charts()  # fidelity only, no accuracy


def test_minimal_report_renders(android_report):
    minimal = {k: android_report[k] for k in ("schema_version", "target", "profile", "feasible")}
    minimal["measured"] = None
    page = render_html(minimal)
    assert "no candidates recorded" in page and "no per-layer analysis" in page and "not verified" in page


def test_text_is_escaped(android_report):
    report = copy.deepcopy(android_report)
    report["attempts"][0]["reason"] = "<img src=x onerror=alert(1)>"
    report["attempts"][0]["name"] = "a<b>"
    page = render_html(report)
    assert "<img src=x" not in page and "&lt;img src=x" in page and "a<b>" not in page


def test_index_compares_targets(android_report, cortex_m_report, tmp_path):
    path = write_index([android_report, cortex_m_report], tmp_path / "out" / "index.html")
    dom = DomIndex(path.read_text())
    assert set(dom.charts()) == {"targets-chart"}
    links = [e.attrs["href"] for e in dom.elements if e.tag == "a"]
    assert links == ["pixel-7/report.html", "stm32f746-disco/report.html"]
    ram = {e.attrs["data-value"] for e in dom.marks("targets-chart", "rect", "ram")}
    assert "143.6" in ram  # 2872 / 2000 bytes measured arena
    assert len(dom.marks("targets-chart", "line", "limit")) == 2
    assert "infeasible (ram_bytes)" in render_index([cortex_m_report])


def test_index_quality_is_what_the_build_summary_line_says(android_report, cortex_m_report):
    """Issue 16, point 9: index.html showed top-1 agreement where the CLI showed the accuracy drop."""
    from edge_sdk.report.summary import quality_text

    page = render_index([android_report, cortex_m_report])
    for report in (android_report, cortex_m_report):
        assert f"<td>{quality_text(report)}</td>" in page
    assert quality_text(android_report).startswith("acc drop")  # labelled eval data: the drop, as on the CLI


def test_write_html_is_atomic_and_readable(android_report, tmp_path):
    path = write_html(android_report, tmp_path / "report.html")
    assert path.read_text().startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    assert path.stat().st_mode & 0o044 == 0o044


def test_the_artifacts_notes_are_shown_escaped_with_the_quality(android_report):
    """An exporter's note on where the artifact really runs (an .onnx: verified on ONNX Runtime, the
    engine built and timed on the board) reaches the page, not only report.json."""
    report = copy.deepcopy(android_report)
    report["artifacts"][0].setdefault("details", {})["notes"] = ["engine <built> on the board"]
    page = render_html(report)
    assert "engine &lt;built&gt; on the board" in page and "<built>" not in page


def test_page_defects_of_issue_16_point_9(android_report, cortex_m_report):
    """Host benches are not called on-device; no Python True/False; every TFLM file is listed; the
    rationale lists each candidate tried before the chosen one on its own line."""
    page = render_html(android_report)  # benched over ssh on the board: on-device
    assert "On-device benchmark" in page
    host = copy.deepcopy(android_report)
    host["bench"].update(runner="host", on_device=False)
    page = render_html(host)
    assert "Host (not the profile&#x27;s device) benchmark" in page and "On-device" not in page
    assert not re.search(r">\s*(True|False)\s*<", page)
    tried = DomIndex(page).by_id("plan-tried")
    assert tried is not None
    items = re.findall(r"<li><b>([^<]+)</b>", page[page.index('id="plan-tried"'):])
    assert items[:7] == ["fp32", "fp16", "int8", "int8-mixed", "qat-int8", "distill0.35-qat-int8", "prune80-qat-int8"]
    tflm = render_html(cortex_m_report)
    assert all(f"<code>{name}</code>" in tflm for name in ("model.tflite", "model_data.cc", "model_data.h"))


def test_layers_folded_at_inference_are_not_charted_as_activation_memory(android_report):
    report = copy.deepcopy(android_report)
    named = [l["name"] for l in report["layers"] if l.get("activation_bytes")]
    report["layers"][[l["name"] for l in report["layers"]].index(named[0])]["folded"] = True
    dom = DomIndex(render_html(report))
    assert len(dom.marks("layer-memory-chart", "rect", "float32")) == len(named) - 1
    assert "1 layer(s) folded away at inference" in render_html(report)
