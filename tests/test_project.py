"""edge-sdk.yaml: strict validation with one-line errors naming file and field, paths resolved
against the file's directory, budgets merged project-wide -> per target."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from edge_sdk.errors import ConfigError
from edge_sdk.project import find_project, load_project

from .conftest import DIGITS_CALIBRATION, DIGITS_MODEL, ROOT


def _write(tmp_path: Path, body: str, name: str = "edge-sdk.yaml") -> Path:
    (tmp_path / "model.keras").write_bytes(DIGITS_MODEL.read_bytes())
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "cal.npz").write_bytes(DIGITS_CALIBRATION.read_bytes())
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


MINIMAL = """
model: model.keras
calibration: data/cal.npz
targets: [android]
"""


def test_bundled_example_loads_with_paths_resolved():
    project = load_project(ROOT / "examples" / "digits" / "edge-sdk.yaml")
    assert project.model == DIGITS_MODEL
    assert project.calibration == str(DIGITS_CALIBRATION)
    assert project.target_names() == ["android", "ios", "cortex-m", "jetson"]
    assert project.out == ROOT / "examples" / "digits" / "out"
    assert [t.budgets() for t in project.targets] == [{}, {}, {}, {}]


def test_relative_paths_follow_the_file_not_the_cwd(tmp_path, monkeypatch):
    path = _write(tmp_path, MINIMAL + "out: build/out\ncache_dir: .cache\n")
    monkeypatch.chdir("/")
    project = load_project(path)
    assert project.model == tmp_path / "model.keras"
    assert project.calibration == str(tmp_path / "data" / "cal.npz")
    assert project.out == tmp_path / "build" / "out" and project.cache_dir == tmp_path / ".cache"
    assert project.search == "first-fit" and project.seed == 0 and project.trust_model is False


def test_budgets_project_wide_then_per_target(tmp_path):
    path = _write(tmp_path, """
        model: model.keras
        calibration: data/cal.npz
        budgets: {min_fidelity: 0.98, latency_ms: 50}
        targets:
          - android
          - target: stm32f746-disco
            ram_bytes: 200KiB
            flash_bytes: 1.5MB
            latency_ms: 120
        """)
    android, mcu = load_project(path).targets
    floor = {m: 0.98 for m in ("top1_agreement", "cosine_min", "token_agreement", "box_iou_mean")}  # a bare number
    assert android.budgets() == {"min_fidelity": floor, "latency_ms": 50.0}
    assert mcu.budgets() == {"ram_bytes": 204800, "flash_bytes": 1_500_000, "latency_ms": 120.0, "min_fidelity": floor}


def test_devices_and_module_data_source(tmp_path):
    path = _write(tmp_path, MINIMAL.replace("data/cal.npz", "mypkg.data:calibration") + """
devices:
  - {name: orin, address: "ssh:ubuntu@10.0.0.12:22", target: jetson, identity_file: keys/id_ed25519}
  - {name: board, address: "serial:/dev/ttyACM0@115200", target: cortex-m}
""")
    project = load_project(path)
    assert project.calibration == "mypkg.data:calibration"  # module:function stays as written
    assert project.device("orin").identity_file == tmp_path / "keys" / "id_ed25519"
    assert project.device("board").address == "serial:/dev/ttyACM0@115200" and project.device("nope") is None


@pytest.mark.parametrize(
    "body, message",
    [
        (MINIMAL + "ouput: x\n", "field 'ouput': unknown key; valid keys here: model, models, trust_model"),
        (MINIMAL.replace("[android]", "[{target: android, ram: 5}]"), "field 'targets[0].ram': unknown key; valid keys here: ram_bytes"),
        (MINIMAL.replace("[android]", "[{target: android, ram_bytes: 12 apples}]"), "field 'targets[0].ram_bytes': ram_bytes '12 apples': expected bytes like"),
        (MINIMAL.replace("[android]", "[android, android]"), "targets listed twice: android"),
        (MINIMAL.replace("[android]", "[]"), "field 'targets'"),
        (MINIMAL.replace("[android]", "[andriod]"), "field 'targets[0].target':"),
        (MINIMAL + "search: best\n", "field 'search': Input should be 'first-fit' or 'pareto'"),
        (MINIMAL + "budgets: {min_fidelity: 1.5}\n", "field 'budgets.min_fidelity': min_fidelity top1_agreement=1.5: expected a fraction in (0, 1]"),
        (MINIMAL.replace("model.keras", "missing.keras"), "field 'model': "),
        (MINIMAL.replace("data/cal.npz", "data/none.npz"), "field 'calibration': "),
        (MINIMAL + "devices: [{name: a, address: 'telnet:x'}]\n", "field 'devices[0].address': 'telnet:x' is not a device address"),
        ("model: [1, 2\n", "line 2 is not valid YAML"),
        ("- just a list\n", "must be a YAML mapping"),
        ("calibration: data/cal.npz\ntargets: [android]\n", "give either model (one) or models (a list, for a matrix build)"),
    ],
)
def test_bad_files_are_one_line_config_errors_naming_file_and_field(tmp_path, body, message):
    path = _write(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_project(path)
    text = str(info.value)
    assert text.startswith(f"{path}:") and message in text and "\n" not in text


def test_unreadable_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the project file"):
        load_project(tmp_path / "edge-sdk.yaml")


def test_frozen(tmp_path):
    project = load_project(_write(tmp_path, MINIMAL))
    with pytest.raises(Exception):
        project.seed = 3  # type: ignore[misc]


def test_find_project_only_in_the_given_dir(tmp_path):
    _write(tmp_path, MINIMAL)
    (tmp_path / "sub").mkdir()
    assert find_project(tmp_path) == tmp_path / "edge-sdk.yaml"
    assert find_project(tmp_path / "sub") is None
