"""`edge-sdk --help` and `edge-sdk profiles list|show` must not import an ML framework (start-up speed).

Each check runs the real CLI code path in a fresh interpreter and reports which heavy modules ended up in
sys.modules; a new top-level import of TensorFlow, torch or coremltools in any command module fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("tensorflow", "torch", "coremltools", "tf_keras", "executorch", "keras", "ai_edge_litert", "tflite_micro")

PROBE = """
import contextlib, io, json, sys
from edge_sdk.cli import main
codes = []
for argv in {argvs!r}:
    with contextlib.redirect_stdout(io.StringIO()):
        codes.append(main(argv))
print(json.dumps({{"codes": codes, "loaded": sorted(m for m in {heavy!r} if m in sys.modules)}}))
"""


def _run(*argvs: list[str]) -> dict:
    code = PROBE.format(argvs=list(argvs), heavy=HEAVY)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "argvs",
    [
        (["--help"], ["--version"]),
        (["profiles", "list"], ["profiles", "list", "--json"]),
        (["profiles", "show", "cortex-m"], ["profiles", "show", "iphone-15-pro", "--json"], ["profiles", "--help"]),
        (["cache", "info", "--dir", "/nonexistent-edge-sdk-cache"], ["cache", "info", "--json", "--dir", "/nonexistent-edge-sdk-cache"]),
    ],
    ids=["help", "profiles-list", "profiles-show", "cache-info"],
)
def test_cli_path_imports_no_ml_framework(argvs):
    result = _run(*argvs)
    assert result["codes"] == [0] * len(argvs)
    assert result["loaded"] == []


def test_probe_reports_a_framework_that_was_imported():
    """The check can fail: a framework imported on the way (here the light tflite_micro) is reported."""
    code = "import tflite_micro\n" + PROBE.format(argvs=[["--help"]], heavy=HEAVY)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert json.loads(proc.stdout.strip().splitlines()[-1])["loaded"] == ["tflite_micro"]
