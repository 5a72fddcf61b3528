"""fp16 safety of a Core ML program: constants outside float16's range (clamped at conversion), exps
that can overflow and divisions, rsqrts or logs that can meet 0, all refused in verification.

Attention masks are written as `scores + (1 - mask) * torch.finfo(float32).min` or
`masked_fill(mask, -inf)`. At float16 compute precision that constant becomes -inf, and on a device
`0 * -inf` or `-inf - -inf` is NaN (a softmax row of NaN). The simulated verification on Linux runs
fp32 activations and would not see it, so the program itself is checked:

    clamp_pipeline()      coremltools' default pass pipeline with `edge_sdk::clamp_fp16_range` before its
                          fp16 cast: every float constant beyond +-65504 (inf included) becomes +-65504,
                          float16's largest finite value (a mask then still drives exp() to 0)
    fp16_hazards(program) the float constants of a saved program that float16 cannot hold (non-finite,
                          or finite beyond +-65504), named with the ops that read them; and every op
                          whose result a sound range analysis cannot keep finite in float16:
                          - an exp whose input is not bounded by ln(65504) = 11.09 (a softmax written as
                            exp(x) / sum(exp(x)) overflows to inf / inf = NaN; exp(x - max(x)), sigmoid,
                            tanh or a clip bound it and pass);
                          - a division, rsqrt, inverse or log whose argument can be 0 once float16
                            rounds it (an epsilon of 1e-12 is 0 there; x / x.norm() of a zero row is
                            0 / 0), and a sqrt of a possibly negative value. F.normalize (a maximum with
                            its epsilon, which coremltools keeps as float16's smallest value),
                            sum(exp(x - max(x))) >= 1 and sqrt(mean(x * x) + eps) pass;
                          - any op whose inputs all have finite bounds but whose result can pass
                            +-65504 (a sigmoid scaled by 60000 plus 60000).

Overflow that depends on the data (a matmul of unbounded activations, a large reduction) is not
decidable from the program with useful bounds; it shows in the simulated verification, which rounds
every activation through float16 (`fp16_activations.py`).
"""

from __future__ import annotations

import math
from typing import Any, Iterator

import numpy as np

from edge_sdk import deps

FP16_MAX = float(np.finfo(np.float16).max)  # 65504
PASS_NAME = "edge_sdk::clamp_fp16_range"
_FP16_CAST = "common::add_fp16_cast"


def _out_of_range(value: Any) -> bool:
    arr = np.asarray(value)
    return arr.dtype.kind == "f" and arr.size > 0 and not bool((np.abs(arr) <= FP16_MAX).all())


def _clamped(value: Any) -> Any:
    arr = np.asarray(value)
    clipped = np.clip(arr, -FP16_MAX, FP16_MAX).astype(arr.dtype)  # NaN stays NaN: fp16_hazards reports it
    return clipped if isinstance(value, np.ndarray) else arr.dtype.type(clipped)


def _unsafe_consts(block: Any) -> Iterator[tuple[Any, Any]]:
    """(block, const op) for every float const float16 cannot hold, nested blocks included."""
    for op in list(block.operations):
        for inner in op.blocks:
            yield from _unsafe_consts(inner)
        if op.op_type == "const" and _out_of_range(op.outputs[0].val):
            yield block, op


def _clamp(function: Any, mb: Any) -> None:
    """Replace every out-of-range float const by its clamped value."""
    for block, op in list(_unsafe_consts(function)):
        with block:
            new = mb.const(val=_clamped(op.outputs[0].val), before_op=op, name=op.name + "_fp16_clamped")
        block.replace_uses_of_var_after_op(anchor_op=op, old_var=op.outputs[0], new_var=new)
        block.remove_ops([op])


def _register() -> None:
    registry = deps.module("coremltools.converters.mil.mil.passes.pass_registry")
    if PASS_NAME in registry.PASS_REGISTRY:
        return
    mb = deps.module("coremltools.converters.mil.mil").Builder
    base = deps.module("coremltools.converters.mil.mil.passes.graph_pass").AbstractGraphPass

    class clamp_fp16_range(base):  # noqa: N801 - coremltools registers passes by class name
        def apply(self, prog: Any) -> None:
            for function in prog.functions.values():
                _clamp(function, mb)

    registry.register_pass(namespace="edge_sdk")(clamp_fp16_range)


def clamp_pipeline() -> Any:
    """coremltools' default pipeline with the clamp right before the fp16 cast (for FLOAT16 converts)."""
    ct = deps.coremltools()
    _register()
    pipeline = ct.PassPipeline.DEFAULT
    pipeline.insert_pass(pipeline.passes.index(_FP16_CAST), PASS_NAME)
    return pipeline


def fp16_hazards(program: Any) -> list[str]:
    """One line per float constant of the program that float16 cannot hold, with the ops reading it,
    and per op whose float16 result can be inf or NaN (`_hazard`)."""
    found = []
    for function in program.functions.values():
        for _, op in _unsafe_consts(function):
            arr = np.asarray(op.outputs[0].val)
            worst = arr.flat[int(np.argmax(np.where(np.isnan(arr), np.inf, np.abs(arr))))]
            readers = sorted({f"{child.op_type} {child.name!r}" for child in op.outputs[0].child_ops})
            found.append(f"const {op.name!r} holds {worst} (beyond float16's +-65504), read by {', '.join(readers) or 'nothing'}")
        found += _range_hazards(function)
    return found


# --- ops whose float16 result can be inf or NaN, found by a sound range analysis ------------------------

EXP_LIMITS = {"exp": math.log(FP16_MAX), "exp2": math.log2(FP16_MAX)}  # 11.09, 16.0: beyond, exp(x) > 65504
FP16_SMALLEST = float(np.float16(2.0 ** -24))  # 6e-8: below it a value (an epsilon, exp(-17)) is 0 in float16
_UNKNOWN = (-math.inf, math.inf)
_FIXED = {  # op type -> its output's range, whatever the input
    "sigmoid": (0.0, 1.0), "softmax": (0.0, 1.0), "hard_sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0),
    "erf": (-1.0, 1.0), "sin": (-1.0, 1.0), "cos": (-1.0, 1.0), "relu6": (0.0, 6.0), "log_softmax": (-math.inf, 0.0),
    "reduce_l2_norm": (0.0, math.inf), "reduce_sum_square": (0.0, math.inf), "softplus": (0.0, math.inf),
}
_SAME = {"cast", "identity", "reshape", "transpose", "expand_dims", "squeeze", "slice_by_index", "slice_by_size",
         "tile", "reduce_max", "reduce_min", "reduce_mean", "gather", "gather_along_axis", "pad", "split"}
_ZERO_ARGUMENT = {"real_div": "y", "rsqrt": "x", "inverse": "x", "log": "x"}  # inf or NaN at 0 (log: below too)


def _source(var: Any) -> Any:
    """The var before any cast / identity (a max taken of the cast input is still the max of the input)."""
    while var.op is not None and var.op.op_type in ("cast", "identity"):
        var = var.op.inputs["x"]
    return var


def _is_shifted_by_own_max(op: Any) -> bool:
    """`op` is x - reduce_max(x): every value <= 0 and, along the reduced axes, one of them 0."""
    y = op.inputs.get("y") if op.op_type == "sub" else None
    return y is not None and y.op is not None and y.op.op_type == "reduce_max" \
        and _source(y.op.inputs["x"]) is _source(op.inputs["x"])


def _is_safe_softmax_sum(op: Any) -> bool:
    """`op` is reduce_sum(exp(x - max(x))): one term is exp(0) = 1, so the sum is at least 1."""
    x = _source(op.inputs["x"])
    return x.op is not None and x.op.op_type == "exp" and _source(x.op.inputs["x"]).op is not None \
        and _is_shifted_by_own_max(_source(x.op.inputs["x"]).op)


def _fp16(value: float) -> float:
    """`value` as float16 holds it (an epsilon of 1e-12 is 0 there)."""
    return float(np.float16(value)) if math.isfinite(value) else value


def _epsilon(op: Any) -> float:
    eps = op.inputs.get("epsilon")
    return _fp16(float(eps.val)) if eps is not None and eps.val is not None else 0.0


def _product(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    ends = [x * y for x in a for y in b if not ((x == 0 and math.isinf(y)) or (y == 0 and math.isinf(x)))]
    if len(ends) < 4:  # 0 * inf: the bound is unknown
        return _UNKNOWN
    return min(ends), max(ends)


def _power(base: float, exponent: float) -> float:
    try:
        return base ** exponent
    except OverflowError:
        return math.inf


def _reciprocal(r: tuple[float, float]) -> tuple[float, float]:
    """1 / r for an interval that excludes 0; unknown otherwise."""
    lo, hi = r
    if lo > 0 or hi < 0:
        return (1.0 / hi if hi else -math.inf, 1.0 / lo if lo else math.inf)
    return _UNKNOWN


def _range_of(op: Any, ranges: dict[str, tuple[float, float]]) -> tuple[float, float]:
    """An interval holding every value `op` can output, from its inputs' intervals (sound, not tight:
    anything not modelled is unbounded)."""
    kind, ins = op.op_type, op.inputs
    r = {name: ranges.get(var.name, _UNKNOWN) for name, var in ins.items() if not isinstance(var, (list, tuple))}
    if kind == "const":
        arr = np.asarray(op.outputs[0].val)
        return (float(arr.min()), float(arr.max())) if arr.dtype.kind in "fiub" and arr.size else _UNKNOWN
    if kind in _FIXED:
        return _FIXED[kind]
    if _is_shifted_by_own_max(op):
        return (-math.inf, 0.0)  # what a numerically safe softmax feeds exp
    if kind in _SAME and "x" in r:
        return r["x"]
    if kind == "relu":
        return (0.0, max(0.0, r["x"][1]))
    if kind == "clip":
        return (max(r["x"][0], r["alpha"][0]), min(r["x"][1], r["beta"][1]))
    if kind == "add":
        return (r["x"][0] + r["y"][0], r["x"][1] + r["y"][1])
    if kind == "sub":
        return (r["x"][0] - r["y"][1], r["x"][1] - r["y"][0])
    if kind == "mul" and _source(ins["x"]) is _source(ins["y"]):
        return (0.0, max(r["x"][0] ** 2, r["x"][1] ** 2))
    if kind == "mul":
        return _product(r["x"], r["y"])
    if kind == "real_div":
        return _product(r["x"], _reciprocal(r["y"]))
    if kind == "pow" and ins["y"].val is not None and np.size(ins["y"].val) == 1 \
            and float(ins["y"].val) % 2 == 0 and float(ins["y"].val) > 0:
        return (0.0, max(abs(r["x"][0]), abs(r["x"][1])) ** float(ins["y"].val))  # an even power
    if kind == "abs":
        return (0.0, max(abs(r["x"][0]), abs(r["x"][1])))
    if kind in ("exp", "exp2"):
        low, high = (_power(math.e if kind == "exp" else 2.0, end) for end in r["x"])
        return (low if low >= FP16_SMALLEST else 0.0, high)  # float16 holds nothing positive below FP16_SMALLEST
    if kind == "sqrt":
        return (math.sqrt(max(r["x"][0], 0.0)), math.sqrt(r["x"][1]) if r["x"][1] >= 0 else 0.0)
    if kind == "rsqrt":
        return _reciprocal((math.sqrt(max(r["x"][0] + _epsilon(op), 0.0)), math.sqrt(max(r["x"][1] + _epsilon(op), 0.0))))
    if kind == "reduce_sum" and _is_safe_softmax_sum(op):
        return (1.0, math.inf)
    if kind == "reduce_sum":
        return (0.0 if r["x"][0] >= 0 else -math.inf, 0.0 if r["x"][1] <= 0 else math.inf)  # sign only
    if kind == "minimum":
        return (min(r["x"][0], r["y"][0]), min(r["x"][1], r["y"][1]))
    if kind == "maximum":
        return (max(r["x"][0], r["y"][0]), max(r["x"][1], r["y"][1]))
    if kind == "concat":
        parts = [ranges.get(v.name, _UNKNOWN) for v in ins["values"]]
        return (min(p[0] for p in parts), max(p[1] for p in parts))
    return _UNKNOWN


def _hazard(op: Any, ranges: dict[str, tuple[float, float]]) -> str | None:
    """Why `op` can give inf or NaN in float16, or None: an exp past float16's range, or a division,
    rsqrt or log whose argument can reach 0 (sqrt: go below 0)."""
    kind = op.op_type
    if kind in EXP_LIMITS:
        upper = ranges.get(op.inputs["x"].name, _UNKNOWN)[1]
        if upper > EXP_LIMITS[kind]:
            return (f"{kind} {op.name!r} can overflow float16: its input is bounded above by {upper}, not by "
                    f"{EXP_LIMITS[kind]:.2f}; subtract the maximum first (x - x.amax(dim, keepdim=True)) or use softmax")
        return None
    if kind == "sqrt":
        lo = ranges.get(op.inputs["x"].name, _UNKNOWN)[0]
        if lo < 0:
            return (f"sqrt {op.name!r} can be NaN in float16: its input is bounded below by {lo}, not by 0; "
                    "take it of a square or an abs, or clamp it at 0")
        return None
    bounded = _overflow_within_bounds(op, ranges)
    if bounded is not None:
        return bounded
    if kind in _ZERO_ARGUMENT:
        arg = op.inputs[_ZERO_ARGUMENT[kind]]
        lo, hi = ranges.get(arg.name, _UNKNOWN)
        lo, hi = lo + _epsilon(op), hi + _epsilon(op)
        if lo <= 0 <= hi or (kind == "log" and lo <= 0):
            return (f"{kind} {op.name!r} can be inf or NaN in float16: its {'divisor' if kind == 'real_div' else 'input'} "
                    f"{arg.name!r} ranges over [{lo}, {hi}], which holds 0; clamp it away from 0 with an epsilon "
                    f"float16 keeps (>= {FP16_SMALLEST:.1e}: y.clamp_min(1e-6)) or use the fused op (softmax, layer_norm, "
                    "F.normalize)")
    return None


def _overflow_within_bounds(op: Any, ranges: dict[str, tuple[float, float]]) -> str | None:
    """An op whose inputs all have finite bounds but whose result can pass +-65504 (a sigmoid scaled by
    1e6, a square of a value bounded by 300). Where an input is unbounded (data-dependent), overflow is
    left to the simulated float16 activations, which see the real values."""
    if op.op_type == "const" or not op.outputs:
        return None
    inputs = [v for v in op.inputs.values() if not isinstance(v, (list, tuple))]
    if not inputs or not all(all(math.isfinite(end) for end in ranges.get(v.name, _UNKNOWN)) for v in inputs):
        return None
    lo, hi = ranges.get(op.outputs[0].name, _UNKNOWN)
    worst = max(abs(lo), abs(hi))
    if worst <= FP16_MAX or not math.isfinite(worst):  # unbounded: what the analysis does not model
        return None
    return (f"{op.op_type} {op.name!r} can overflow float16: from its inputs' ranges its result reaches {worst:.4g}, "
            "beyond +-65504; scale it down before this op (or keep the model at float32 precision)")


def _range_hazards(function: Any) -> Iterator[str]:
    """A line for every op of `function` whose float16 result can be inf or NaN (`_hazard`)."""
    ranges: dict[str, tuple[float, float]] = {}
    for op in function.operations:  # topological order; nested blocks' values stay unknown
        bounds = _range_of(op, ranges)
        for out in op.outputs:
            ranges[out.name] = bounds
        why = _hazard(op, ranges)
        if why:
            yield why
