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


def test_a_quiet_build_from_python_prints_nothing_and_logs_third_party_output(tmp_path, capfd):
    """Issue 16, point 9: `build(quiet=True)` printed the converter's lines (`fully_quantize: ...`) and
    the workers' logs on the caller's stderr; they go to OUT/build.log, as under the CLI."""
    from .conftest import DIGITS_CALIBRATION, DIGITS_MODEL

    results = edge_sdk.build(str(DIGITS_MODEL), ["cortex-m"], calibration=str(DIGITS_CALIBRATION), out=tmp_path / "out",
                             quiet=True)
    assert results[0].report["feasible"]
    printed = capfd.readouterr()
    assert printed.out == "" and printed.err == "", printed
    assert "fully_quantize" in (tmp_path / "out" / "build.log").read_text()
