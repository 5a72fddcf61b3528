"""`edge-sdk init MODEL`: a commented starter edge-sdk.yaml that load_project accepts as written."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from edge_sdk.cli import main
from edge_sdk.project import load_project

from ..conftest import DIGITS_CALIBRATION, DIGITS_EVAL, DIGITS_MODEL, DIGITS_TRAIN


@pytest.fixture
def project_dir(tmp_path):
    """A model folder as users have them: the model and its .npz data side by side."""
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(DIGITS_MODEL, models / "digits.keras")
    for src in (DIGITS_CALIBRATION, DIGITS_TRAIN, DIGITS_EVAL):
        shutil.copy(src, models / src.name)
    return tmp_path


def test_init_writes_a_loadable_commented_project(project_dir, capsys):
    out = project_dir / "edge-sdk.yaml"
    assert main(["init", str(project_dir / "models" / "digits.keras"), "--out", str(out)]) == 0
    assert "4 target(s) (android, ios, cortex-m, jetson)" in capsys.readouterr().out
    text = out.read_text()
    assert text.count("\n# ") > 10 and "docs/project.md" in text
    project = load_project(out)
    assert project.model == project_dir / "models" / "digits.keras"
    assert project.calibration == str(project_dir / "models" / "digits_calibration.npz")
    assert project.train_data == str(project_dir / "models" / "digits_train.npz")
    assert project.eval_data == str(project_dir / "models" / "digits_eval.npz")
    assert project.target_names() == ["android", "ios", "cortex-m", "jetson"]


def test_refuses_to_overwrite_without_force(project_dir, capsys):
    out = project_dir / "edge-sdk.yaml"
    out.write_text("mine\n")
    model = str(project_dir / "models" / "digits.keras")
    assert main(["init", model, "--out", str(out)]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err and out.read_text() == "mine\n"
    assert main(["init", model, "--out", str(out), "--force"]) == 0
    assert load_project(out).model.name == "digits.keras"


def test_torch_model_skips_families_it_cannot_reach(tmp_path):
    model = tmp_path / "net.pt2"
    model.write_bytes(b"PK")  # only the suffix is read
    out = tmp_path / "edge-sdk.yaml"
    assert main(["init", str(model), "--out", str(out)]) == 0
    text = out.read_text()
    assert "  # - target: cortex-m" in text and "not reachable from a torch model" in text
    assert "calibration: calibration.npz   # REQUIRED" in text


@pytest.mark.parametrize("name, message", [("m.tflite", "inspected and benchmarked, not rebuilt"), ("m.onnx", "unknown model format .onnx"), ("missing.keras", "does not exist")])
def test_bad_models_exit_2(tmp_path, capsys, name, message):
    if name != "missing.keras":
        (tmp_path / name).write_bytes(b"x")
    assert main(["init", str(tmp_path / name), "--out", str(tmp_path / "p.yaml")]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "p.yaml").exists()


def test_init_imports_no_framework(project_dir):
    code = (
        "import sys; from edge_sdk.cli import main; "
        f"rc = main(['init', {str(project_dir / 'models' / 'digits.keras')!r}, '--out', {str(project_dir / 'x.yaml')!r}]); "
        "heavy = [m for m in ('tensorflow', 'torch', 'coremltools', 'keras') if m in sys.modules]; "
        "assert rc == 0 and not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_plan_and_inspect_read_the_project_file_like_build(tmp_path, monkeypatch, capsys):
    """`edge-sdk plan` / `edge-sdk inspect` in a project directory take its model, targets and per-target
    budgets (they asked for --model before)."""
    import json
    import shutil

    from edge_sdk.cli import main

    from ..conftest import DIGITS_CALIBRATION, DIGITS_MODEL

    shutil.copy(DIGITS_CALIBRATION, tmp_path / "calibration.npz")
    (tmp_path / "edge-sdk.yaml").write_text(
        f"model: {DIGITS_MODEL}\ncalibration: calibration.npz\n"
        "targets:\n  - target: android\n    latency_ms: 7\n  - target: cortex-m\n")
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [t["target"] for t in doc["targets"].values()] == ["android", "cortex-m"]
    assert doc["targets"]["pixel-8"]["budgets"]["latency_ms"] == 7
    assert main(["plan", "--json", "--latency-budget", "9"]) == 0  # a flag wins over the file
    assert json.loads(capsys.readouterr().out)["targets"]["pixel-8"]["budgets"]["latency_ms"] == 9
    assert main(["inspect", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["params"] == 40_458


def test_version(capsys):
    from edge_sdk import __version__
    from edge_sdk.cli import main

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"edge-sdk {__version__}"
