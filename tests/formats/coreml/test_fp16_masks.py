"""fp16 safety of Core ML packages: an attention-style mask written with float32's minimum (what
transformers' eager attention does) becomes -inf at float16 compute precision, and `0 * -inf` is NaN on
a device. The exporter clamps such constants to +-65504 before the fp16 cast; the structural check
refuses a package that still holds one."""

from __future__ import annotations

import numpy as np
import pytest

from edge_sdk.formats import FORMATS, ExportConfig
from edge_sdk.formats.coreml.fp16 import FP16_MAX, fp16_hazards
from edge_sdk.formats.coreml.weights import load_program
from edge_sdk.verify import verify

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def masked_scorer():
    """Scores of 8 tokens, masked where attention_mask is 0 with float32's minimum, then a softmax."""
    import torch

    from edge_sdk.model import load_model

    class MaskedScores(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = torch.nn.Linear(16, 1)

        def forward(self, x: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            scores = self.proj(x).squeeze(-1)
            scores = scores + (1.0 - attention_mask) * torch.finfo(torch.float32).min
            return torch.softmax(scores, dim=-1)

    torch.manual_seed(0)
    example = (torch.randn(1, 8, 16), torch.tensor([[1.0] * 5 + [0.0] * 3]))
    program = torch.export.export(MaskedScores().eval(), example)
    return load_model(program), example


def _program(package):
    return load_program(package)[1]


def test_fp16_export_clamps_the_mask_constant_and_passes_the_check(masked_scorer, tmp_path):
    from edge_sdk import get_profile

    model, _ = masked_scorer
    artifact = FORMATS.get("coreml")(model, get_profile("ios"), ExportConfig(precision="float16"), tmp_path)
    program = _program(artifact.path)
    assert fp16_hazards(program) == []
    consts = [np.asarray(op.outputs[0].val) for op in program.functions["main"].operations if op.op_type == "const"]
    assert any(c.dtype.kind == "f" and c.size and float(c.min()) == -FP16_MAX for c in consts)  # the mask, clamped


def test_the_check_names_a_constant_float16_cannot_hold(masked_scorer, tmp_path):
    """The same program converted by coremltools without the clamp: the check names the constant (now
    -inf in float16) and the op reading it, and verification fails on it."""
    import coremltools as ct

    from edge_sdk import get_profile
    from edge_sdk.formats.coreml.exporter import deterministic_manifest
    from edge_sdk.formats.common.atomic import make_artifact
    from edge_sdk.data import Dataset

    model, example = masked_scorer
    raw = ct.convert(model.handle.run_decompositions({}), convert_to="mlprogram",
                     minimum_deployment_target=ct.target.iOS17, compute_precision=ct.precision.FLOAT16)
    package = tmp_path / "model.mlpackage"
    raw.save(str(package))
    deterministic_manifest(package)
    (hazard,) = fp16_hazards(_program(package))
    assert "-inf" in hazard and "beyond float16" in hazard and "read by" in hazard, hazard
    artifact = make_artifact("coreml", package, [package], "float16", ("coremltools",), {"compute_precision": "float16"})
    data = Dataset(inputs={"x": example[0].numpy(), "attention_mask": example[1].numpy()}, labels=None, source="test")
    v = verify(artifact, model, data)
    assert not v.passed and "beyond float16" in v.reason


def _overflowing_torch_model():
    """(x * 300)^2 / 1e5: fine in float32, but the square is beyond float16's range for |x| > 0.85."""
    import torch

    from edge_sdk.model import load_model

    class Squares(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = torch.nn.Linear(8, 8)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return (self.proj(x) * 300.0) ** 2 / 1e5

    torch.manual_seed(0)
    return load_model(torch.export.export(Squares().eval(), (torch.randn(1, 8),)))


@pytest.mark.parametrize("precision, passes", [("float16", False), ("float32", True)])
def test_simulated_verification_runs_float16_activations_and_fails_on_their_overflow(precision, passes, tmp_path, caplog):
    """Weights alone are in range; only the float16 activations overflow. The simulation rounds every
    op's output through float16, so verification fails here as the device would, and names the op."""
    from edge_sdk import get_profile
    from edge_sdk.data import Dataset

    model = _overflowing_torch_model()
    artifact = FORMATS.get("coreml")(model, get_profile("ios"), ExportConfig(precision=precision), tmp_path)
    assert fp16_hazards(_program(artifact.path)) == []
    x = np.random.default_rng(0).standard_normal((16, 8)).astype(np.float32) * 3
    with caplog.at_level("WARNING", logger="edge_sdk.formats.coreml.fp16_activations"):
        v = verify(artifact, model, Dataset(inputs={"x": x}, labels=None, source="test"))
    assert v.method == "simulated" and v.passed is passes, v.reason
    if not passes:
        assert "non-finite values where the reference's are finite" in v.reason
        assert "float16 activations overflow at pow" in caplog.text or "overflow at" in caplog.text, caplog.text


def test_keras_layers_run_float16_activations_in_the_simulation(tmp_path):
    """The Keras simulation rounds each layer's output through float16: a Dense whose outputs reach 1e5
    overflows (verification fails); scaled into range it passes with float16-sized errors."""
    from edge_sdk import get_profile
    from edge_sdk.data import Dataset
    from edge_sdk.deps import tf_keras
    from edge_sdk.model import load_model

    keras = tf_keras()
    x = np.random.default_rng(0).uniform(50, 100, (16, 4)).astype(np.float32)
    results = {}
    for gain in (1000.0, 10.0):  # hidden values up to 4e5 (beyond float16) or 4e3 (within)
        inp = keras.Input((4,), name="x")
        hidden = keras.layers.Dense(4, kernel_initializer=keras.initializers.Constant(gain), bias_initializer="ones",
                                    name="big")(inp)
        out = keras.layers.Dense(3, kernel_initializer=keras.initializers.Constant(1.0 / gain),
                                 bias_initializer="ones", name="small")(hidden)
        model = load_model(keras.Model(inp, out))
        artifact = FORMATS.get("coreml")(model, get_profile("ios"), ExportConfig(precision="float16"), tmp_path / str(gain))
        results[gain] = verify(artifact, model, Dataset(inputs={"x": x}, labels=None, source="test"))
    assert not results[1000.0].passed and "non-finite" in results[1000.0].reason
    assert results[10.0].passed and 0 < results[10.0].fidelity.max_abs_error < 1.0, results[10.0].fidelity


@pytest.mark.parametrize("safe", [False, True])
def test_a_hand_written_softmax_is_refused_at_float16_unless_it_subtracts_the_maximum(safe, tmp_path):
    """exp(s) / sum(exp(s)) is exact in float32 but inf / inf = NaN in float16 once a score passes 11.09;
    the static check refuses the package before any data runs, naming the exp. Written the safe way
    (exp(s - max(s))) the same model passes."""
    import torch

    from edge_sdk import get_profile
    from edge_sdk.data import Dataset
    from edge_sdk.model import load_model

    class HandSoftmax(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = torch.nn.Linear(8, 8)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            s = self.proj(x)
            e = torch.exp(s - s.amax(-1, keepdim=True)) if safe else torch.exp(s)
            return e / e.sum(-1, keepdim=True)

    torch.manual_seed(0)
    model = load_model(torch.export.export(HandSoftmax().eval(), (torch.randn(1, 8),)))
    artifact = FORMATS.get("coreml")(model, get_profile("ios"), ExportConfig(precision="float16"), tmp_path)
    x = np.random.default_rng(0).standard_normal((16, 8)).astype(np.float32)
    v = verify(artifact, model, Dataset(inputs={"x": x}, labels=None, source="test"))
    assert v.passed is safe, v.reason
    if not safe:
        assert "exp 'exp" in v.reason and "can overflow float16" in v.reason, v.reason
