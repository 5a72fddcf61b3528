"""`edge-sdk inspect` through the real CLI: tables and JSON on the bundled digits model against the
built-in profiles, and every bad-input path exits 2 with one line on stderr and no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "examples/digits/model.keras"
ONE_PER_FAMILY = ("galaxy-a54", "iphone-12", "tight-nrf", "jetson-nano")
# a user profile: the built-in nRF52840 board with a flash budget and latency budget the model misses
TIGHT_NRF = "name: tight-nrf\nextends: nrf52840-dk\nmemory:\n  flash_budget_bytes: 20000\nlatency_budget_ms: 1\n"


def _one_line_error(result, *needles: str) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.slow
def test_inspect_json_without_target(cli):
    result = cli("inspect", str(MODEL), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["params"] == 40_458 and doc["macs"] == 616_064
    assert doc["peak_activation_bytes"] == (1024 + 2048) * 4  # conv1 read while conv2 is written, fp32
    assert doc["peak_activation_bytes_by_dtype"]["int8"] == 1024 + 2048
    assert [l["name"] for l in doc["layers"]][:3] == ["image", "conv1", "bn1"]
    assert doc["layers"][1]["runtime_ops"]["tflite"] == ["CONV_2D"]
    assert "fit" not in doc


@pytest.mark.slow
@pytest.mark.parametrize("target", ONE_PER_FAMILY)
def test_inspect_json_fit_per_family(cli, target, tmp_path):
    (tmp_path / "tight.yaml").write_text(TIGHT_NRF)
    result = cli("inspect", str(MODEL), "--target", target, "--json", "--profiles-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr  # inspect reports a misfit; it does not fail on it
    fit = json.loads(result.stdout)["fit"]
    assert fit["target"] == target
    assert fit["format"] in ("tflite", "tflm", "coreml", "onnx")
    rows = {r["precision"]: r for r in fit["estimates"]}
    assert set(rows) == {"float32", "int8"}
    int8 = rows["int8"]
    if target == "jetson-nano":  # its Maxwell GPU (the onnx format's unit) has no int8 rate: the fit says so
        assert fit["format"] == "onnx" and not int8["runnable"]
        int8 = rows["float32"]
    assert int8["runnable"] and {c["name"] for c in int8["checks"]} >= {"flash_bytes", "ram_bytes", "latency_ms"}
    for check in int8["checks"]:
        assert check["ok"] == (check["estimate"] <= check["limit"])
    if fit["family"] == "cortex-m":
        assert not rows["float32"]["runnable"] and int8["estimate"]["arena_bytes"] > 0
        checks = {c["name"]: c for c in int8["checks"]}
        flash = checks["flash_bytes"]
        assert flash["limit"] == 20000 and not flash["ok"]
        assert flash["over_by"] == flash["estimate"] - 20000 > 0 and flash["over_by_pct"] > 0
        assert not checks["latency_ms"]["ok"] and checks["ram_bytes"]["ok"]
        assert not fit["ok"]
    else:
        assert rows["float32"]["runnable"] and int8["estimate"]["arena_bytes"] is None


@pytest.mark.slow
def test_inspect_table_with_family_name(cli):
    result = cli("inspect", str(MODEL), "--target", "cortex-m")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "conv1" in out and "CONV_2D" in out and "(folded)" in out
    assert "params 40,458" in out and "MACs 616,064" in out
    assert "Fit on stm32f746-disco" in out  # the cortex-m family default
    assert "not runnable" in out  # float32 on an int8-only MCU
    assert "estimate vs budget" in out


def test_missing_file(cli, tmp_path):
    _one_line_error(cli("inspect", str(tmp_path / "nope.keras")), "nope.keras", "does not exist")


@pytest.mark.parametrize("name,needle", [("model.keras", "not a valid .keras archive"),
                                         ("model.tflite", "not a TFLite flatbuffer"),
                                         ("model.h5", "not an HDF5 file")])
def test_corrupt_file(cli, tmp_path, name, needle):
    bad = tmp_path / name
    bad.write_bytes(b"this is not a model at all, just some bytes")
    _one_line_error(cli("inspect", str(bad)), name, needle)


def test_unknown_format(cli, tmp_path):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"\x08\x07")
    _one_line_error(cli("inspect", str(bad)), "unknown model format .onnx", ".keras")


def test_unknown_target_lists_valid_ones(cli):
    line = _one_line_error(cli("inspect", str(MODEL), "--target", "pixel-99"), "unknown target 'pixel-99'")
    for valid in ("android", "cortex-m", "stm32f746-disco", "iphone-15-pro"):
        assert valid in line


def test_bad_profile_in_profiles_dir(cli, tmp_path):
    (tmp_path / "broken.yaml").write_text(
        "name: broken-board\nextends: stm32f746-disco\nmemory:\n  ram_bytes: lots\n"
    )
    _one_line_error(cli("inspect", str(MODEL), "--target", "broken-board", "--profiles-dir", str(tmp_path)),
                    "broken.yaml", "memory.ram_bytes")


def test_unknown_profile_field(cli, tmp_path):
    (tmp_path / "extra.yaml").write_text("name: extra-board\nextends: pixel-8\nturbo_mode: true\n")
    _one_line_error(cli("inspect", str(MODEL), "--target", "extra-board", "--profiles-dir", str(tmp_path)),
                    "extra.yaml", "turbo_mode")


def test_usage_errors_exit_2_without_traceback(cli):
    for args in (("inspect",), ("inspect", str(MODEL), "--bogus")):
        result = cli(*args)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert "error:" in result.stderr.lower()  # click's usage line or our one-line error


@pytest.mark.slow
def test_inspect_tflite_file(cli, tmp_path, digits_loaded):
    from edge_sdk.frameworks.keras.techniques.ptq import QuantSpec, convert_to_tflite
    from edge_sdk.data import load_dataset

    calibration = load_dataset(ROOT / "calibration_data/digits_calibration.npz", digits_loaded.inputs, max_samples=50)
    flatbuffer, _ = convert_to_tflite(digits_loaded.handle, QuantSpec("int8", io_dtype="int8", max_samples=50), calibration)
    path = tmp_path / "digits_int8.tflite"
    path.write_bytes(flatbuffer)
    result = cli("inspect", str(path), "--target", "cortex-m", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["framework"] == "tflite" and doc["macs"] == 616_064
    assert "CONV_2D" in [l["op"] for l in doc["layers"]]
    assert doc["fit"]["format"] == "tflm" and [r["precision"] for r in doc["fit"]["estimates"]] == ["int8"]
    assert doc["fit"]["unsupported_dtypes"] == []  # already int8

    path.write_bytes(flatbuffer[:2000])  # truncated: the TFL3 identifier survives, the buffer does not
    _one_line_error(cli("inspect", str(path)), "digits_int8.tflite", "LiteRT cannot read")
