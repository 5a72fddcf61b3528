"""fp16 safety of a Core ML program: constants outside float16's range, clamped at conversion and
refused in verification.

Attention masks are written as `scores + (1 - mask) * torch.finfo(float32).min` or
`masked_fill(mask, -inf)`. At float16 compute precision that constant becomes -inf, and on a device
`0 * -inf` or `-inf - -inf` is NaN (a softmax row of NaN). The simulated verification on Linux runs
fp32 activations and would not see it, so the program itself is checked:

    clamp_pipeline()      coremltools' default pass pipeline with `edge_sdk::clamp_fp16_range` before its
                          fp16 cast: every float constant beyond +-65504 (inf included) becomes +-65504,
                          float16's largest finite value (a mask then still drives exp() to 0)
    fp16_hazards(program) the float constants of a saved program that float16 cannot hold (non-finite,
                          or finite beyond +-65504), named with the ops that read them
"""

from __future__ import annotations

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
    """One line per float constant of the program that float16 cannot hold, with the ops reading it."""
    found = []
    for function in program.functions.values():
        for _, op in _unsafe_consts(function):
            arr = np.asarray(op.outputs[0].val)
            worst = arr.flat[int(np.argmax(np.where(np.isnan(arr), np.inf, np.abs(arr))))]
            readers = sorted({f"{child.op_type} {child.name!r}" for child in op.outputs[0].child_ops})
            found.append(f"const {op.name!r} holds {worst} (beyond float16's +-65504), read by {', '.join(readers) or 'nothing'}")
    return found
