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
    assert any("can overflow float16" in h and "not by" in h for h in hazards), (name, hazards)


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


@pytest.mark.parametrize("name, body", [
    ("division by the input", lambda x: mb.real_div(x=mb.tanh(x=x), y=x)),
    ("x / its norm without an epsilon", lambda x: mb.real_div(x=x, y=mb.reduce_l2_norm(x=x, axes=[-1], keep_dims=True))),
    ("rsqrt of a variance with an epsilon float16 flushes to 0",
     lambda x: mb.rsqrt(x=mb.reduce_mean(x=mb.mul(x=x, y=x), axes=[-1], keep_dims=True), epsilon=1e-12)),
    ("log of a relu", lambda x: mb.log(x=mb.relu(x=x))),
    ("sqrt of a tanh", lambda x: mb.sqrt(x=mb.tanh(x=x))),
    ("division by a sum of exps that can all underflow", lambda x: mb.real_div(
        x=x, y=mb.reduce_sum(x=mb.exp(x=mb.mul(x=mb.relu(x=x), y=-1.0)), axes=[-1], keep_dims=True))),
])
def test_an_argument_that_can_reach_zero_is_a_hazard(name, body):
    hazards = _hazards(body)
    assert hazards and all("inf or NaN" in h or "can be NaN" in h for h in hazards), (name, hazards)


@pytest.mark.parametrize("name, body", [
    ("F.normalize: x / max(norm, eps)", lambda x: mb.real_div(
        x=x, y=mb.maximum(x=mb.reduce_l2_norm(x=x, axes=[-1], keep_dims=True), y=6e-8))),
    ("RMS norm: rsqrt(mean(x * x) + eps)", lambda x: mb.mul(x=x, y=mb.rsqrt(
        x=mb.add(x=mb.reduce_mean(x=mb.mul(x=x, y=x), axes=[-1], keep_dims=True), y=1e-5)))),
    ("rsqrt of an even power plus its epsilon", lambda x: mb.rsqrt(x=mb.pow(x=x, y=2.0), epsilon=1e-3)),
    ("safe softmax by hand: exp(x - max) / sum", lambda x: mb.real_div(
        x=mb.exp(x=mb.sub(x=x, y=mb.reduce_max(x=x, axes=[-1], keep_dims=True))),
        y=mb.reduce_sum(x=mb.exp(x=mb.sub(x=x, y=mb.reduce_max(x=x, axes=[-1], keep_dims=True))), axes=[-1], keep_dims=True))),
    ("sqrt of an abs, log of a sigmoid plus 1", lambda x: mb.add(
        x=mb.sqrt(x=mb.abs(x=x)), y=mb.log(x=mb.add(x=mb.sigmoid(x=x), y=1.0)))),
    ("division by a constant", lambda x: mb.real_div(x=x, y=8.0)),
])
def test_an_argument_kept_away_from_zero_passes(name, body):
    assert _hazards(body) == [], name


@pytest.mark.parametrize("name, body, hazard", [
    ("a sigmoid scaled and shifted past 65504", lambda x: mb.add(x=mb.mul(x=mb.sigmoid(x=x), y=60000.0), y=60000.0), True),
    ("a tanh squared after scaling by 300", lambda x: mb.mul(x=mb.mul(x=mb.tanh(x=x), y=300.0), y=mb.mul(x=mb.tanh(x=x), y=300.0)), True),
    ("a tanh scaled by 100", lambda x: mb.mul(x=mb.tanh(x=x), y=100.0), False),
    ("an unbounded input scaled by 1000 (data-dependent: left to the simulation)", lambda x: mb.mul(x=x, y=1000.0), False),
])
def test_an_op_whose_bounded_inputs_can_still_overflow_is_a_hazard(name, body, hazard):
    hazards = _hazards(body)
    assert bool(hazards) == hazard and all("from its inputs' ranges" in h for h in hazards), (name, hazards)
