"""Shared torch fixtures: the bundled digits program, its data, and the fp32 / int8 .pte built once."""

from __future__ import annotations

import pytest

from tests.conftest import DIGITS_CALIBRATION, DIGITS_EVAL, DIGITS_TRAIN, ROOT
from tests.frameworks.torch.helpers import export_pte

TORCH_DIGITS = ROOT / "examples" / "torch_digits" / "model.pt2"

pytest.importorskip("executorch", reason="the torch extra (torch, executorch, torchao) is not installed")


@pytest.fixture(scope="session")
def torch_digits():
    from edge_sdk.model import load_model

    return load_model(TORCH_DIGITS)


@pytest.fixture(scope="session")
def digits_data(torch_digits):
    from edge_sdk.techniques.base import TechniqueData
    from edge_sdk.data import load_dataset

    cal = load_dataset(DIGITS_CALIBRATION, torch_digits.inputs)
    ev = load_dataset(DIGITS_EVAL, torch_digits.inputs)
    return TechniqueData(train=cal, calibration=cal, teacher=torch_digits, eval=ev)


@pytest.fixture(scope="session")
def digits_train_set(torch_digits):
    from edge_sdk.data import load_dataset

    return load_dataset(DIGITS_TRAIN, torch_digits.inputs)


@pytest.fixture(scope="session")
def android():
    from edge_sdk.profiles import get_profile

    return get_profile("android")


@pytest.fixture(scope="session")
def fp32_pte(torch_digits, android, tmp_path_factory):
    return export_pte(torch_digits, android, tmp_path_factory.mktemp("fp32"))


@pytest.fixture(scope="session")
def int8_model(torch_digits, digits_data):
    from edge_sdk.frameworks.torch.techniques import ptq as torch_ptq

    return torch_ptq.apply(torch_digits, digits_data, {})


@pytest.fixture(scope="session")
def int8_pte(int8_model, android, tmp_path_factory):
    return export_pte(int8_model[0], android, tmp_path_factory.mktemp("int8"), precision="int8")
