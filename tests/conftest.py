"""Shared fixtures and the CI rule that a test needing a system tool may not be skipped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DIGITS_MODEL = ROOT / "examples" / "digits" / "model.keras"
DIGITS_CALIBRATION = ROOT / "calibration_data" / "digits_calibration.npz"
DIGITS_TRAIN = ROOT / "calibration_data" / "digits_train.npz"
DIGITS_EVAL = ROOT / "calibration_data" / "digits_eval.npz"

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_configure(config):
    """Builds in tests use a build cache of their own, never the developer's .edge-sdk-cache/. Under
    pytest-xdist (scripts/test.sh runs two workers) a worker gets COLUMNS=80 and LINES=24 from xdist;
    the CLI's piped tables read COLUMNS, and the suite checks them as a pipe without it gives them."""
    import tempfile

    os.environ.setdefault("EDGE_SDK_CACHE_DIR", tempfile.mkdtemp(prefix="edge-sdk-test-cache-"))
    if os.environ.get("PYTEST_XDIST_WORKER"):
        for name in ("COLUMNS", "LINES"):
            os.environ.pop(name, None)


LONGEST_FIRST = ("tests/zoo/",)


def pytest_collection_modifyitems(config, items):
    """The zoo's files first (about 14 minutes in one file): with one file per worker at a time
    (`--dist loadfile`), a long file started last would leave the other worker idle at the end."""
    items.sort(key=lambda item: not any(part in item.nodeid for part in LONGEST_FIRST))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if (
        report.skipped
        and os.environ.get("EDGE_SDK_REQUIRE_TOOLS") == "1"
        and item.get_closest_marker("needs_tool") is not None
    ):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"needs_tool test skipped in CI (EDGE_SDK_REQUIRE_TOOLS=1): {reason}"


@pytest.fixture(scope="session")
def digits_paths() -> dict[str, Path]:
    return {"model": DIGITS_MODEL, "calibration": DIGITS_CALIBRATION, "train": DIGITS_TRAIN, "eval": DIGITS_EVAL}


@pytest.fixture(scope="session")
def digits_loaded():
    from edge_sdk import load_model

    return load_model(DIGITS_MODEL)


@pytest.fixture(autouse=True)
def _documents_match_the_schemas(request):
    """Every report.json and bench.json a test leaves in its tmp_path must validate against schemas/
    (issue 16, point 7): the suite's own outputs are the schemas' test corpus. A test's hand-made stub
    (a report.json without `schema_version`, a bench.json without `bench`) is not ours and is passed over."""
    tmp = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if tmp is None or not tmp.exists():
        return
    import json

    from .schemas import problems

    found = []
    for path in sorted(tmp.rglob("*.json")):
        kind, marker = {"report.json": ("report", "schema_version"), "bench.json": ("bench", "bench")}.get(path.name, (None, None))
        if kind is None:
            continue
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # a test's deliberately damaged file
        if not (isinstance(document, dict) and marker in document):
            continue
        found += [f"{path.relative_to(tmp)}: {p}" for p in problems(kind, document)[:5]]
    assert not found, "documents that break schemas/:\n" + "\n".join(found)
