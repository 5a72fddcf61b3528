"""ONNX exporter ("onnx"; for TensorRT on a Jetson's GPU): `NAME.onnx` (the model's name) from a tf_keras model (tf2onnx)
or a torch program (torch.onnx's dynamo exporter, onnxscript), checked by the ONNX checker with full
shape inference on every export.

Precisions: float32; float16 = the same float32 file with the engine built `--fp16` (TensorRT keeps a
layer in float32 where float16 is unsupported or too inexact, which a file of float16 weights would
forbid; the weights are converted when the engine is built on the board, and ONNX Runtime on this x86
host has no float16 kernels for Conv to verify a float16 file with); int8 with explicit Q/DQ in the
layout TensorRT expects (`quantize.py`): calibrated here, or, for a model that is already quantized
(a torch program from the `qat` technique with `scheme: tensorrt`; a TFMOT-wrapped Keras model), its
learned quantize/dequantize nodes written as they are (QuantizeLinear/DequantizeLinear with the trained scales, int8 weight initializers). Every int8
file is checked for zero points of 0: TensorRT's explicit quantization is symmetric.
The opset is the profile's `runtime.constraints.onnx_opset` (the highest its TensorRT parser takes),
else DEFAULT_OPSET. Keras models keep a dynamic batch; torch programs keep theirs (usually batch 1).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from edge_sdk import deps
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.contracts.records import Artifact
from edge_sdk.errors import ConfigError, ExportError
from edge_sdk.formats.base import ExportConfig, export_errors
from edge_sdk.formats.common.atomic import commit, make_artifact, staging
from edge_sdk.formats.onnx.canonical import canonical
from edge_sdk.frameworks.torch.graph import is_quantized
from edge_sdk.profiles import Profile

PRECISIONS = ("float32", "float16", "int8")
ENGINE_FLAGS = {"float32": [], "float16": ["--fp16"], "int8": ["--int8"]}  # what trtexec builds the engine with
DEFAULT_OPSET = 17  # TensorRT 8.6+ and 10.x parse opset 17 (onnx-tensorrt's operator matrix)
TOOLS = ("onnx", "onnxruntime", "tf2onnx", "torch", "onnxscript")


def opset_for(profile: Profile) -> int:
    value = profile.runtime.constraints.get("onnx_opset", DEFAULT_OPSET)
    if not isinstance(value, int) or value < 13:
        raise ConfigError(f"profile {profile.name}: runtime.constraints.onnx_opset {value!r} must be an integer >= 13")
    return value


def from_keras(model: LoadedModel, opset: int) -> Any:
    tf = deps.tensorflow()
    tf2onnx = deps.module("tf2onnx")
    signature = [tf.TensorSpec((None, *s.shape[1:]), s.dtype, name=s.name) for s in model.inputs]
    with export_errors("tf2onnx could not convert the Keras model"):
        proto, _ = tf2onnx.convert.from_keras(model.handle, input_signature=signature, opset=opset)
    return canonical(proto)


def from_torch(model: LoadedModel, opset: int) -> Any:
    torch = deps.torch()
    with export_errors("torch.onnx (dynamo) could not export the program"):
        program = torch.onnx.export(model.handle, tuple(model.example_inputs), dynamo=True, opset_version=opset,
                                    input_names=[s.name for s in model.inputs], verbose=False)
    return program.model_proto


def checked(proto: Any) -> Any:
    """The model after the ONNX checker and strict shape inference: what TensorRT's parser will read."""
    onnx = deps.module("onnx")
    with export_errors("the exported ONNX model fails the ONNX checker"):
        inferred = onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
        onnx.checker.check_model(inferred, full_check=True)
    return inferred


def export(model: LoadedModel, profile: Profile, config: ExportConfig, out_dir: Path) -> Artifact:
    if config.precision not in PRECISIONS:
        raise ConfigError(f"onnx precision {config.precision!r} is not supported; valid: {', '.join(PRECISIONS)}")
    builders = {"keras": from_keras, "torch": from_torch}
    if model.framework not in builders:
        raise ConfigError(f"the onnx exporter takes Keras or PyTorch models; got a {model.framework} model")
    start, opset = time.perf_counter(), opset_for(profile)
    proto = checked(builders[model.framework](model, opset))
    details: dict[str, Any] = {"opset": opset, "engine_flags": ENGINE_FLAGS[config.precision], "notes": [
        "verified on ONNX Runtime's CPU provider; the TensorRT engine is built from this file and timed on the "
        "board itself (edge-sdk bench --device ssh:USER@BOARD): engines are specific to the GPU and TensorRT version"]}
    if config.precision == "float16":
        details["notes"].append("verified on ONNX Runtime with weights and every op's output rounded to float16 "
                                "(the runner's emulation of --fp16); the engine's own kernels run on the board")
    learned = _quantization_aware(model)
    if learned and config.precision != "int8":
        raise ConfigError(f"the program is already quantized (ptq or qat ran); export it at int8, not {config.precision}")
    if config.precision == "int8":
        from edge_sdk.formats.onnx.quantize import qdq_summary, quantize_qdq, quantize_tuned

        if learned:
            qdq = {**qdq_summary(proto), "calibration": "learned"}
        elif config.calibration is None:
            raise ConfigError("onnx int8 (Q/DQ) needs calibration data; pass --calibration FILE.npz")
        elif config.tuned:
            proto, qdq = quantize_tuned(proto, model, config.calibration, config.max_calibration_samples,
                                        config.min_fidelity, config.output_kinds)
        else:
            proto, qdq = quantize_qdq(proto, model, config.calibration, config.max_calibration_samples)
        if qdq["asymmetric"]:
            fix = ("export the float model (this exporter calibrates symmetric Q/DQ itself): TensorFlow Model "
                   "Optimization's QAT learns activations with a zero point" if model.framework == "keras" else
                   "drop the ptq step (this exporter calibrates symmetric Q/DQ itself) or train with the qat "
                   "technique's scheme: tensorrt")
            raise ExportError(f"{qdq['asymmetric']} Q/DQ node(s) have a nonzero zero point, which TensorRT does not "
                              f"take; {fix}")
        details.update(qdq=qdq)
    onnx = deps.module("onnx")
    with staging(out_dir) as stage:
        path = stage / f"{config.metadata.file_stem}.onnx"
        path.write_bytes(proto.SerializeToString(deterministic=True))
        if path.stat().st_size >= 2**31:
            raise ExportError("the ONNX model is over 2 GB, the protobuf limit; external weight files are not supported")
        files = commit(stage, out_dir)
    details.update(inputs=[{"name": i.name, "shape": _shape(i), "dtype": _dtype(onnx, i)} for i in proto.graph.input],
                   outputs=[o.name for o in proto.graph.output], export_s=round(time.perf_counter() - start, 3))
    return make_artifact("onnx", out_dir / path.name, files, config.precision, TOOLS, details)


def _quantization_aware(model: LoadedModel) -> bool:
    """The model already holds its quantization (a pt2e-quantized torch program, a TFMOT-wrapped Keras
    model): its own Q/DQ are written out, never calibrated a second time on top."""
    if model.framework == "torch":
        return is_quantized(model.handle)
    from edge_sdk.frameworks.keras.techniques.qat import is_quantized as keras_quantized

    return keras_quantized(model.handle)


def _shape(value: Any) -> list:
    return [d.dim_value if d.HasField("dim_value") else None for d in value.type.tensor_type.shape.dim]


def _dtype(onnx: Any, value: Any) -> str:
    return str(onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type))
