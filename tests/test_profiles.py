"""Device profiles: the built-ins are complete and sourced, op lists are the runtimes' real ones, and user
profiles (--profiles-dir, extends:) merge and fail the way the docs say."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from edge_sdk.errors import ProfileError
from edge_sdk.profiles import BUILTIN_DIR, FAMILIES, OP_NAMESPACE, get_profile, list_profiles, load_profile_file

ROOT = Path(__file__).resolve().parent.parent


def _load_script(name: str):
    """A script from scripts/ as a module, without putting scripts/ on sys.path (where scripts/zoo.py
    would shadow the zoo package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen_profile_ops = _load_script("gen_profile_ops")  # the script that generated the op lists; used to cross-check them

BUILTINS = list_profiles()
DIGITS_TFLITE_OPS = {"CONV_2D", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX", "QUANTIZE", "DEQUANTIZE"}
# LiteRT builtins TFLM has no kernel for (checked against tflite-micro's op resolver).
NOT_IN_TFLM = {"CONV_3D", "GELU", "TOPK_V2", "LSTM", "BIDIRECTIONAL_SEQUENCE_LSTM", "NON_MAX_SUPPRESSION_V4",
               "ONE_HOT", "RFFT2D", "HASHTABLE", "RANDOM_UNIFORM"}
CONNECTION = {"android": "adb", "ios": "ios", "cortex-m": "serial", "jetson": "ssh"}


def _write(directory: Path, name: str, data: dict | str) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def _builtin_raw(name: str) -> dict:
    return yaml.safe_load((BUILTIN_DIR / f"{name}.yaml").read_text())


# --- the built-ins -------------------------------------------------------------------------------------


def test_every_builtin_file_validates_and_is_named_after_its_file():
    files = sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))
    assert sorted(p.name for p in BUILTINS) == files
    assert len(BUILTINS) >= 8


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_has_two_profiles_and_exactly_one_default(family):
    members = [p for p in BUILTINS if p.family == family]
    assert len(members) >= 2
    assert [p.default_for_family for p in members].count(True) == 1


@pytest.mark.parametrize("family", FAMILIES)
def test_target_family_resolves_to_its_default(family):
    profile = get_profile(family)
    assert profile.family == family and profile.default_for_family


@pytest.mark.parametrize("profile", BUILTINS, ids=lambda p: p.name)
def test_every_section_and_unit_names_a_source(profile):
    sections = {"memory": profile.memory.source, "compute": profile.compute.source, "runtime": profile.runtime.source}
    sections.update({f"unit {u.name}": u.source for u in profile.compute.units})
    empty = [where for where, text in sections.items() if len(text.strip()) < 20]
    assert not empty, f"{profile.name}: no real source for {empty}"
    assert profile.sources and all(s.strip() for s in profile.sources)


@pytest.mark.parametrize("profile", BUILTINS, ids=lambda p: p.name)
def test_profile_is_internally_consistent(profile):
    assert profile.connection.kind == CONNECTION[profile.family]
    for fmt in profile.runtime.formats:
        assert profile.ops_for(fmt), f"{profile.name}: no {OP_NAMESPACE[fmt]} op list for format {fmt}"
        assert profile.units_for(fmt), f"{profile.name}: no compute unit can run {fmt}"
    for dtype in profile.runtime.dtypes:
        assert any(dtype in u.dtypes for u in profile.compute.units), f"{profile.name}: no unit runs {dtype}"
    for unit in profile.compute.units:
        assert unit.dtypes and all(rate > 1e6 for rate in unit.dtypes.values())
    assert profile.memory.ram_budget_bytes < profile.memory.ram_bytes


def test_runtime_choices_per_family():
    for p in BUILTINS:
        expected = {"cortex-m": ("tflm",), "android": ("tflite", "pte"), "ios": ("coreml", "pte-coreml"),
                    "jetson": ("onnx", "pte", "tflite")}[p.family]
        assert p.runtime.formats == expected, p.name
    for p in (x for x in BUILTINS if x.family == "cortex-m"):
        assert p.runtime.dtypes == ("int8", "int16") and p.int8_only  # int16: the 16x8 kernels
    for p in (x for x in BUILTINS if x.family == "ios"):
        assert p.runtime.constraints["minimum_deployment_target"] in ("iOS16", "iOS17")
        assert p.runtime.constraints["compute_units"] in ("ALL", "CPU_AND_NE", "CPU_AND_GPU", "CPU_ONLY")


def test_known_device_numbers():
    stm = get_profile("stm32f746-disco")
    assert (stm.compute.clock_hz, stm.memory.ram_bytes, stm.memory.flash_bytes) == (216_000_000, 320 * 1024, 1024 * 1024)
    nrf = get_profile("nrf52840-dk")
    assert (nrf.compute.clock_hz, nrf.memory.ram_bytes, nrf.memory.flash_bytes) == (64_000_000, 256 * 1024, 1024 * 1024)
    ane = {p.name: next(u for u in p.compute.units if u.name == "ane") for p in BUILTINS if p.family == "ios"}
    assert ane["iphone-15-pro"].dtypes["int8"] == 35e12 / 2  # 35 TOPS, 2 ops per MAC
    assert ane["iphone-12"].dtypes["float16"] == 11e12 / 2  # 11 TOPS


def test_jetson_gpu_runs_onnx_and_the_cpu_the_other_formats():
    for p in (x for x in BUILTINS if x.family == "jetson"):
        gpu = next(u for u in p.compute.units if u.name == "gpu")
        assert gpu.formats == ("onnx",) and p.units_for("onnx") == (gpu,)
        assert all(u.name == "cpu" for fmt in ("pte", "tflite") for u in p.units_for(fmt))


# --- op lists are the runtimes' real ones -----------------------------------------------------------------


@pytest.mark.parametrize("profile", [p for p in BUILTINS if p.family == "cortex-m"], ids=lambda p: p.name)
def test_tflm_ops_cover_the_digits_model_and_exclude_unsupported_ones(profile):
    ops = profile.ops_for("tflm")
    assert DIGITS_TFLITE_OPS <= ops
    assert not (NOT_IN_TFLM & ops)


def test_op_lists_match_the_installed_litert_and_tflm_runtimes():
    tflm, litert = set(gen_profile_ops.tflm()), set(gen_profile_ops.litert())
    assert tflm < litert  # every TFLM kernel is a LiteRT builtin, not the other way round
    assert NOT_IN_TFLM <= litert - tflm
    for p in BUILTINS:
        if "tflm" in p.runtime.formats:
            assert p.ops_for("tflm") == tflm, p.name
        elif "tflite" in p.runtime.formats:
            assert p.ops_for("tflite") == litert, p.name


def test_android_gpu_delegate_subset_is_a_subset_of_litert():
    for p in (x for x in BUILTINS if x.family == "android"):
        gpu_ops = set(p.runtime.constraints["gpu_delegate"]["ops"])
        assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"} <= gpu_ops
        assert gpu_ops < p.ops_for("tflite")


def test_aten_and_coreml_lists_use_their_vocabularies():
    pixel, iphone, iphone12 = get_profile("pixel-8"), get_profile("iphone-15-pro"), get_profile("iphone-12")
    assert {"aten.convolution.default", "aten.linear.default", "aten.max_pool2d.default"} <= pixel.ops_for("pte")
    # the torch.export names edge-sdk's analysis reports, for layers that lower onto those targets
    assert {"aten.conv2d.default", "aten.flatten.using_ints", "aten.softmax.int"} <= pixel.ops_for("pte")
    assert "aten.layer_norm.default" not in pixel.ops_for("pte")  # XNNPACK leaves it on the portable CPU ops
    assert all(op.count(".") == 2 for op in pixel.ops_for("pte"))
    assert {"conv", "linear", "max_pool", "softmax", "reshape", "relu"} <= iphone.ops_for("coreml")
    assert "aten.convolution.default" in iphone.ops_for("pte-coreml")
    # iOS17 added ops the iOS16 opset does not have
    assert iphone12.ops_for("coreml") < iphone.ops_for("coreml")


@pytest.mark.slow
def test_generated_op_blocks_are_up_to_date():
    """All op lists (coremltools' MIL registry, ExecuTorch's partitioners, LiteRT, TFLM) equal a fresh
    generation; the XNNPACK probe lowering (minutes) is reused from the committed files."""
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/gen_profile_ops.py"), "--check", "--skip-probes"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]


@pytest.mark.slow
def test_a_torch_cnn_fits_the_pte_profiles_op_lists():
    """The aten names the analysis reports for a plain CNN are all in the XNNPACK list (no false alarms);
    on a Jetson its ONNX operators are in TensorRT 10.3's list (the GPU is chosen), but TensorRT 8.2 on the
    Nano has no HardSwish, so the Nano builds for its CPU instead."""
    import torch

    from edge_sdk.model import analyze, load_model
    from edge_sdk.planner.fit import check_fit

    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 8, 3, groups=8), torch.nn.Hardswish(), torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(), torch.nn.Dropout(0.1), torch.nn.Linear(8, 10), torch.nn.Softmax(-1),
    ).eval()
    info = analyze(load_model(torch.export.export(net, (torch.randn(1, 1, 12, 12),))))
    for target, fmt in (("pixel-8", "pte"), ("galaxy-a54", "pte"), ("jetson-orin-nano", "onnx"), ("jetson-nano", "pte")):
        report = check_fit(info, get_profile(target))
        assert report.fmt == fmt and report.ops_checked, (target, report.fmt)
        assert report.unsupported_ops == (), (target, report.unsupported_ops)
    assert "HardSwish" in info.runtime_ops("onnx")[next(l.name for l in info.layers if l.op == "aten.hardswish.default")]


# --- user profiles: --profiles-dir and extends -----------------------------------------------------------


def test_user_profile_extends_a_builtin_with_a_deep_merge(tmp_path):
    _write(tmp_path, "my-board", {
        "name": "my-board",
        "extends": "stm32f746-disco",
        "description": "an F746 with a bigger firmware",
        "memory": {"ram_budget_bytes": 131072, "source": "our firmware map"},
        "latency_budget_ms": 50,
    })
    mine, base = get_profile("my-board", tmp_path), get_profile("stm32f746-disco")
    assert mine.memory.ram_budget_bytes == 131072 and mine.memory.source == "our firmware map"
    assert mine.memory.ram_bytes == base.memory.ram_bytes  # untouched keys of a merged mapping survive
    assert mine.memory.flash_budget_bytes == base.memory.flash_budget_bytes
    assert mine.latency_budget_ms == 50 and mine.runtime == base.runtime and mine.compute == base.compute
    assert not mine.default_for_family  # extending a default does not make a second default
    assert get_profile("cortex-m", tmp_path).name == "stm32f746-disco"


def test_lists_in_an_override_replace_rather_than_append(tmp_path):
    _write(tmp_path, "pixel-fp32", {"name": "pixel-fp32", "extends": "pixel-8", "runtime": {"dtypes": ["float32"]}})
    mine = get_profile("pixel-fp32", tmp_path)
    assert mine.runtime.dtypes == ("float32",)
    assert mine.runtime.ops == get_profile("pixel-8").runtime.ops


def test_profiles_dir_adds_profiles_only_where_given(tmp_path):
    _write(tmp_path, "extra", {"name": "extra", "extends": "jetson-nano", "latency_budget_ms": 250})
    assert "extra" in {p.name for p in list_profiles(tmp_path)}
    assert "extra" not in {p.name for p in list_profiles()}
    assert load_profile_file(tmp_path / "extra.yaml").latency_budget_ms == 250


def test_user_profile_with_a_builtin_name_replaces_it(tmp_path):
    raw = _builtin_raw("nrf52840-dk")
    raw["latency_budget_ms"] = 999
    _write(tmp_path, "nrf52840-dk", raw)
    assert get_profile("nrf52840-dk", tmp_path).latency_budget_ms == 999
    assert get_profile("nrf52840-dk").latency_budget_ms != 999


# --- bad profiles: one line naming the file and the field -----------------------------------------------


def _bad(tmp_path: Path, mutate) -> dict:
    raw = _builtin_raw("nrf52840-dk")
    raw["name"] = "bad-board"
    mutate(raw)
    return raw


@pytest.mark.parametrize(
    "mutate, field, words",
    [
        (lambda r: r["memory"].update(sram_kb=256), "memory.sram_kb", "extra"),
        (lambda r: r["memory"].update(ram_bytes="lots"), "memory.ram_bytes", "integer"),
        (lambda r: r.pop("latency_budget_ms"), "latency_budget_ms", "required"),
        (lambda r: r.update(family="windows"), "family", "android"),
        (lambda r: r["compute"]["units"][0]["dtypes"].update(int4=1e9), "compute.units.0.dtypes", "int4"),
        (lambda r: r["memory"].update(ram_budget_bytes=10**9), "memory", "exceeds"),
    ],
    ids=["unknown-field", "wrong-type", "missing-field", "bad-family", "unknown-dtype", "budget-over-total"],
)
def test_bad_profile_fails_with_one_line_naming_file_and_field(tmp_path, mutate, field, words):
    path = _write(tmp_path, "bad-board", _bad(tmp_path, mutate))
    with pytest.raises(ProfileError) as err:
        list_profiles(tmp_path)
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message and f"'{field}" in message
    assert words.lower() in message.lower()


def test_invalid_yaml_names_file_and_line(tmp_path):
    path = _write(tmp_path, "broken", "name: broken\nmemory: {ram_bytes: 1\n  flash: [\n")
    with pytest.raises(ProfileError) as err:
        get_profile("broken", tmp_path)
    assert str(path) in str(err.value) and "line" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    "data, words",
    [
        ({"name": "orphan", "extends": "no-such-board"}, ["extends", "no-such-board", "stm32f746-disco"]),
        ({"name": "loop-a", "extends": "loop-a"}, ["extends", "cycle"]),
        ("- just\n- a list\n", ["mapping"]),
        ({"family": "ios"}, ["'name'", "missing"]),
    ],
    ids=["unknown-parent", "cycle", "not-a-mapping", "no-name"],
)
def test_structural_errors_name_the_file(tmp_path, data, words):
    path = _write(tmp_path, "user", data)
    with pytest.raises(ProfileError) as err:
        list_profiles(tmp_path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    for word in words:
        assert word in str(err.value)


def test_missing_profiles_dir_is_a_profile_error(tmp_path):
    with pytest.raises(ProfileError, match="does not exist"):
        list_profiles(tmp_path / "nowhere")


def test_unknown_target_lists_the_valid_ones():
    with pytest.raises(ProfileError) as err:
        get_profile("pixel-99")
    message = str(err.value)
    assert "pixel-99" in message
    for valid in list(FAMILIES) + [p.name for p in BUILTINS]:
        assert valid in message


def test_user_profile_examples_in_the_docs_validate(tmp_path):
    import re

    blocks = re.findall(r"```yaml\n(.*?)```", (ROOT / "docs/profiles.md").read_text(), re.S)
    examples = [yaml.safe_load(b) for b in blocks if "extends:" in b]
    assert len(examples) >= 2
    for data in examples:
        _write(tmp_path, data["name"], data)
    for data in examples:
        assert get_profile(data["name"], tmp_path).name == data["name"]
