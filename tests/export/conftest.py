"""Fixtures for exporter tests: profiles (built-in when present, else a stand-in named as such) and the
digits model with its data."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_sdk.errors import ProfileError
from edge_sdk.profiles import Profile, get_profile


DATA = Path(__file__).resolve().parents[2] / "calibration_data"
DIGITS_CALIBRATION = DATA / "digits_calibration.npz"
DIGITS_EVAL = DATA / "digits_eval.npz"


def _standin(family: str, formats: list[str], dtypes: list[str], ops: dict, constraints: dict) -> Profile:
    """A stand-in profile (only when the built-in family profile is not there yet)."""
    return Profile.model_validate({
        "name": f"standin-{family}", "family": family, "description": "stand-in profile for exporter tests",
        "memory": {"ram_bytes": 1 << 20, "ram_budget_bytes": 1 << 19, "flash_bytes": 1 << 21,
                   "flash_budget_bytes": 1 << 20, "source": "test stand-in"},
        "compute": {"cpu": "test", "clock_hz": 1, "source": "test stand-in",
                    "units": [{"name": "cpu", "dtypes": {"int8": 1.0}, "source": "test stand-in"}]},
        "runtime": {"formats": formats, "dtypes": dtypes, "ops": ops, "constraints": constraints,
                    "source": "test stand-in"},
        "latency_budget_ms": 100, "connection": {"kind": "host"}, "sources": ["test stand-in"],
    })


def _profile(family: str, **standin):
    try:
        return get_profile(family)
    except ProfileError:
        return _standin(family, **standin)


@pytest.fixture(scope="session")
def cortex_m_profile() -> Profile:
    from edge_sdk.export.tflm import RESOLVER_METHODS

    return _profile("cortex-m", formats=["tflm"], dtypes=["int8"], ops={"tflite": sorted(RESOLVER_METHODS)}, constraints={})


@pytest.fixture(scope="session")
def android_profile() -> Profile:
    return _profile("android", formats=["tflite"], dtypes=["int8", "float16", "float32"], ops={"tflite": []}, constraints={})


@pytest.fixture(scope="session")
def ios_profile() -> Profile:
    return _profile("ios", formats=["coreml"], dtypes=["float16", "float32"], ops={"coreml": []},
                    constraints={"minimum_deployment_target": "iOS17", "compute_units": "ALL"})


@pytest.fixture(scope="session")
def digits_calibration(digits_loaded):
    from edge_sdk.data import load_dataset

    return load_dataset(DIGITS_CALIBRATION, digits_loaded.inputs)


@pytest.fixture(scope="session")
def digits_eval(digits_loaded):
    from edge_sdk.data import load_dataset

    return load_dataset(DIGITS_EVAL, digits_loaded.inputs, purpose="eval")
