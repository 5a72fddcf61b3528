"""`edge_sdk.__all__` is exactly the API the README documents, and every name resolves."""

from __future__ import annotations

import re
from pathlib import Path

import edge_sdk

README = Path(__file__).resolve().parents[1] / "README.md"


def test_all_is_exactly_the_documented_api():
    block = re.search(r"<!-- api -->(.*?)<!-- /api -->", README.read_text(), re.S).group(1)
    documented = set(re.findall(r"`([A-Za-z_]+)`", block))
    assert set(edge_sdk.__all__) == documented
    for name in edge_sdk.__all__:
        assert getattr(edge_sdk, name) is not None
