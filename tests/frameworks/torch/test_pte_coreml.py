"""ExecuTorch with the Core ML partitioner: lowers on Linux, cannot run here (reported not_run), and is
deterministic (the delegate's random identifiers are derived from the seed)."""

from __future__ import annotations

import pytest

from edge_sdk.formats.base import ExportConfig
from edge_sdk.formats.pte_coreml import exporter
from tests.frameworks.torch.helpers import verify_pte

pytestmark = pytest.mark.slow


def test_pte_coreml_lowers_deterministically_and_is_not_run(torch_digits, digits_data, tmp_path):
    from edge_sdk.profiles import get_profile

    ios = get_profile("ios")
    first = exporter.export(torch_digits, ios, ExportConfig(), tmp_path / "a")
    second = exporter.export(torch_digits, ios, ExportConfig(), tmp_path / "b")
    assert first.format == "pte-coreml" and first.details["backend"] == "coreml"
    assert first.details["delegation"]["coverage"] > 0.9
    assert first.sha256 == second.sha256
    program = first.path.read_bytes()  # the delegate's conversion-date stamp is fixed: same bytes another day
    assert b"coremltools.conversion_date\x12\x0a" + exporter.FIXED_DATE in program, "no conversion date found to fix"
    import datetime

    assert datetime.date.today().isoformat().encode() not in program
    v = verify_pte(first, torch_digits, digits_data.eval)
    assert v.method == "not_run" and v.fidelity is None and "Apple" in v.reason
