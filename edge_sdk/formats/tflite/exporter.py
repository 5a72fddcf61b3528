"""TFLite exporter ("tflite"): NAME.tflite (the model's name, `ArtifactMetadata.file_stem`) at float32, float16, dynamic-int8, int8 or int16x8.

Conversion is `compress.ptq.convert_to_tflite` (one converter path for the whole SDK); this module adds
the TFLite Metadata (`metadata.py`), the atomic write and the artifact record. Verified by `verify.py` on
LiteRT (`runner.py`), metadata included: the verified bytes are the shipped bytes.
"""

from __future__ import annotations

from pathlib import Path

from edge_sdk.frameworks.keras.techniques.ptq import CALIBRATED, MODES, QuantSpec, convert_to_tflite
from edge_sdk.errors import ExportError
from edge_sdk.formats.base import ExportConfig
from edge_sdk.formats.common.atomic import commit, make_artifact, staging
from edge_sdk.formats.common.flatbuffer import Graph, read_graph
from edge_sdk.formats.tflite.metadata import with_metadata
from edge_sdk.frameworks.tflite.analysis import float_macs_fraction
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.profiles import Profile
from edge_sdk.contracts.records import Artifact, StepRecord

TOOLS = ("tensorflow", "tf-keras", "ai-edge-litert")


def require_keras(model: LoadedModel, fmt: str) -> None:
    if model.framework != "keras":
        raise ExportError(
            f"the {fmt} exporter takes Keras models; this is a {model.framework} model "
            "(PyTorch models export to pte, pte-coreml or coreml)"
        )


def convert(model: LoadedModel, config: ExportConfig, fmt: str) -> tuple[bytes, StepRecord]:
    """Always dense, also for pruned models: the converter's sparse encoding (EXPERIMENTAL_SPARSITY)
    gives sparse int8 FULLY_CONNECTED weights that LiteRT's default XNNPACK delegate refuses to prepare,
    and DENSIFY ops that TFLite Micro lacks. A pruned model's zeros still shrink the compressed download."""
    require_keras(model, fmt)
    if config.precision not in MODES:
        raise ExportError(f"{fmt}: unknown precision {config.precision!r}; valid: {', '.join(MODES)}")
    spec = QuantSpec(
        mode=config.precision,
        io_dtype=config.io_dtype if config.precision in CALIBRATED else "float32",
        max_samples=config.max_calibration_samples,
        dense_per_tensor=config.dense_per_tensor,
        tuned=config.tuned,
        min_fidelity=config.min_fidelity,
        output_kinds=config.output_kinds,
    )
    return convert_to_tflite(model.handle, spec, config.calibration)


def search_details(record: StepRecord) -> dict:
    """What the conversion measured, for report.json's artifact details: calibration samples, and what
    a searching export chose (int8-mixed: the tensors kept float and why; int8-tuned: the range method,
    every method's score on the calibration data, and the bias correction's)."""
    details = {"calibration_samples": record.metrics["calibration_samples"]}
    if "keep_float" in record.metrics:
        details.update(kept_float=list(record.notes), mixed_search=record.metrics["tried"])
    if "range_method" in record.metrics:
        details.update(range_method=record.metrics["range_method"], range_methods=record.metrics["range_methods_on_calibration"],
                       bias_correction=record.metrics["bias_correction"])
    return details


def io_dtypes(graph: Graph) -> dict[str, str]:
    return {
        "input_dtype": graph.tensors[graph.inputs[0]].dtype,
        "output_dtype": graph.tensors[graph.outputs[0]].dtype,
        "ops": graph.op_names(),
    }


def export(model: LoadedModel, profile: Profile, config: ExportConfig, out_dir: Path) -> Artifact:
    flatbuffer, record = convert(model, config, "tflite")
    flatbuffer = with_metadata(flatbuffer, config.metadata, config.output_kinds, profile.name)
    name = f"{config.metadata.file_stem}.tflite"
    with staging(out_dir) as stage:
        (stage / name).write_bytes(flatbuffer)
        files = commit(stage, out_dir)
    graph = read_graph(flatbuffer)
    details = {**io_dtypes(graph), **search_details(record)}
    if config.precision == "int8-mixed":  # what the latency estimate charges at the float rate
        details["float_macs_fraction"] = round(float_macs_fraction(graph), 6)
    return make_artifact("tflite", out_dir / name, files, config.precision, TOOLS, details)
