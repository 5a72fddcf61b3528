"""Core ML conversion of a PyTorch program through the coremltools torch frontend (torch.export path).

    convert(model, profile, config) -> coremltools MLModel   (exporter.py saves it and applies
                                                              coremltools.optimize weight compression)

The program is re-exported at its deploy batch (1 when the batch is dynamic), decomposed to the ATen
dialect coremltools expects (`run_decompositions({})`), and converted as an ML program with the
profile's deployment target. pt2e-quantized programs (ptq / qat) are refused: Core ML
compression is coremltools.optimize's job, so convert the float model and pick `coreml_compression`.
"""

from __future__ import annotations

from typing import Any

from edge_sdk import deps
from edge_sdk.errors import ConfigError
from edge_sdk.formats.base import ExportConfig, export_errors
from edge_sdk.formats.coreml.exporter import enum_value, pass_pipeline
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


def convert(model: LoadedModel, profile: Profile, config: ExportConfig) -> Any:
    if model.framework != "torch":
        raise ConfigError(f"coreml_torch converts PyTorch programs; got a {model.framework} model")
    if is_quantized(model.handle):
        raise ConfigError(
            "a pt2e-quantized program (ptq/qat) cannot go to Core ML; export the float model "
            "with a coreml_compression (linear8, palettize4, ...) instead"
        )
    ct = deps.coremltools()
    program = reexport(model.handle.module(), model, deploy_example(model), static=True).handle
    precision = ct.precision.FLOAT16 if config.precision == "float16" else ct.precision.FLOAT32
    target = deployment_target(profile)
    with export_errors("coremltools cannot convert the torch program"):
        return ct.convert(
            program.run_decompositions({}),
            convert_to="mlprogram",
            minimum_deployment_target=target,
            compute_precision=precision,
            pass_pipeline=pass_pipeline(ct, precision),
        )
