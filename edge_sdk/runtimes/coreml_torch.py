"""Simulated Core ML verification of a PyTorch model on Linux (coremltools converts here but cannot
predict): the weights stored in the .mlpackage are decompressed (coremltools.optimize.coreml.
decompress_weights undoes linear quantization / palettization / sparsity) and loaded into the torch
program, which then runs eagerly. That measures what weight compression did to the outputs; it does
not exercise Core ML's kernels or float16 compute, so the method is `simulated`.

Weights the converter fused into others (e.g. a batch norm folded into its conv) have no counterpart
of the same name and shape in the package; they keep the program's values and are listed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk import frameworks
from edge_sdk.model.torch import predict
from edge_sdk.model.types import LoadedModel


def package_weights(mlpackage: Path) -> dict[str, np.ndarray]:
    """MIL const name -> decompressed float weight of every weight in the package."""
    ct = frameworks.coremltools()
    from coremltools.optimize.coreml import decompress_weights, get_weights_metadata

    mlmodel = ct.models.MLModel(str(mlpackage), skip_model_load=True)
    meta = get_weights_metadata(decompress_weights(mlmodel), weight_threshold=0)
    return {name: np.asarray(m.val) for name, m in meta.items()}


def _match(weights: dict[str, np.ndarray], base: str, shape: tuple) -> np.ndarray | None:
    """The package weight named `base`, or `base_<compression>` (compression passes rename consts)."""
    names = sorted((n for n in weights if (n == base or n.startswith(base + "_")) and weights[n].shape == shape), key=len)
    return weights[names[0]] if names else None


def substituted_module(mlpackage: Path, model: LoadedModel) -> tuple[Any, dict[str, Any]]:
    """The program's module with every parameter found in the package replaced by the package's values."""
    torch = frameworks.torch()
    weights = package_weights(mlpackage)
    module = model.handle.module()
    used, kept = [], []
    with torch.no_grad():
        for fqn, param in module.named_parameters():
            arr = _match(weights, "p_" + fqn.replace(".", "_"), tuple(param.shape))
            if arr is not None:
                param.copy_(torch.from_numpy(arr.astype(np.float32)))
                used.append(fqn)
            else:
                kept.append(fqn)
    return module, {"params_from_package": len(used), "params_kept_from_program": kept}


def simulate(mlpackage: Path, model: LoadedModel, inputs: dict[str, np.ndarray]) -> tuple[list[np.ndarray], dict[str, Any]]:
    """(outputs of the torch program running the package's decompressed weights, what was substituted)."""
    from edge_sdk.model.torch import example_batch

    module, info = substituted_module(mlpackage, model)
    return predict(module, list(inputs.values()), example_batch(model)), info
