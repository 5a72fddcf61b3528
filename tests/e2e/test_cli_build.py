"""`edge-sdk build` end to end on the bundled digits example, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "examples/digits/model.keras"
CAL = ROOT / "calibration_data/digits_calibration.npz"
EVAL = ROOT / "calibration_data/digits_eval.npz"
TRAIN = ROOT / "calibration_data/digits_train.npz"
FAMILIES = ("android", "ios", "cortex-m", "jetson")
REPORT_KEYS = {
    "schema_version", "target", "profile", "model", "budgets", "plan", "attempts", "artifacts", "verification",
    "estimates", "measured", "feasible", "versions", "timings_s",
}

pytestmark = pytest.mark.slow


def build_args(out: Path, *targets: str) -> list[str]:
    args = ["build", "--model", str(MODEL), "--calibration", str(CAL), "--eval-data", str(EVAL), "--out", str(out), "--quiet"]
    for t in targets:
        args += ["--target", t]
    return args


def reports(out: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(out.glob("*/report.json"))}


@pytest.fixture(scope="module")
def family_build(cli, tmp_path_factory):
    out = tmp_path_factory.mktemp("families")
    return out, cli(*build_args(out, *FAMILIES))


def test_every_family_is_feasible_with_default_budgets(family_build):
    out, proc = family_build
    assert proc.returncode == 0, proc.stderr
    found = reports(out)
    assert {r["profile"]["family"] for r in found.values()} == set(FAMILIES)
    lines = [l for l in proc.stdout.splitlines() if l.strip()]
    assert len(lines) == len(FAMILIES) and all(l.rstrip().endswith("ok") for l in lines), proc.stdout
    for name, report in found.items():
        assert REPORT_KEYS <= set(report), f"{name}: missing {REPORT_KEYS - set(report)}"
        assert report["feasible"] is True
        assert report["verification"]["accuracy"]["drop"] <= 1.0
        artifact = report["artifacts"][0]
        assert (out / name / artifact["path"]).exists()
        assert (out / name / "report.html").is_file() and (out / name / "harness").is_dir()
    assert (out / "index.html").is_file()


def test_every_target_ships_sha256sums_and_a_model_card(family_build):
    """Issue 16, point 8: SHA256SUMS lists every shipped file (what `sha256sum -c` checks) but not the
    reports bench rewrites; MODEL_CARD.md states the target, files, plan, budgets, fidelity and versions."""
    import hashlib

    out, _ = family_build
    for name, report in reports(out).items():
        here = out / name
        listed = dict(reversed(line.split("  ", 1)) for line in (here / "SHA256SUMS").read_text().splitlines())
        shipped = {p.relative_to(here).as_posix() for p in here.rglob("*") if p.is_file()}
        assert set(listed) == shipped - {"SHA256SUMS", "report.json", "report.html", "bench.json"}
        for f in [*report["artifacts"][0]["files"], "MODEL_CARD.md"]:  # a .mlpackage directory: its files
            assert f in listed or any(entry.startswith(f + "/") for entry in listed), (name, f)
        assert all(hashlib.sha256((here / f).read_bytes()).hexdigest() == digest for f, digest in listed.items())
        card = (here / "MODEL_CARD.md").read_text()
        primary = report["verification"]["fidelity"]["outputs"][0]
        for fact in (f"for {name} ({report['profile']['family']})", f"`{report['plan']['name']}`",
                     report["artifacts"][0]["sha256"], f"| {report['versions']['edge-sdk']} |", primary["output"]):
            assert fact in card, (name, fact)
        assert "host_latency" not in card and "timings" not in card  # nothing that differs between identical builds


def test_cortex_m_measured_arena_and_flash_fit_and_match_estimates(family_build):
    out, _ = family_build
    report = next(r for r in reports(out).values() if r["profile"]["family"] == "cortex-m")
    budgets = report["budgets"]
    assert budgets["flash_bytes"]["measured"] <= budgets["flash_bytes"]["limit"]
    assert budgets["ram_bytes"]["measured"] <= budgets["ram_bytes"]["limit"]
    measured, est = report["measured"], report["estimates"]
    flash_err = abs(est["flash_bytes"] - measured["flash_bytes"]) / measured["flash_bytes"]
    arena_err = abs(est["arena_bytes"] - measured["arena_bytes_measured"]) / measured["arena_bytes_measured"]
    assert flash_err < 0.10, (est["flash_bytes"], measured["flash_bytes"])
    assert arena_err < 0.10, (est["arena_bytes"], measured["arena_bytes_measured"])
    assert report["verification"]["runtime"] == "tflm" and report["verification"]["method"] == "executed"
    assert {"model_data.cc", "model_data.h", "op_resolver.h", "model.tflite"} <= {p.name for p in (out / report["profile"]["name"]).iterdir()}


def test_ios_core_ml_verification_is_marked_simulated_on_linux(family_build):
    out, _ = family_build
    report = next(r for r in reports(out).values() if r["profile"]["family"] == "ios")
    assert report["artifacts"][0]["format"] == "coreml"
    assert report["verification"]["method"] in ("simulated", "executed")


def test_ram_budget_too_small_exits_3_with_ram_binding(cli, tmp_path):
    proc = cli(*build_args(tmp_path, "cortex-m"), "--ram-budget", "2000")
    assert proc.returncode == 3, proc.stderr
    (report,) = reports(tmp_path).values()
    assert report["feasible"] is False
    assert report["binding_constraint"]["budget"] == "ram_bytes"
    assert report["binding_constraint"]["over_by"] > 0
    assert report["artifacts"], "the best infeasible candidate is still written"
    assert "OVER (ram_bytes)" in proc.stdout


def test_tight_flash_budget_climbs_the_ladder_to_a_smaller_model(cli, tmp_path):
    # distillation trains a new student: give it the labelled training split, as the example project does
    proc = cli(*build_args(tmp_path, "cortex-m"), "--flash-budget", "24KiB", "--train-data", str(TRAIN))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (report,) = reports(tmp_path).values()
    assert report["plan"]["name"].startswith(("distill", "prune"))
    assert report["measured"]["flash_bytes"] <= 24 * 1024
    earlier = [a for a in report["attempts"] if a["status"] in ("discarded", "rejected")]
    assert earlier and all(a["reason"] for a in earlier)
    assert any(a["name"] == "int8" and "flash_bytes" in a["reason"] for a in earlier)


def test_builds_are_deterministic(cli, tmp_path):
    hashes = []
    for run in ("a", "b"):
        out = tmp_path / run
        assert cli(*build_args(out, "cortex-m")).returncode == 0
        (report,) = reports(out).values()
        hashes.append([(a["path"], a["sha256"]) for a in report["artifacts"]])
        hashes[-1].append(("model_data.cc", (out / report["profile"]["name"] / "model_data.cc").read_bytes()))
    assert hashes[0] == hashes[1]


def test_plan_dry_run_lists_discarded_rungs(cli, tmp_path):
    proc = cli("plan", "--model", str(MODEL), "--target", "cortex-m", "--flash-budget", "24KiB", "--json", "--save", str(tmp_path / "plan.json"))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    (entry,) = doc["targets"].values()
    statuses = {r["name"]: r["status"] for r in entry["ladder"]}
    assert statuses["int8"] == "discarded" and statuses["distill0.35-qat-int8"] == "candidate"
    assert "fp32" not in statuses, "int8-only targets skip float rungs"
    saved = json.loads((tmp_path / "plan.json").read_text())
    assert list(saved["targets"]) == list(doc["targets"])


def test_missing_calibration_is_exit_2_one_line(cli, tmp_path):
    proc = cli("build", "--model", str(MODEL), "--target", "android", "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert "calibration" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
