"""A token model exported with a declared sequence range (`torch.export.Dim("seq", min=4, max=128)`):
the range is read from the program, analysis and estimates are at the longest sequence (budgets are
checked there), data outside the range is refused with the fix, and the .pte and the Core ML package
keep the range (a .pte used to be re-exported at the example's length, and analysis ran at length 1)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.frameworks.torch.helpers import export_pte
from tests.frameworks.torch.test_pte_attention import encoder

pytestmark = pytest.mark.slow

LOW, HIGH = 4, 128


@pytest.fixture(scope="module")
def programs():
    """(the encoder exported with a sequence range, the same encoder exported static at HIGH tokens)."""
    import torch

    from edge_sdk.model import load_model

    net = encoder(layers=2)
    ids, mask = torch.randint(1, 50, (1, 16)), torch.ones(1, 16, dtype=torch.int64)
    seq = torch.export.Dim("seq", min=LOW, max=HIGH)
    ranged = torch.export.export(net, (ids, mask), dynamic_shapes=({1: seq}, {1: seq}))
    longest = torch.export.export(net, (torch.randint(1, 50, (1, HIGH)), torch.ones(1, HIGH, dtype=torch.int64)))
    return load_model(ranged), load_model(longest)


def test_the_declared_range_is_read_and_analysis_runs_at_the_longest_sequence(programs):
    from edge_sdk import analyze

    ranged, longest = programs
    assert [(s.shape, s.range_of(1)) for s in ranged.inputs] == [((1, None), (LOW, HIGH))] * 2
    a, b = analyze(ranged), analyze(longest)
    assert a.macs == b.macs > 0 and a.other_ops == b.other_ops
    assert a.peak_activation_elems == b.peak_activation_elems


def test_data_beyond_the_range_is_refused_naming_input_dim_and_range(programs):
    from edge_sdk.data import load_dataset
    from edge_sdk.errors import DataError

    ranged, _ = programs
    ok = load_dataset({"ids": np.ones((2, 100), np.int64), "mask": np.ones((2, 100), np.int64)}, ranged.inputs)
    assert len(ok) == 2
    with pytest.raises(DataError, match=r"input 'ids' has size 200 in dim 1; the model was exported for 4\.\.128"):
        load_dataset({"ids": np.ones((2, 200), np.int64), "mask": np.ones((2, 200), np.int64)}, ranged.inputs)


def test_the_pte_keeps_the_range_through_quantization_and_runs_every_length(programs, android, tmp_path):
    import torch

    from edge_sdk.formats.executorch.runner import load_method
    from edge_sdk.frameworks.torch.techniques.ptq import quantize

    ranged, _ = programs
    quantized, _ = quantize(ranged, None, mode="dynamic-int8")
    assert [s.range_of(1) for s in quantized.inputs] == [(LOW, HIGH)] * 2
    art = export_pte(quantized, android, tmp_path)
    assert art.details["inputs"][0] == {"name": "ids", "shape": [1, HIGH], "dtype": "int64", "ranges": {"1": [LOW, HIGH]}}
    method, eager = load_method(art.path), ranged.handle.module()
    for length in (LOW, 16, 100, HIGH):
        ids, mask = torch.randint(1, 50, (1, length)), torch.ones(1, length, dtype=torch.int64)
        got, want = method.execute([ids, mask])[0], eager(ids, mask)
        cosine = torch.nn.functional.cosine_similarity(got.flatten(), want.flatten(), dim=0)
        assert got.shape == want.shape and cosine > 0.99, (length, float(cosine))


def test_the_core_ml_package_takes_the_range(programs, tmp_path):
    from edge_sdk import get_profile
    from edge_sdk.formats import FORMATS, ExportConfig
    from edge_sdk.formats.coreml.weights import load_program

    ranged, _ = programs
    art = FORMATS.get("coreml")(ranged, get_profile("ios"), ExportConfig(precision="float16"), tmp_path)
    spec, _ = load_program(art.path)
    for feature in spec.description.input:
        bounds = feature.type.multiArrayType.shapeRange.sizeRanges
        assert [(b.lowerBound, b.upperBound) for b in bounds] == [(1, 1), (LOW, HIGH)], feature
