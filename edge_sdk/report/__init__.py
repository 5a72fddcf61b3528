"""Reports: report.json (document.py), report.html / index.html (html.py + svg.py), and the
regression gate over two builds (compare.py). Only light modules: no framework imports."""

from edge_sdk.report.html import write_html
from edge_sdk.report.index import write_index

__all__ = ["write_html", "write_index"]
