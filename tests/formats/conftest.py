"""Fixtures for exporter tests: the built-in family default profiles and the digits data."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_sdk.profiles import Profile, get_profile

DATA = Path(__file__).resolve().parents[2] / "calibration_data"


@pytest.fixture(scope="session")
def cortex_m_profile() -> Profile:
    return get_profile("cortex-m")


@pytest.fixture(scope="session")
def android_profile() -> Profile:
    return get_profile("android")


@pytest.fixture(scope="session")
def ios_profile() -> Profile:
    return get_profile("ios")


@pytest.fixture(scope="session")
def digits_calibration(digits_loaded):
    from edge_sdk.data import load_dataset

    return load_dataset(DATA / "digits_calibration.npz", digits_loaded.inputs)


@pytest.fixture(scope="session")
def digits_eval(digits_loaded):
    from edge_sdk.data import load_dataset

    return load_dataset(DATA / "digits_eval.npz", digits_loaded.inputs, purpose="eval")
