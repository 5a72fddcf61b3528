"""Core ML conversion of a PyTorch program through the coremltools torch frontend (torch.export path).

    convert(model, profile, config) -> coremltools MLModel   (exporter.py saves it and applies
                                                              coremltools.optimize weight compression)

The program is re-exported at its deploy batch (1 when the batch is dynamic), brought to the ATen ops
coremltools' torch frontend converts (`for_coremltools`), and converted as an ML program with the
profile's deployment target. pt2e-quantized programs (ptq / qat) are refused: Core ML
compression is coremltools.optimize's job, so convert the float model and pick `coreml_compression`.
"""

from __future__ import annotations

from typing import Any

from edge_sdk import deps
from edge_sdk.errors import ConfigError
from edge_sdk.formats.base import ExportConfig, export_errors
from edge_sdk.formats.coreml.exporter import enum_value, pass_pipeline
from edge_sdk.formats.coreml.interface import Interface, convert_arguments
from edge_sdk.frameworks.torch.graph import deploy_example, is_quantized, reexport
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.profiles import Profile

DEFAULT_TARGET = "iOS17"


def deployment_target(profile: Profile) -> Any:
    """The profile's minimum iOS (runtime.constraints.minimum_deployment_target), else iOS17."""
    ct = deps.coremltools()
    constraints = getattr(profile.runtime, "constraints", None) or {}
    name = constraints.get("minimum_deployment_target", DEFAULT_TARGET) if isinstance(constraints, dict) else DEFAULT_TARGET
    return enum_value(ct, "target", str(name), "minimum_deployment_target", profile)


def _register_alias(registry: Any, mb: Any) -> None:
    """`aten.alias` (an identity view, e.g. in transformers' BERT exports) has no coremltools converter."""
    if "alias" in registry._TORCH_OPS_REGISTRY:
        return

    def alias(context: Any, node: Any) -> None:
        context.add(mb.identity(x=context[node.inputs[0]], name=node.name))

    registry.register_torch_op(alias)


def for_coremltools(program: Any) -> Any:
    """The program in ops coremltools converts: `run_decompositions` with torch's default decomposition
    of exactly the ops coremltools has no converter for (transformers' `new_ones`: "Unsupported fx node
    new_ones"). Everything else stays as exported: sdpa stays one op, which coremltools lowers per
    deployment target (matmul and softmax below iOS18, its fused op from iOS18), and conv/linear keep
    the names the Linux simulation maps weights back by."""
    torch = deps.torch()
    registry = deps.module("coremltools.converters.mil.frontend.torch.torch_op_registry")
    sanitize = deps.module("coremltools.converters.mil.frontend.torch.utils").sanitize_op_kind
    _register_alias(registry, deps.module("coremltools.converters.mil.mil").Builder)
    defaults = torch.export.default_decompositions()
    missing = {
        node.target for node in program.graph.nodes
        if node.op == "call_function" and hasattr(node.target, "name") and node.target in defaults
        and sanitize(node.target.name()) not in registry._TORCH_OPS_REGISTRY
    }
    return program.run_decompositions({op: defaults[op] for op in missing})


def convert(model: LoadedModel, profile: Profile, config: ExportConfig, interface: Interface = Interface()) -> Any:
    if model.framework != "torch":
        raise ConfigError(f"coreml_torch converts PyTorch programs; got a {model.framework} model")
    if is_quantized(model.handle):
        raise ConfigError(
            "a pt2e-quantized program (ptq/qat) cannot go to Core ML; export the float model "
            "with a coreml_compression (linear8, palettize4, ...) instead"
        )
    ct = deps.coremltools()
    program = for_coremltools(reexport(model.handle.module(), model, deploy_example(model), static=True).handle)
    precision = ct.precision.FLOAT16 if config.precision == "float16" else ct.precision.FLOAT32
    target = deployment_target(profile)
    with export_errors("coremltools cannot convert the torch program"):
        return ct.convert(
            program,
            convert_to="mlprogram",
            minimum_deployment_target=target,
            compute_precision=precision,
            pass_pipeline=pass_pipeline(ct, precision),
            **convert_arguments(ct, interface),
        )
