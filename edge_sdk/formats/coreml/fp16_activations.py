"""float16 activations in the Linux simulation of a float16 Core ML package.

Core ML runs a float16 package's activations in float16 on the device (GPU and Neural Engine): a value
beyond +-65504 becomes inf, and inf - inf or 0 * inf is NaN. The simulation (`runner.simulate`,
`runner_torch.simulate`) runs the original model with the package's weights; here every float
activation is rounded through float16 as it is produced, so such an overflow shows in the simulated
outputs (verification then fails on non-finite outputs, naming where it started in the task log) and
the fidelity includes float16 rounding of activations, not only of weights.

What is emulated: the output of every op (PyTorch: every node of the exported graph; Keras: every
layer) is stored as float16. Inside one op the arithmetic stays float32, as device kernels accumulate in
wider precision; a Keras layer that fuses several ops (a conv with its activation) is rounded once.
"""

from __future__ import annotations

import logging
from typing import Any

from edge_sdk import deps

log = logging.getLogger(__name__)


def torch_module(module: Any) -> Any:
    """A callable running `module` (an exported program's graph module) with float16 activations."""
    torch = deps.torch()

    class Float16Activations(torch.fx.Interpreter):
        overflow_named = False

        def run_node(self, node: Any) -> Any:
            result = super().run_node(node)
            rounded = torch.utils._pytree.tree_map(_through_float16, result)
            if not self.overflow_named and _finite(result) and not _finite(rounded):
                log.warning("float16 activations overflow at %s (%s): a value beyond +-65504", node.name, node.target)
                self.overflow_named = True
            return rounded

    def run(*inputs: Any) -> Any:
        return Float16Activations(module).run(*inputs)

    return run


def _through_float16(value: Any) -> Any:
    torch = deps.torch()
    if isinstance(value, torch.Tensor) and value.dtype == torch.float32:
        return value.to(torch.float16).to(torch.float32)
    return value


def _finite(value: Any) -> bool:
    torch = deps.torch()
    leaves = torch.utils._pytree.tree_leaves(value)
    return all(bool(torch.isfinite(t).all()) for t in leaves if isinstance(t, torch.Tensor) and t.is_floating_point())


def keras_model(model: Any) -> Any:
    """`model` (a clone the caller owns) with every layer's float32 outputs rounded through float16."""
    tf = deps.tensorflow()
    for layer in model._flatten_layers(include_self=False):
        layer.call = _rounding(layer.call, tf)
    return model


def _rounding(call: Any, tf: Any) -> Any:
    def rounded(*args: Any, **kwargs: Any) -> Any:
        out = call(*args, **kwargs)
        return tf.nest.map_structure(
            lambda t: tf.cast(tf.cast(t, tf.float16), tf.float32) if getattr(t, "dtype", None) == tf.float32 else t, out)

    return rounded
