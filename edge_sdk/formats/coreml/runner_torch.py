"""Simulated Core ML verification of a PyTorch model on Linux (coremltools converts here but cannot
predict): the weights stored in the .mlpackage are decompressed (coremltools.optimize.coreml.
decompress_weights undoes linear quantization / palettization / sparsity) and loaded into the torch
program, which then runs eagerly (a float16 package with every op's output rounded through float16,
fp16_activations.py). That measures what weight compression and float16 activations do to the outputs;
it does not exercise Core ML's kernels, so the method is `simulated`.

Weights are matched by name (`p_<param path>`, plus a compression suffix). A conv whose batch norm
the converter folded into it loses its name; those convs are paired in program order with the
package's unnamed convs, get the folded weight and bias, and their batch norm is made the identity.
Anything still unmatched keeps the program's values and is listed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk import deps
from edge_sdk.frameworks.torch.graph import module_copy
from edge_sdk.frameworks.torch.reference import predict
from edge_sdk.contracts.model import LoadedModel


def package_weights(mlpackage: Path) -> tuple[dict[str, np.ndarray], list[tuple[np.ndarray, np.ndarray | None]]]:
    """(MIL const name -> decompressed float weight, [(weight, bias) of convs whose weight lost its name]).

    The walk is coremltools' `get_weights_metadata` without its failure on an op that also takes a list
    of values (a ViT's `concat` of its class token const and the patches: `'list' object has no
    attribute 'val'`)."""
    ct = deps.coremltools()
    from coremltools.converters.mil.frontend.milproto import load as milproto
    from coremltools.models.utils import _convert_model_spec_to_pymil_prog
    from coremltools.optimize.coreml import decompress_weights

    mlmodel = decompress_weights(ct.models.MLModel(str(mlpackage), skip_model_load=True))
    program = _convert_model_spec_to_pymil_prog(mlmodel, mlmodel.get_spec().specificationVersion, milproto.load)
    consts = [op for function in program.functions.values() for op in _operations(function) if op.op_type == "const"]
    weights = {op.name: np.asarray(op.val.val) for op in consts if isinstance(op.val.val, np.ndarray) and op.val.val.size}
    fused = []
    for function in program.functions.values():
        for op in _operations(function):
            weight = op.inputs.get("weight") if op.op_type == "conv" else None
            if weight is None or weight.op is None or weight.op.name not in weights or weight.op.name.startswith("p_"):
                continue
            bias = op.inputs.get("bias")
            fused.append((weights[weight.op.name], weights.get(bias.op.name) if bias is not None and bias.op is not None else None))
    return weights, fused


def _operations(block: Any) -> Any:
    """Every op of a block, nested blocks' first (as coremltools walks them)."""
    for op in block.operations:
        for inner in op.blocks:
            yield from _operations(inner)
        yield op


def _fold_into(module: Any, node: Any, weight: np.ndarray, bias: np.ndarray | None) -> bool:
    """Give a conv the package's folded weight/bias and make its following batch norm the identity."""
    torch = deps.torch()
    norms = [u for u in node.users if "batch_norm" in str(u.target)]
    conv_w = module.get_parameter(node.args[1].target)
    if len(norms) != 1 or tuple(conv_w.shape) != weight.shape or bias is None or len(node.args) < 3 or node.args[2] is None:
        return False
    bn = norms[0]
    with torch.no_grad():
        conv_w.copy_(torch.from_numpy(weight.astype(np.float32)))
        module.get_parameter(node.args[2].target).copy_(torch.from_numpy(bias.astype(np.float32)))
        gamma, beta, mean, var = (module.get_parameter(a.target) if a.target in dict(module.named_parameters())
                                  else module.get_buffer(a.target) for a in bn.args[1:5])
        eps = float(bn.args[7]) if len(bn.args) > 7 else 1e-5
        gamma.fill_(1.0), beta.fill_(0.0), mean.fill_(0.0), var.fill_(1.0 - eps)
    return True


def _match(weights: dict[str, np.ndarray], base: str, shape: tuple) -> np.ndarray | None:
    """The package weight named `base`, or `base_<compression>` (compression passes rename consts)."""
    names = sorted((n for n in weights if (n == base or n.startswith(base + "_")) and weights[n].shape == shape), key=len)
    return weights[names[0]] if names else None


def _bn_of(module: Any, conv_path: str) -> str | None:
    """Module path of the batch norm that follows the conv at `conv_path` (its weight's owner)."""
    for n in module.graph.nodes:
        if n.op == "call_function" and "batch_norm" in str(n.target):
            src = n.args[0]
            if getattr(getattr(src, "args", [None, None])[1], "target", "").startswith(conv_path + "."):
                return n.args[1].target.rsplit(".", 1)[0]
    return None


def substituted_module(mlpackage: Path, model: LoadedModel) -> tuple[Any, dict[str, Any]]:
    """The program's module with every parameter found in the package replaced by the package's values."""
    torch = deps.torch()
    weights, fused = package_weights(mlpackage)
    module = module_copy(model)
    used, kept = [], []
    with torch.no_grad():
        for fqn, param in module.named_parameters():
            arr = _match(weights, "p_" + fqn.replace(".", "_"), tuple(param.shape))
            if arr is not None:
                param.copy_(torch.from_numpy(arr.astype(np.float32)))
                used.append(fqn)
            else:
                kept.append(fqn)
    unnamed = [n for n in module.graph.nodes if n.op == "call_function" and "conv" in str(n.target)
               and getattr(n.args[1], "target", None) in kept]
    folded = []
    for node, (weight, bias) in zip(unnamed, fused):
        if _fold_into(module, node, weight, bias):
            folded.append(node.args[1].target.rsplit(".", 1)[0])
    folded_params = {p for p in kept for c in folded if p.startswith(c + ".")}
    bn_params = {p for p in kept if any(p.rsplit(".", 1)[0] == _bn_of(module, c) for c in folded)}
    kept = [p for p in kept if p not in folded_params | bn_params]
    return module, {"params_from_package": len(used) + len(folded_params), "convs_with_folded_batch_norm": folded,
                    "params_kept_from_program": kept}


def simulate(mlpackage: Path, model: LoadedModel, inputs: dict[str, np.ndarray],
             float16_activations: bool = False) -> tuple[list[np.ndarray], dict[str, Any]]:
    """(outputs of the torch program running the package's decompressed weights, what was substituted);
    with `float16_activations`, every op's output rounded through float16 (fp16_activations.py)."""
    from edge_sdk.formats.coreml import fp16_activations
    from edge_sdk.frameworks.torch.reference import example_batch

    module, info = substituted_module(mlpackage, model)
    fn = fp16_activations.torch_module(module) if float16_activations else module
    return predict(fn, list(inputs.values()), example_batch(model)), info
