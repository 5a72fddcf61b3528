"""Headless Chromium for the report tests: dump the DOM the browser built, take screenshots.

`DomIndex` records every element with the id of the chart (<svg class="chart">) it sits in, so tests
can count a chart's marks. The `chromium` fixture skips (with the reason) where Chromium is absent;
CI installs it with scripts/ci_system_deps.sh and turns that skip into a failure.
"""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest


class Element:
    def __init__(self, tag: str, attrs: dict, chart: str | None):
        self.tag, self.attrs, self.chart = tag, attrs, chart

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())


class DomIndex(HTMLParser):
    """Every element of a page with the id of the chart (<svg class="chart">) it sits in."""

    def __init__(self, text: str):
        super().__init__()
        self.elements: list[Element] = []
        self._stack: list[tuple[str, str | None]] = []
        self.feed(text)

    def _chart(self) -> str | None:
        return self._stack[-1][1] if self._stack else None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        chart = attrs.get("id") if tag == "svg" and "chart" in (attrs.get("class") or "").split() else self._chart()
        self.elements.append(Element(tag, attrs, chart))
        self._stack.append((tag, chart))

    def handle_endtag(self, tag):
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                del self._stack[i:]
                return

    def charts(self) -> dict[str, Element]:
        return {e.attrs["id"]: e for e in self.elements if e.tag == "svg" and "chart" in e.classes}

    def marks(self, chart: str, tag: str, cls: str) -> list[Element]:
        return [e for e in self.elements if e.chart == chart and e.tag == tag and cls in e.classes]

    def by_id(self, element_id: str) -> Element | None:
        return next((e for e in self.elements if e.attrs.get("id") == element_id), None)


CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


OVERFLOW_PROBE = """<script>
window.addEventListener('load', () => {
  const found = [];
  for (const svg of document.querySelectorAll('svg')) {
    const box = svg.getBoundingClientRect();
    for (const t of svg.querySelectorAll('text')) {
      const b = t.getBoundingClientRect();
      if (b.width && (b.left < box.left - 0.5 || b.right > box.right + 0.5 || b.top < box.top - 0.5 || b.bottom > box.bottom + 0.5))
        found.push((svg.id || 'svg') + ': ' + t.textContent);
    }
  }
  for (const el of document.querySelectorAll('td, th, p, li, h1, h2, h3, code, pre')) {
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible')
      found.push(el.tagName + ': ' + el.textContent.slice(0, 80));
  }
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth + 1) found.push('page wider than the window: ' + doc.scrollWidth + ' px');
  document.body.setAttribute('data-overflow', JSON.stringify(found));
});
</script>"""


class Chromium:
    def __init__(self, binary: str, tmp: Path):
        self.binary, self.tmp = binary, tmp

    def _run(self, page: Path, *flags: str) -> subprocess.CompletedProcess:
        profile = self.tmp / "chromium-profile"
        return subprocess.run(
            [self.binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *flags, page.resolve().as_uri()],
            capture_output=True, text=True, timeout=120, check=True,
        )

    def dump_dom(self, page: Path) -> DomIndex:
        return DomIndex(self._run(page, "--dump-dom").stdout)

    def overflowing_text(self, page: Path) -> list[str]:
        """Text the page cuts off at 1280 px: chart labels outside their <svg> (SVG clips them), cells
        or paragraphs that scroll, a page wider than the window. Measured by a probe script in a copy
        of the page (the page itself has none), read back from the DOM Chromium dumps."""
        import json
        import re

        probe = page.with_name(page.stem + ".probe.html")
        probe.write_text(page.read_text().replace("</body>", OVERFLOW_PROBE + "</body>"))
        dumped = self._run(probe, "--window-size=1280,2000", "--dump-dom").stdout
        found = re.search(r'data-overflow="([^"]*)"', dumped)
        assert found, "the overflow probe did not run"
        return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))

    def screenshot(self, page: Path, out: Path) -> Path:
        self._run(page, f"--screenshot={out}", "--window-size=1280,2000")
        return out


@pytest.fixture
def chromium(tmp_path) -> Chromium:
    binary = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    if binary is None:
        pytest.skip("headless Chromium not installed; install it with scripts/ci_system_deps.sh")
    return Chromium(binary, tmp_path)
