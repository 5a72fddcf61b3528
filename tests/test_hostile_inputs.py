"""Hostile inputs, generated (hypothesis): damaged model files of every format, damaged data files,
profiles, edge-sdk.yaml and plan files, and numeric flags. Each must end in exit 0 or 2 (or, for the
loaders, a result or an EdgeSDKError): never a traceback, never a file written outside OUT.

Seeds are real files (the digits model as .keras and .h5, a converted .tflite, a torch .pt2, the
digits calibration .npz, a built-in profile, an `edge-sdk init` project, a `plan --save` plan);
hypothesis truncates them, flips bits, splices junk in, or replaces them with random bytes.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_sdk.cli import main
from edge_sdk.errors import EdgeSDKError

from .conftest import DIGITS_CALIBRATION, DIGITS_MODEL

ROOT = Path(__file__).resolve().parents[1]
def _examples(n: int) -> settings:
    """n generated cases, the same ones on every run (derandomized: CI never flakes on a new draw; a
    failure reproduces), no example database written into the checkout."""
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@st.composite
def damaged(draw, original: bytes) -> bytes:
    """`original` truncated, bit-flipped, spliced with junk, or replaced by random bytes."""
    kind = draw(st.sampled_from(["truncate", "flip", "splice", "random"]))
    if kind == "truncate":
        return original[: draw(st.integers(0, len(original) - 1))]
    if kind == "flip":
        out = bytearray(original)
        for pos in draw(st.lists(st.integers(0, len(original) - 1), min_size=1, max_size=8, unique=True)):
            out[pos] ^= 1 << draw(st.integers(0, 7))
        return bytes(out)
    if kind == "splice":
        start = draw(st.integers(0, len(original) - 1))
        junk = draw(st.binary(min_size=1, max_size=64))
        return original[:start] + junk + original[start + len(junk):]
    return draw(st.binary(max_size=4096))


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> dict[str, Path]:
    """One real file per model format."""
    from edge_sdk import deps

    root = tmp_path_factory.mktemp("seeds")
    tfk, tf = deps.tf_keras(), deps.tensorflow()
    model = tfk.models.load_model(DIGITS_MODEL, compile=False)
    model.save(root / "model.h5")
    (root / "model.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    torch = deps.torch()
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(144, 10))
    torch.export.save(torch.export.export(net.eval(), (torch.zeros(1, 1, 8, 8),)), root / "model.pt2")
    shutil.copy(DIGITS_MODEL, root / "model.keras")
    return {p.suffix: p for p in root.iterdir()}


def _run_cli(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _assert_clean(code: int, said: str, allowed: tuple[int, ...] = (0, 2)) -> None:
    assert code in allowed and "Traceback" not in said and "internal error" not in said, (code, said[-2000:])


def _nothing_else_written(directory: Path, expected: set[str]) -> None:
    assert {p.name for p in directory.iterdir()} == expected


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".keras", ".h5", ".tflite", ".pt2"])
def test_a_damaged_model_file_is_inspected_or_refused_in_one_line(seeds, suffix, capsys, monkeypatch):
    original = seeds[suffix].read_bytes()

    @_examples(20)
    @given(data=damaged(original))
    def check(data: bytes) -> None:
        with tempfile.TemporaryDirectory() as tmp, monkeypatch.context() as patch:
            patch.chdir(tmp)  # back out before the directory goes
            path = Path(tmp) / f"model{suffix}"
            path.write_bytes(data)
            code, said = _run_cli(["inspect", str(path)], capsys)
            _assert_clean(code, said)
            _nothing_else_written(Path(tmp), {path.name})

    check()


def _loader_only_raises_user_errors(load, path: Path) -> None:
    try:
        load(path)
    except EdgeSDKError as exc:
        assert "\n" not in str(exc).strip(), str(exc)


@pytest.mark.slow
def test_a_damaged_data_file_is_loaded_or_refused_in_one_line(digits_loaded):
    from edge_sdk.data import load_dataset

    original = Path(DIGITS_CALIBRATION).read_bytes()

    @_examples(40)
    @given(data=damaged(original))
    def check(data: bytes) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "data.npz"
            path.write_bytes(data)
            _loader_only_raises_user_errors(lambda p: load_dataset(p, digits_loaded.inputs), path)

    check()


def _yaml_values() -> st.SearchStrategy:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20))
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                        max_leaves=6)


@st.composite
def mutated_document(draw, document: dict) -> str:
    """The YAML document with some of its fields, at any depth, replaced by values of any type, or its
    text damaged."""
    if draw(st.booleans()):
        text = yaml.safe_dump(document).encode()
        return draw(damaged(text)).decode("utf-8", errors="replace")
    doc = yaml.safe_load(yaml.safe_dump(document))
    for _ in range(draw(st.integers(1, 3))):
        node = doc
        while isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node, key=str)))
            if not isinstance(node[key], dict) or draw(st.booleans()):
                node[key] = draw(_yaml_values())
                break
            node = node[key]
    return yaml.safe_dump(doc, allow_unicode=True)


def _profile_loader():
    from edge_sdk.profiles import load_profile_file

    return load_profile_file


def _project_loader():
    from edge_sdk.project import load_project

    return load_project


def _plan_loader():
    from edge_sdk.planner.plan_file import read_plan

    return read_plan


PROJECT = {"model": str(DIGITS_MODEL), "calibration": str(DIGITS_CALIBRATION), "out": "out", "seed": 0,
           "targets": [{"target": "android", "latency_ms": 20, "flash_bytes": "1MB"}, {"target": "cortex-m"}]}
PLAN = {"plan_version": 2, "targets": {"pixel-8": [
    {"name": "fp32", "fmt": "tflite", "precision": "float32", "framework": "keras", "steps": []},
    {"name": "qat-int8", "fmt": "tflite", "precision": "int8", "framework": "keras",
     "steps": [{"technique": "qat", "params": {"epochs": 2}}]},
]}}


@pytest.mark.slow
@pytest.mark.parametrize("file_name, document, loader", [
    ("pixel-8.yaml", yaml.safe_load((ROOT / "device_profiles" / "pixel-8.yaml").read_text()), _profile_loader),
    ("edge-sdk.yaml", PROJECT, _project_loader),
    ("plan.json", PLAN, _plan_loader),
], ids=["profile", "project", "plan"])
def test_a_mutated_config_file_loads_or_is_refused_in_one_line(file_name, document, loader):
    """Profiles, edge-sdk.yaml and plan files with fields of any type at any depth, or damaged text."""
    load = loader()

    @_examples(40)
    @given(text=mutated_document(document))
    def check(text: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / file_name
            if file_name.endswith(".json"):
                try:
                    text = json.dumps(yaml.safe_load(text))
                except (yaml.YAMLError, ValueError):
                    pass  # damaged text stays as it is
            path.write_text(text)
            _loader_only_raises_user_errors(load, path)
            _nothing_else_written(Path(tmp), {file_name})

    check()


@pytest.mark.slow
def test_numeric_flags_are_used_or_refused_in_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    values = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-(2**70), 2**70).map(str),
                       st.sampled_from(["nan", "inf", "-inf", "1e400", "0", "-0", "1KiB", "", "0x10", "1_000"]),
                       st.text(max_size=8))
    flags = st.sampled_from(["--latency-budget", "--ram-budget", "--flash-budget"])

    @_examples(40)
    @given(flag=flags, value=values)
    def check(flag: str, value: str) -> None:
        code, said = _run_cli(["plan", "--model", str(DIGITS_MODEL), "--target", "android", flag, value], capsys)
        _assert_clean(code, said, allowed=(0, 2, 3))
        _nothing_else_written(tmp_path, set())

    check()


def test_the_generators_really_damage_their_seed():
    """A property test over undamaged inputs would pass vacuously."""
    original = b"0123456789abcdef" * 8

    @_examples(50)
    @given(data=damaged(original))
    def check(data: bytes) -> None:
        assert data != original

    check()
