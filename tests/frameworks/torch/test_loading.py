"""Loading .pt2 files safely, in-memory modules, and the torch analysis against torch's own counts."""

from __future__ import annotations

import io
import pickle
import zipfile

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from edge_sdk.errors import ModelLoadError
from edge_sdk.frameworks.torch.analysis import analyze_torch
from edge_sdk.model import load_model
from tests.frameworks.torch.conftest import TORCH_DIGITS
from tests.frameworks.torch.models import tiny_transformer, token_batches


class NotATensor:  # pickled into a crafted archive: the restricted unpickler must refuse it
    pass


def _macs_by_flop_counter(module, example) -> float:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(*example)
    return counter.get_total_flops() / 2


def test_digits_pt2_loads_with_specs_and_example_inputs(torch_digits):
    assert torch_digits.framework == "torch" and torch_digits.source_format == "pt2"
    (spec,) = torch_digits.inputs
    assert (spec.name, spec.shape, spec.dtype) == ("image", (None, 8, 8, 1), "float32")
    assert torch_digits.outputs[0].shape == (None, 10)
    assert tuple(torch_digits.example_inputs[0].shape[1:]) == (8, 8, 1)


def test_digits_analysis_matches_torch_counts(torch_digits):
    info = analyze_torch(torch_digits)
    module = torch_digits.handle.module()
    assert info.params == sum(p.numel() for p in module.parameters()) == 40426
    ref = _macs_by_flop_counter(module, (torch.zeros(1, 8, 8, 1),))
    assert abs(info.macs - ref) <= 0.01 * ref
    conv1 = next(l for l in info.layers if l.name == "conv1")
    assert conv1.kind == "conv" and conv1.params == 160 and conv1.runtime_ops["coreml"] == ("conv",)
    assert conv1.runtime_ops["aten"] == ("aten.conv2d.default",)
    assert sum(l.params for l in info.layers) == info.params
    # liveness: conv2 output (32x8x8) and its input (16x8x8) plus relu output at the widest point, never the sum of all
    assert 32 * 64 <= info.peak_activation_elems < sum(l.output_elems for l in info.layers)


def test_transformer_wraps_in_memory_and_counts_attention_macs():
    module = tiny_transformer()
    loaded = load_model((module, (token_batches(2),)))
    assert loaded.source_format == "memory" and loaded.inputs[0].shape == (None, 16)
    info = analyze_torch(loaded)
    assert info.params == sum(p.numel() for p in module.parameters())
    ref = _macs_by_flop_counter(module, (token_batches(1),))
    assert abs(info.macs - ref) <= 0.01 * ref
    kinds = {l.kind for l in info.layers}
    assert {"embedding", "dense", "matmul", "norm"} <= kinds


def _tampered(src, tmp_path):
    """A copy of the digits archive whose sample inputs pickle a non-tensor class."""
    out = tmp_path / "tampered.pt2"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if "/data/sample_inputs/" in item.filename:
                buf = io.BytesIO()
                torch.save({"x": NotATensor()}, buf, pickle_protocol=pickle.DEFAULT_PROTOCOL)
                data = buf.getvalue()
            zout.writestr(item, data)
    return out


def test_pt2_with_pickled_objects_is_refused_without_trust(tmp_path):
    with pytest.raises(ModelLoadError) as err:
        load_model(_tampered(TORCH_DIGITS, tmp_path))
    message = str(err.value)
    assert "sample_inputs" in message and "--trust-model" in message and "\n" not in message


def test_pickled_pt_file_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 2), path)
    with pytest.raises(ModelLoadError, match="torch.export.save"):
        load_model(path)


def test_corrupt_pt2_is_one_line_error(tmp_path):
    path = tmp_path / "broken.pt2"
    path.write_bytes(b"not a zip")
    with pytest.raises(ModelLoadError, match="not a torch.export .pt2 archive"):
        load_model(path)


def test_module_without_example_inputs_is_refused():
    with pytest.raises(ModelLoadError, match="example_inputs"):
        load_model(torch.nn.Linear(2, 2))
