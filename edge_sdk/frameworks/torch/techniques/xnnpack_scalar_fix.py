"""ExecuTorch's XNNPACKQuantizer with the scalar-lifting fix of pytorch/executorch#22065 (issue #22062),
which executorch 1.5.1 does not have yet.

Why: before annotating, the quantizer lifts every scalar argument of `aten.add`/`aten.mul` to a buffer
made with `torch.tensor(float(arg))`, always float32. In transformers' attention-mask and position-id
arithmetic (`x[:, torch.arange(n) + 0]`) that turns an int64 index chain into float32, and running the
prepared model fails with `IndexError: tensors used as indices must be long, int, byte or bool
tensors`: every PTQ, QAT and dynamic-int8 rung of a BERT-style encoder exited 1. The fix makes the
constant with the node's own output dtype; float graphs are unchanged. Drop this module once the
pinned executorch includes #22065.
"""

from __future__ import annotations

from typing import Any

from edge_sdk import deps


def _lift_scalars_keeping_dtype(model: Any) -> Any:
    torch = deps.torch()
    from torchao.quantization.pt2e.utils import get_new_attr_name_with_prefix

    for node in model.graph.nodes:
        if node.op != "call_function" or node.target not in (torch.ops.aten.add.Tensor, torch.ops.aten.mul.Tensor):
            continue
        args = []
        for arg in node.args:
            if isinstance(arg, torch.fx.Node):
                args.append(arg)
                continue
            name = get_new_attr_name_with_prefix("_tensor_constant_")(model)
            constant = torch.tensor(arg, dtype=node.meta["val"].dtype)
            model.register_buffer(name, constant)
            with model.graph.inserting_before(node):
                attr = model.graph.create_node("get_attr", name, (), {})
                attr.meta["val"] = node.meta["val"].fake_mode.from_tensor(constant, static_shapes=True)
            args.append(attr)
        node.args = tuple(args)
    model.recompile()
    return model


def xnnpack_quantizer_class() -> type:
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import XNNPACKQuantizer

    class DtypeKeepingXNNPACKQuantizer(XNNPACKQuantizer):
        def transform_for_annotation(self, model: Any) -> Any:
            return _lift_scalars_keeping_dtype(model)

    return DtypeKeepingXNNPACKQuantizer
