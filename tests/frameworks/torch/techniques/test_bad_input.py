"""Bad input on the torch path: one-line errors that name what was wrong."""

from __future__ import annotations

import pytest
import torch

from edge_sdk.errors import ConfigError, DataError
from edge_sdk.frameworks.torch.techniques import ptq as torch_ptq
from edge_sdk.model import load_model
from edge_sdk.techniques.base import TechniqueData
from tests.conftest import DIGITS_CALIBRATION


class NCHW(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3)
        self.fc = torch.nn.Linear(4 * 6 * 6, 10)

    def forward(self, image):
        return self.fc(torch.flatten(self.conv(image), 1))


def test_calibration_shape_mismatch_names_both_shapes(tmp_path):
    path = tmp_path / "nchw.pt2"
    torch.export.save(torch.export.export(NCHW().eval(), (torch.zeros(1, 1, 8, 8),)), str(path))
    model = load_model(path)
    data = TechniqueData(train=DIGITS_CALIBRATION, calibration=DIGITS_CALIBRATION, teacher=model)
    with pytest.raises(DataError) as err:
        torch_ptq.apply(model, data, {})
    message = str(err.value)
    assert "(300, 8, 8, 1)" in message and "(N, 1, 8, 8)" in message and "\n" not in message
    assert err.value.exit_code == 2


def test_unknown_option_is_a_config_error(torch_digits, digits_data):
    with pytest.raises(ConfigError, match="max_sample"):
        torch_ptq.apply(torch_digits, digits_data, {"max_sample": 10})


def test_keras_model_is_refused_by_torch_techniques(digits_loaded, digits_data):
    with pytest.raises(ConfigError, match="PyTorch"):
        torch_ptq.apply(digits_loaded, digits_data, {})


def test_cli_build_with_mismatched_calibration_exits_2(tmp_path, capsys):
    from edge_sdk.cli import main

    path = tmp_path / "nchw.pt2"
    torch.export.save(torch.export.export(NCHW().eval(), (torch.zeros(1, 1, 8, 8),)), str(path))
    code = main(["build", "--target", "android", "--model", str(path), "--calibration", str(DIGITS_CALIBRATION),
                 "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "(300, 8, 8, 1)" in err and "(N, 1, 8, 8)" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out" / "pixel-8").exists()
