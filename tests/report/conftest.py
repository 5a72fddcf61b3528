"""Fixtures for the report tests: realistic report.json dicts, and the headless Chromium driver."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .browser import Chromium, DomIndex, chromium  # noqa: F401 - re-exported fixture and helpers

FIXTURES = Path(__file__).parent / "fixtures"


def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def android_report() -> dict:
    """Feasible Pareto search on pixel-7: accepted/pareto/rejected/failed/discarded attempts, bench, accuracy."""
    return load_fixture("report_android.json")


@pytest.fixture
def cortex_m_report() -> dict:
    """Infeasible first-fit on stm32f746-disco: RAM binding, fidelity only (no labels), no bench."""
    return load_fixture("report_cortex_m.json")


