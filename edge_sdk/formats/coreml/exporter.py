"""Core ML exporter ("coreml"): an mlprogram `.mlpackage` converted from the tf_keras model by coremltools.

Compute precision follows `config.precision` (float16 -> FLOAT16, float32 -> FLOAT32); the minimum
deployment target and compute units come from the profile's `runtime.constraints`
(`minimum_deployment_target: iOS17`, `compute_units: CPU_AND_NE`; default iOS16 / ALL). Weights are
then compressed with `coremltools.optimize.coreml` per `config.coreml_compression`:

    linear8            int8 per-channel symmetric linear quantization
    palettize4/6/8     k-means palettization, 4/6/8-bit lookup tables: per tensor, from iOS18 one per
                       group of 16 output channels (per_grouped_channel)
    sparse             magnitude pruning to 50% (keeps exactly the zeros of a pruned model instead when
                       config.sparsity_aware)
    sparse-palettize4  sparse, then 4-bit palettization of the non-zeros (joint: needs iOS18)

Weights under coremltools' 2048-element threshold stay uncompressed. The package's Manifest.json item
identifiers are random UUIDs in coremltools; they are rewritten to name-derived UUIDs so the same
inputs give a byte-identical package. PyTorch models go to `exporter_torch.convert(model, profile,
config) -> ct.models.MLModel` (uncompressed; the compression above is applied here). At float16
compute precision, constants beyond float16's range (attention masks' -inf or float32 minimum) are
clamped to +-65504 before the fp16 cast (`fp16.py`), and verification refuses a package that still
holds one.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk import deps
from edge_sdk.errors import ConfigError, ExportError
from edge_sdk.formats.base import ExportConfig, export_errors
from edge_sdk.formats.common.atomic import commit, make_artifact, staging
from edge_sdk.formats.coreml.describe import describe
from edge_sdk.formats.coreml.fp16 import clamp_pipeline
from edge_sdk.formats.coreml.interface import Interface, convert_arguments, interface_for
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.profiles import Profile
from edge_sdk.contracts.records import Artifact

TOOLS = ("coremltools", "tensorflow", "tf-keras")
PRECISIONS = {"float16": "FLOAT16", "float32": "FLOAT32"}
COMPRESSIONS = ("linear8", "palettize4", "palettize6", "palettize8", "sparse", "sparse-palettize4")
DEFAULT_TARGET, DEFAULT_UNITS = "iOS16", "ALL"
SPARSITY = 0.5
# mlprogram spec versions per deployment target: what the saved spec must declare at least.
SPEC_VERSION = {"iOS15": 6, "iOS16": 7, "iOS17": 8, "iOS18": 9, "macOS12": 6, "macOS13": 7, "macOS14": 8, "macOS15": 9}


def deployment(profile: Profile) -> tuple[str, str]:
    """(minimum_deployment_target, compute_units) from the profile constraints, with the defaults."""
    constraints = profile.runtime.constraints
    return str(constraints.get("minimum_deployment_target", DEFAULT_TARGET)), str(constraints.get("compute_units", DEFAULT_UNITS))


def joint_compression(target: str) -> bool:
    """Joint sparse+palettized weights need the iOS18 opset."""
    return SPEC_VERSION.get(target, 0) >= SPEC_VERSION["iOS18"]


def compressions_for(profile: Profile) -> tuple[str, ...]:
    """The weight compressions the profile's deployment target can store."""
    joint = joint_compression(deployment(profile)[0])
    return tuple(c for c in COMPRESSIONS if joint or c != "sparse-palettize4")


def enum_value(ct: Any, kind: str, value: str, field: str, profile: Profile) -> Any:
    """coremltools' target / compute unit named by a profile constraint (ConfigError when unknown)."""
    holder = ct.target if kind == "target" else ct.ComputeUnit
    try:
        return getattr(holder, value)
    except AttributeError:
        valid = sorted(k for k in dir(holder) if not k.startswith("_"))
        raise ConfigError(f"profile {profile.name}: runtime.constraints.{field} {value!r} is unknown; valid: {', '.join(valid)}") from None


PALETTE_GROUP = 16  # output channels sharing one LUT at iOS18 (coremltools' per_grouped_channel)


def _op_config(cto: Any, compression: str, sparsity_aware: bool, grouped: bool) -> list[tuple[str, Any]]:
    """(coremltools optimize function name, OptimizationConfig) steps for one compression. `grouped`
    (iOS18+): a palettized weight gets one LUT per PALETTE_GROUP output channels instead of one per
    tensor, so a layer's channels with different ranges each get their own palette."""
    prune = (
        cto.OpThresholdPrunerConfig(threshold=1e-12, minimum_sparsity_percentile=0.0)
        if sparsity_aware
        else cto.OpMagnitudePrunerConfig(target_sparsity=SPARSITY)
    )
    steps = {
        "linear8": [("linear_quantize_weights", cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8"))],
        "sparse": [("prune_weights", prune)],
        "sparse-palettize4": [("prune_weights", prune), ("palettize_weights", cto.OpPalettizerConfig(mode="kmeans", nbits=4))],
    }
    if compression.startswith("palettize"):
        per_group = {"granularity": "per_grouped_channel", "group_size": PALETTE_GROUP} if grouped else {}
        return [("palettize_weights", cto.OpPalettizerConfig(mode="kmeans", nbits=int(compression[-1]), **per_group))]
    return steps[compression]


def compress(mlmodel: Any, compression: str, sparsity_aware: bool, target: str, seed: int) -> Any:
    cto = deps.module("coremltools.optimize.coreml")
    if compression == "sparse-palettize4" and not joint_compression(target):
        raise ExportError(
            f"Core ML joint sparse+palettized weights need minimum_deployment_target iOS18 or newer; the profile "
            f"says {target} (use palettize4 or a profile targeting iOS18)"
        )
    np.random.seed(seed)  # k-means initialisation
    for i, (fn, op_config) in enumerate(_op_config(cto, compression, sparsity_aware, joint_compression(target))):
        kwargs = {"joint_compression": True} if i > 0 else {}
        mlmodel = getattr(cto, fn)(mlmodel, cto.OptimizationConfig(global_config=op_config), **kwargs)
    return mlmodel


def output_names(model: LoadedModel) -> list[str]:
    """Core ML feature names for the model's outputs: the output layer names ("probs/Softmax" -> "probs")."""
    return [re.sub(r"\W", "_", s.name.split("/")[0].split(":")[0]) or f"output_{i}" for i, s in enumerate(model.outputs)]


def pass_pipeline(ct: Any, precision: Any) -> Any:
    """fp16 programs get their out-of-range constants (masks' -inf) clamped before the fp16 cast."""
    return clamp_pipeline() if precision == ct.precision.FLOAT16 else ct.PassPipeline.DEFAULT


def _convert_keras(model: LoadedModel, ct: Any, precision: Any, target: Any, units: Any, interface: Interface) -> Any:
    inputs = [ct.TensorType(name=s.name, shape=(1,) + s.sample_shape()) for s in model.inputs]
    arguments = {"inputs": inputs, **convert_arguments(ct, interface)}
    with export_errors("Core ML conversion failed"):  # NotImplementedError/ValueError/RuntimeError with op names
        mlmodel = ct.convert(
            model.handle, convert_to="mlprogram", compute_precision=precision, minimum_deployment_target=target,
            compute_units=units, pass_pipeline=pass_pipeline(ct, precision), **arguments,
        )
    return renamed_outputs(ct, mlmodel, output_names(model), units)


def renamed_outputs(ct: Any, mlmodel: Any, names: list[str], units: Any) -> Any:
    """The package's outputs named after the model's output layers; a classifier's probabilities output
    (a label -> probability dictionary beside `classLabel`) takes the first name."""
    spec = mlmodel.get_spec()
    current = ([spec.description.predictedProbabilitiesName] if spec.description.predictedFeatureName
               else [o.name for o in spec.description.output])
    renames = [(old, want) for old, want in zip(current, names) if old != want]
    for old, want in renames:
        ct.utils.rename_feature(spec, old, want)
    return ct.models.MLModel(spec, weights_dir=mlmodel.weights_dir, compute_units=units) if renames else mlmodel


def _declared(spec: Any, interface: Interface) -> dict:
    """What the converted package declares (checked again in verification's structural checks): inputs
    with their shapes (an image input: its shape in the model's layout, colour, scale and bias), the
    model's outputs, and a classifier's label output and label count."""
    inputs = []
    for i in spec.description.input:
        if i.type.WhichOneof("Type") == "imageType" and interface.image is not None:
            inputs.append({"name": i.name, "shape": list(interface.image.shape), "image": interface.image.to_dict()})
        else:
            inputs.append({"name": i.name, "shape": [int(d) for d in i.type.multiArrayType.shape]})
    label = spec.description.predictedFeatureName
    declared = {"inputs": inputs, "outputs": [o.name for o in spec.description.output if o.name != label]}
    if label:
        declared["classifier"] = {"label_output": label, "labels": len(interface.labels)}
    return declared


def deterministic_manifest(package: Path) -> None:
    """Replace the random item identifiers in Manifest.json by UUIDs derived from each item's path."""
    manifest_path = package / "Manifest.json"
    manifest = json.loads(manifest_path.read_text())
    ids = {old: str(uuid.uuid5(uuid.NAMESPACE_URL, "edge-sdk:" + item["path"])) for old, item in manifest["itemInfoEntries"].items()}
    manifest["itemInfoEntries"] = {ids[old]: item for old, item in sorted(manifest["itemInfoEntries"].items(), key=lambda kv: ids[kv[0]])}
    manifest["rootModelIdentifier"] = ids[manifest["rootModelIdentifier"]]
    manifest_path.write_text(json.dumps(manifest, indent=4, sort_keys=True) + "\n")


def export(model: LoadedModel, profile: Profile, config: ExportConfig, out_dir: Path) -> Artifact:
    if config.precision not in PRECISIONS:
        raise ExportError(f"Core ML export takes precision float16 or float32, not {config.precision!r} "
                          "(use coreml_compression linear8/palettize* for smaller weights)")
    if config.coreml_compression not in (None,) + COMPRESSIONS:
        raise ConfigError(f"unknown coreml_compression {config.coreml_compression!r}; valid: {', '.join(COMPRESSIONS)}")
    target_name, units_name = deployment(profile)
    interface = interface_for(model, config.metadata, config.output_kinds)
    if model.framework == "torch":
        from edge_sdk.formats.coreml import exporter_torch  # imports this module's enum_value

        mlmodel = exporter_torch.convert(model, profile, config, interface)
    elif model.framework == "keras":
        ct = deps.coremltools()
        mlmodel = _convert_keras(
            model, ct, getattr(ct.precision, PRECISIONS[config.precision]),
            enum_value(ct, "target", target_name, "minimum_deployment_target", profile),
            enum_value(ct, "units", units_name, "compute_units", profile), interface,
        )
    else:
        raise ExportError(f"Core ML export takes Keras or PyTorch models, not {model.framework}")
    if config.coreml_compression:
        mlmodel = compress(mlmodel, config.coreml_compression, config.sparsity_aware, target_name, config.seed)
    spec = mlmodel.get_spec()
    mlmodel.user_defined_metadata["edge_sdk.compute_units"] = units_name
    mlmodel.user_defined_metadata["edge_sdk.compression"] = config.coreml_compression or "none"
    describe(mlmodel, config.metadata, profile.name, interface)
    name = f"{config.metadata.file_stem}.mlpackage"
    with staging(out_dir) as stage:
        mlmodel.save(str(stage / name))
        deterministic_manifest(stage / name)
        files = commit(stage, out_dir)
    details = {
        "compression": config.coreml_compression,
        "compute_precision": config.precision,
        "minimum_deployment_target": target_name,
        "compute_units": units_name,
        **_declared(spec, interface),
    }
    precision = config.precision + (f"+{config.coreml_compression}" if config.coreml_compression else "")
    return make_artifact("coreml", out_dir / name, files, precision, TOOLS, details)
