"""examples/ci: the workflow's edge-sdk commands are real (flags parse, the gate gates) and the copy
script puts artifacts where apps expect them, refusing infeasible targets."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from edge_sdk.cli import main

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "examples" / "ci"
FIXTURE = ROOT / "tests" / "report" / "fixtures" / "report_android.json"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load((CI / "edge-sdk.yml").read_text())


def _step(workflow: dict, name_part: str) -> dict:
    return next(s for s in workflow["jobs"]["build"]["steps"] if name_part in s.get("name", ""))


def _command(run: str, env: dict) -> list[str]:
    text = re.sub(r"\\\n\s*", " ", run)
    text = re.sub(r'"\$(\w+)"', lambda m: env[m.group(1)], text)
    return shlex.split(text)


def test_gate_step_runs_and_fails_on_a_regression(workflow, tmp_path, monkeypatch):
    for side in ("baseline", "out"):
        (tmp_path / side / "pixel-7").mkdir(parents=True)
        shutil.copy(FIXTURE, tmp_path / side / "pixel-7" / "report.json")
    argv = _command(_step(workflow, "Regression gate")["run"], workflow["env"])
    assert argv[:2] == ["edge-sdk", "compare"] and "--junit" in argv
    monkeypatch.chdir(tmp_path)
    assert main(argv[1:]) == 0
    report = json.loads(FIXTURE.read_text())
    report["artifacts"][0]["bytes"] = int(report["artifacts"][0]["bytes"] * 1.10)
    (tmp_path / "out" / "pixel-7" / "report.json").write_text(json.dumps(report))
    assert main(argv[1:]) == 4  # the regression exit code
    assert (tmp_path / "out" / "compare-junit.xml").is_file()  # uploaded with OUT/


def test_build_step_flags_exist_and_upload_always_runs(workflow, capsys):
    argv = shlex.split(_step(workflow, "Build every target")["run"])
    assert argv[:2] == ["edge-sdk", "build"]
    main(["build", "--help"])
    help_text = capsys.readouterr().out
    assert all(flag in help_text for flag in argv[2:] if flag.startswith("--"))
    upload = _step(workflow, "Upload OUT/")
    assert upload["if"] == "always()" and upload["with"]["name"] == "edge-sdk-out"


@pytest.fixture
def out_dir(tmp_path) -> Path:
    out = tmp_path / "out" / "pixel-8"
    out.mkdir(parents=True)
    (out / "report.json").write_text(json.dumps({"feasible": True}))
    (out / "model.tflite").write_bytes(b"TFL3")
    return tmp_path / "out"


def _copy(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(CI / "copy_artifacts.sh"), *args], capture_output=True, text=True, env=env, timeout=30)


def test_copy_script_puts_the_tflite_into_android_assets(out_dir, tmp_path):
    proc = _copy(str(out_dir), "android", "pixel-8", str(tmp_path / "app"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "app" / "src" / "main" / "assets" / "model.tflite").read_bytes() == b"TFL3"


def test_copy_script_refuses_infeasible_and_missing(out_dir, tmp_path):
    (out_dir / "pixel-8" / "report.json").write_text(json.dumps({"feasible": False}))
    proc = _copy(str(out_dir), "android", "pixel-8", str(tmp_path / "app"))
    assert proc.returncode == 1 and "infeasible" in proc.stderr and not (tmp_path / "app").exists()
    proc = _copy(str(out_dir), "ios", "pixel-8", str(tmp_path / "ios"), env={"FORCE": "1", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2 and "no model.mlpackage model.pte" in proc.stderr
    assert _copy(str(out_dir), "android", "nope", str(tmp_path / "x")).returncode == 2


def test_the_install_step_is_pinned_never_an_index_name(workflow):
    """`pip install "edge-sdk[all]"` installs an unrelated PyPI project; the example installs our
    distribution (edge-deploy-sdk, the name pyproject.toml declares) from a pinned git ref."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    name = project["name"]
    assert name != "edge-sdk"
    # an extra that names the package itself must use the new name, or pip installs the PyPI project
    self_refs = [r for reqs in project["optional-dependencies"].values() for r in reqs if r.startswith("edge")]
    assert self_refs and all(r.startswith(f"{name}[") for r in self_refs), self_refs
    run = _step(workflow, "Install edge-sdk")["run"]
    requirement = shlex.split(run)[-1]
    assert requirement.startswith(f"{name}[all] @ git+") and requirement.endswith("@${EDGE_SDK_REF}"), run
    ref = workflow["env"]["EDGE_SDK_REF"]
    assert ref and ref not in ("main", "master", "HEAD"), "a branch moves; pin a tag or a commit"
