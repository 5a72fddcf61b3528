"""Acceptance: the bundled example built from its edge-sdk.yaml renders in headless Chromium, its
report.html and index.html with every chart (DOM inspected, screenshots saved under tmp)."""

from __future__ import annotations

import json

import pytest

from ..report.browser import Chromium, chromium  # noqa: F401 - the fixture
from .conftest import ROOT, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.needs_tool]

EXAMPLE = ROOT / "examples" / "digits"
REPORT_CHARTS = {"budget-chart", "quality-chart", "candidates-chart", "layer-macs-chart", "layer-memory-chart"}


@pytest.fixture(scope="module")
def example_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("example-out")
    with pytest.MonkeyPatch.context() as mp:  # keep the example dir free of a .edge-sdk-cache/
        mp.setenv("EDGE_SDK_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        proc = run_cli("build", "--target", "cortex-m", "--target", "jetson", "--out", str(out), "--quiet", cwd=EXAMPLE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_example_reports_render_every_chart(chromium: Chromium, example_build, tmp_path):  # noqa: F811
    for report_json in sorted(example_build.glob("*/report.json")):
        report = json.loads(report_json.read_text())
        page = report_json.parent / "report.html"
        dom = chromium.dump_dom(page)
        assert REPORT_CHARTS <= set(dom.charts()), report_json.parent.name
        built = [a for a in report["attempts"] if (a.get("measured") or {}).get("flash_bytes")]
        assert len(dom.marks("candidates-chart", "circle", "point")) == len(built) >= 1
        assert len(dom.marks("layer-macs-chart", "rect", "macs")) == sum(1 for l in report["layers"] if l["macs"])
        assert len(dom.marks("budget-chart", "line", "limit")) == 3
        assert "feasible" in dom.by_id("verdict").classes
        shot = chromium.screenshot(page, tmp_path / f"{report_json.parent.name}.png")
        assert shot.stat().st_size > 20_000


def test_example_index_renders(chromium: Chromium, example_build, tmp_path):  # noqa: F811
    dom = chromium.dump_dom(example_build / "index.html")
    assert set(dom.charts()) == {"targets-chart"}
    assert len(dom.marks("targets-chart", "rect", "bar")) == 6  # flash, RAM, latency x 2 targets
    links = sorted(e.attrs["href"] for e in dom.elements if e.tag == "a")
    assert links == sorted(f"{p.name}/report.html" for p in example_build.iterdir() if p.is_dir())
    assert chromium.screenshot(example_build / "index.html", tmp_path / "index.png").stat().st_size > 10_000
