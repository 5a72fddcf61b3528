"""`edge-sdk profiles list|show` through the real CLI process: tables, JSON, and bad input (exit 2, one line)."""

from __future__ import annotations

import json

import yaml

from edge_sdk.profiles import BUILTIN_DIR, FAMILIES

BUILTIN_NAMES = sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def _one_error_line(proc) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_list_table_shows_every_profile_and_its_budgets(cli):
    proc = cli("profiles", "list")
    assert proc.returncode == 0, proc.stderr
    for name in BUILTIN_NAMES:
        assert name in proc.stdout
    assert "256.0 KiB" in proc.stdout  # stm32f746-disco RAM budget
    assert "tflm" in proc.stdout and "100 ms" in proc.stdout


def test_list_json_is_every_profile_dump(cli):
    proc = cli("profiles", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)["profiles"]  # one object, like every --json
    assert sorted(p["name"] for p in doc) == BUILTIN_NAMES
    defaults = {p["family"] for p in doc if p["default_for_family"]}
    assert defaults == set(FAMILIES)
    stm = next(p for p in doc if p["name"] == "stm32f746-disco")
    assert stm["memory"]["ram_bytes"] == 327680 and "CONV_2D" in stm["runtime"]["ops"]["tflite"]


def test_show_family_resolves_to_default_in_text_and_json(cli):
    text = cli("profiles", "show", "ios")
    assert text.returncode == 0, text.stderr
    assert "iphone-15-pro" in text.stdout and "family default" in text.stdout and "ane" in text.stdout
    doc = json.loads(cli("profiles", "show", "jetson", "--json").stdout)
    assert doc["name"] == "jetson-orin-nano"
    assert doc["runtime"]["formats"] == ["onnx", "pte", "tflite"]


def test_unknown_profile_exits_2_with_one_line_listing_valid_targets(cli):
    proc = cli("profiles", "show", "pixel-99")
    assert proc.returncode == 2
    line = _one_error_line(proc)
    assert "pixel-99" in line and "stm32f746-disco" in line and "android" in line


def test_user_profiles_dir_extends_and_bad_profile(cli, tmp_path):
    good = tmp_path / "good"
    good.mkdir()
    (good / "f746-tight.yaml").write_text(yaml.safe_dump(
        {"name": "f746-tight", "extends": "stm32f746-disco", "memory": {"ram_budget_bytes": 65536}}))
    doc = json.loads(cli("profiles", "show", "f746-tight", "--json", "--profiles-dir", str(good)).stdout)
    assert doc["memory"]["ram_budget_bytes"] == 65536 and doc["memory"]["ram_bytes"] == 327680

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "typo.yaml").write_text(yaml.safe_dump(
        {"name": "typo", "extends": "pixel-8", "memory": {"ram_budjet_bytes": 1}}))
    proc = cli("profiles", "list", "--profiles-dir", str(bad))
    assert proc.returncode == 2
    line = _one_error_line(proc)
    assert "typo.yaml" in line and "memory.ram_budjet_bytes" in line


def test_every_command_has_a_help_line(cli):
    """`edge-sdk --help` listed plan, build, bench and devices with a blank description."""
    proc = cli("--help")
    commands = proc.stdout.split("Commands:")[1].strip().splitlines()
    assert len(commands) >= 9 and all(len(line.split(None, 1)) == 2 for line in commands), proc.stdout
    assert all("<list[str]>" not in cli(c, "--help").stdout for c in ("build", "plan", "bench", "devices"))


def _piped(*args: str, **env: str):
    """The CLI with stdout to a pipe (as in a CI log), COLUMNS unset unless given."""
    import os
    import subprocess
    import sys

    from .conftest import ROOT

    environ = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | env
    return subprocess.run([sys.executable, "-m", "edge_sdk.cli", *args], cwd=ROOT, env=environ, capture_output=True,
                          text=True, timeout=600)


def test_show_prints_readable_values_not_python_reprs():
    """Issue 16, point 9: runtime notes one per line (no Python dicts), a GPU's MAC/s as 10,000 G."""
    proc = _piped("profiles", "show", "jetson-orin-nano")
    assert proc.returncode == 0, proc.stderr
    assert "{'" not in proc.stdout and "e+0" not in proc.stdout, proc.stdout
    assert "10,000 G" in proc.stdout and "    partitioner: XnnpackPartitioner" in proc.stdout
    assert "\x1b[" not in proc.stdout  # no colour codes in a log


def test_tables_keep_one_line_per_row_when_piped():
    """Issue 16, point 9: in a pipe rich assumed 80 columns and wrapped the plan table; now each rung
    is one line (200 columns, or COLUMNS when set)."""
    model = "examples/digits/model.keras"
    proc = _piped("plan", "--model", model, "--target", "cortex-m")
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("│")]
    names = json.loads(_piped("plan", "--model", model, "--target", "cortex-m", "--json").stdout)
    ladder = next(iter(names["targets"].values()))["ladder"]
    assert len(rows) == len(ladder), proc.stdout  # no row wrapped onto a second line
    assert all(rung["name"] in row for rung, row in zip(ladder, rows))
    narrow = _piped("plan", "--model", model, "--target", "cortex-m", COLUMNS="100")
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 100
