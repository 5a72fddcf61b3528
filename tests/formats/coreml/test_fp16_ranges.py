"""The static float16 check's range analysis: an exp is refused unless its input is provably at most
ln(65504) = 11.09, the point beyond which float16 overflows to inf (and a softmax to inf / inf = NaN)."""

from __future__ import annotations

import pytest

ct = pytest.importorskip("coremltools")

from coremltools.converters.mil.mil import Builder as mb  # noqa: E402

from edge_sdk.formats.coreml.fp16 import fp16_hazards  # noqa: E402


def _hazards(body) -> list[str]:
    @mb.program(input_specs=[mb.TensorSpec(shape=(1, 8))])
    def prog(x):
        return body(x)

    return fp16_hazards(prog)


@pytest.mark.parametrize("name, body", [
    ("softmax written as exp(x) / sum", lambda x: mb.real_div(x=mb.exp(x=x), y=mb.reduce_sum(x=mb.exp(x=x), axes=[-1], keep_dims=True))),
    ("exp of a tanh scaled past 11.09", lambda x: mb.exp(x=mb.mul(x=mb.tanh(x=x), y=20.0))),
    ("exp2 of a relu", lambda x: mb.exp2(x=mb.relu(x=x))),
    ("exp of x minus another tensor's max", lambda x: mb.exp(x=mb.sub(x=x, y=mb.reduce_max(x=mb.mul(x=x, y=0.5), axes=[-1], keep_dims=True)))),
])
def test_an_exp_with_an_unbounded_input_is_a_hazard(name, body):
    hazards = _hazards(body)
    assert hazards and all("can overflow float16" in h and "not by" in h for h in hazards), (name, hazards)


@pytest.mark.parametrize("name, body", [
    ("safe softmax: exp(x - max(x))", lambda x: mb.exp(x=mb.sub(x=x, y=mb.reduce_max(x=x, axes=[-1], keep_dims=True)))),
    ("max taken of a cast of x", lambda x: mb.exp(x=mb.sub(x=x, y=mb.reduce_max(x=mb.cast(x=x, dtype="fp32"), axes=[-1], keep_dims=True)))),
    ("exp of a sigmoid times 10", lambda x: mb.exp(x=mb.mul(x=mb.sigmoid(x=x), y=10.0))),
    ("exp of a clip at 5", lambda x: mb.exp(x=mb.clip(x=x, alpha=-100.0, beta=5.0))),
    ("exp of minus a relu", lambda x: mb.exp(x=mb.mul(x=mb.relu(x=x), y=-1.0))),
    ("exp2 of a tanh plus 14", lambda x: mb.exp2(x=mb.add(x=mb.tanh(x=x), y=14.0))),
])
def test_an_exp_whose_input_is_bounded_passes(name, body):
    assert _hazards(body) == [], name
