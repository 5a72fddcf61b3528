"""TensorFlow Lite Micro exporter ("tflm"): full-integer int8 (int8 I/O), or int16x8 (int16 activations,
int8 weights, int16 I/O) where the target runs TFLM's 16x8 kernels, for Cortex-M firmware.

Writes NAME.tflite (the model's name), model_data.cc/.h (a const, 16-byte aligned byte array for flash, its length, and
kTensorArenaSize) and op_resolver.h (a MicroMutableOpResolver<N> registering exactly the ops used).

Before anything is written, every op and every tensor dtype of the converted flatbuffer is checked
against the profile's TFLM op list and dtypes; an unsupported one raises UnsupportedOpError naming the
Keras layer and the op. The tensor arena is measured by loading the model in the TFLM interpreter
(RecordingMicroAllocator); the harness arena is measured * (1 + arena_margin), rounded up to 16 bytes.
The artifact carries it as `Artifact.arena` (an `ArenaInfo`: harness bytes, what they rest on, margin).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from edge_sdk import __version__
from edge_sdk.artifact_metadata import ArtifactMetadata
from edge_sdk.errors import ExportError, UnsupportedOpError
from edge_sdk.formats.base import ExportConfig
from edge_sdk.formats.common.atomic import commit, make_artifact, staging
from edge_sdk.formats.common.flatbuffer import Graph, layer_of, read_graph
from edge_sdk.formats.tflite.exporter import convert, search_details
from edge_sdk.formats.tflm.arena_search import required_arena
from edge_sdk.formats.tflm.runner import TFLMCrashed, fits_in_arena, measure_arena
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.profiles import Profile
from edge_sdk.contracts.records import ArenaInfo, Artifact

TOOLS = ("tensorflow", "tf-keras", "tflite-micro", "ai-edge-litert")
PRECISIONS = ("int8", "int16x8")

# TFLite builtin -> the MicroMutableOpResolver method registering it (tflite-micro
# tensorflow/lite/micro/micro_mutable_op_resolver.h). Ops absent here have no TFLM kernel (or no
# known Add method: such an op is refused rather than emitted into a resolver that would not compile).
RESOLVER_METHODS = {
    "ABS": "AddAbs", "ADD": "AddAdd", "ADD_N": "AddAddN", "ARG_MAX": "AddArgMax", "ARG_MIN": "AddArgMin",
    "ASSIGN_VARIABLE": "AddAssignVariable", "AVERAGE_POOL_2D": "AddAveragePool2D", "BATCH_MATMUL": "AddBatchMatMul",
    "BATCH_TO_SPACE_ND": "AddBatchToSpaceNd", "BROADCAST_ARGS": "AddBroadcastArgs",
    "BROADCAST_TO": "AddBroadcastTo", "CALL_ONCE": "AddCallOnce", "CAST": "AddCast", "CEIL": "AddCeil",
    "CONCATENATION": "AddConcatenation", "CONV_2D": "AddConv2D", "COS": "AddCos", "CUMSUM": "AddCumSum",
    "DEPTH_TO_SPACE": "AddDepthToSpace", "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D",
    "DEQUANTIZE": "AddDequantize", "DIV": "AddDiv", "DYNAMIC_UPDATE_SLICE": "AddDynamicUpdateSlice",
    "ELU": "AddElu", "EMBEDDING_LOOKUP": "AddEmbeddingLookup", "EQUAL": "AddEqual", "EXP": "AddExp",
    "EXPAND_DIMS": "AddExpandDims", "FILL": "AddFill", "FLOOR": "AddFloor", "FLOOR_DIV": "AddFloorDiv",
    "FLOOR_MOD": "AddFloorMod", "FULLY_CONNECTED": "AddFullyConnected", "GATHER": "AddGather",
    "GATHER_ND": "AddGatherNd", "GREATER": "AddGreater", "GREATER_EQUAL": "AddGreaterEqual",
    "HARD_SWISH": "AddHardSwish", "IF": "AddIf", "L2_NORMALIZATION": "AddL2Normalization",
    "L2_POOL_2D": "AddL2Pool2D", "LEAKY_RELU": "AddLeakyRelu", "LESS": "AddLess", "LESS_EQUAL": "AddLessEqual",
    "LOG": "AddLog", "LOGICAL_AND": "AddLogicalAnd", "LOGICAL_NOT": "AddLogicalNot",
    "LOGICAL_OR": "AddLogicalOr", "LOGISTIC": "AddLogistic", "LOG_SOFTMAX": "AddLogSoftmax",
    "MAX_POOL_2D": "AddMaxPool2D", "MAXIMUM": "AddMaximum", "MEAN": "AddMean", "MINIMUM": "AddMinimum",
    "MIRROR_PAD": "AddMirrorPad", "MUL": "AddMul", "NEG": "AddNeg", "NOT_EQUAL": "AddNotEqual",
    "PACK": "AddPack", "PAD": "AddPad", "PADV2": "AddPadV2", "PRELU": "AddPrelu", "QUANTIZE": "AddQuantize",
    "READ_VARIABLE": "AddReadVariable", "REDUCE_MAX": "AddReduceMax", "REDUCE_MIN": "AddReduceMin", "RELU": "AddRelu", "RELU6": "AddRelu6",
    "RESHAPE": "AddReshape", "RESIZE_BILINEAR": "AddResizeBilinear",
    "RESIZE_NEAREST_NEIGHBOR": "AddResizeNearestNeighbor", "REVERSE_V2": "AddReverseV2", "ROUND": "AddRound", "RSQRT": "AddRsqrt",
    "SELECT_V2": "AddSelectV2", "SHAPE": "AddShape", "SIN": "AddSin", "SLICE": "AddSlice",
    "SOFTMAX": "AddSoftmax", "SPACE_TO_BATCH_ND": "AddSpaceToBatchNd", "SPACE_TO_DEPTH": "AddSpaceToDepth",
    "SPLIT": "AddSplit", "SPLIT_V": "AddSplitV", "SQRT": "AddSqrt", "SQUARE": "AddSquare",
    "SQUARED_DIFFERENCE": "AddSquaredDifference", "SQUEEZE": "AddSqueeze", "STRIDED_SLICE": "AddStridedSlice",
    "SUB": "AddSub", "SUM": "AddSum", "SVDF": "AddSvdf", "TANH": "AddTanh", "TRANSPOSE": "AddTranspose",
    "TRANSPOSE_CONV": "AddTransposeConv", "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM",
    "UNPACK": "AddUnpack", "VAR_HANDLE": "AddVarHandle", "WHILE": "AddWhile", "ZEROS_LIKE": "AddZerosLike",
}
INDEX_DTYPES = {"int32", "bool"}  # shape operands, argmax outputs: fine on integer-only targets
BIAS_DTYPES = {"int64"}  # int16x8 biases (constants the 16x8 kernels accumulate into)
ALIGN = 16


def check_graph(graph: Graph, profile: Profile, layer_names: list[str]) -> None:
    """Raise UnsupportedOpError for the first op or tensor dtype the target's TFLM build cannot run."""
    allowed_ops = profile.ops_for("tflm") or frozenset(RESOLVER_METHODS)
    allowed_dtypes = set(profile.runtime.dtypes) | INDEX_DTYPES
    for op in graph.ops:
        layer = layer_of(op, graph, layer_names) or "(unnamed)"
        if op.name not in RESOLVER_METHODS or op.name not in allowed_ops:
            where = (f"not in profile {profile.name}'s TFLM op list" if op.name in RESOLVER_METHODS
                     else "TFLite Micro has no MicroMutableOpResolver registration for it")
            raise UnsupportedOpError(
                f"layer {layer!r} converts to TFLite op {op.name}, which {profile.name} cannot run ({where}); "
                "replace the layer with a supported one or pick another target"
            )
        for t in op.inputs + op.outputs:
            tensor = graph.tensors[t]
            if tensor.dtype not in allowed_dtypes and not (tensor.constant and tensor.dtype in BIAS_DTYPES):
                raise UnsupportedOpError(
                    f"layer {layer!r} (op {op.name}) uses a {tensor.dtype} tensor {tensor.name!r}; "
                    f"{profile.name} runs {', '.join(profile.runtime.dtypes)} only (export full-integer: int8 or int16x8)"
                )


def c_identifier(name: str) -> str:
    ident = re.sub(r"\W", "_", name).strip("_").lower() or "model"
    return ident if not ident[0].isdigit() else f"m_{ident}"


def arena_for_harness(measured: int, margin: float) -> int:
    return int(math.ceil(measured * (1 + margin) / ALIGN) * ALIGN)


def _header(profile: Profile, model_name: str) -> str:
    return f"// Generated by edge-sdk {__version__} for target {profile.name} (model {model_name}). Do not edit.\n"


def io_constants(graph: Graph) -> str:
    """model_data.h's description of the model's inputs and outputs (issue 16, point 8): what firmware
    needs to quantize a sensor reading and read a score without opening the flatbuffer."""
    lines = ["// Inputs and outputs in the interpreter's order: dims, and for an integer tensor",
             "// real = scale * (q - zero_point) (a float tensor: scale 0, zero point 0).",
             f"constexpr int kInputCount = {len(graph.inputs)};", f"constexpr int kOutputCount = {len(graph.outputs)};"]
    for role, indices in (("Input", graph.inputs), ("Output", graph.outputs)):
        for i, index in enumerate(indices):
            t = graph.tensors[index]
            scale, zero_point = (t.scales[0], t.zero_points[0]) if t.scales else (0.0, 0)
            name = t.name.replace("*/", "* /")
            lines += [f"// {role.lower()} {i}: \"{name}\" {t.dtype} {list(t.shape)}",
                      f"constexpr int k{role}{i}Dims[] = {{{', '.join(str(d) for d in t.shape) or '1'}}};",
                      f"constexpr int k{role}{i}Rank = {len(t.shape)};",
                      f"constexpr float k{role}{i}Scale = {_c_float(scale)};",
                      f"constexpr int k{role}{i}ZeroPoint = {int(zero_point)};"]
    return "\n".join(lines) + "\n"


def _c_float(value: float) -> str:
    """A C++ float literal ("0.0f", "255.0f", "1e-05f"; "0f" is not one)."""
    text = f"{float(value):.9g}"
    return f"{text}{'' if any(c in text for c in '.en') else '.0'}f"


def _c_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def metadata_constants(metadata: ArtifactMetadata) -> str:
    """model_data.h's class labels and input normalisation (--labels, --input-mean/--input-std)."""
    lines = []
    if metadata.labels:
        lines += ["// Class labels of the classification output, in index order (--labels).",
                  f"constexpr int kLabelCount = {len(metadata.labels)};",
                  f"constexpr const char* kLabels[kLabelCount] = {{{', '.join(_c_string(l) for l in metadata.labels)}}};"]
    if metadata.input_mean:
        floats = lambda values: ", ".join(map(_c_float, values))  # noqa: E731
        lines += ["// The input the model expects is (x - mean) / std, per channel (or one value for all),",
                  "// before the input quantization above.",
                  f"constexpr float kInputMean[] = {{{floats(metadata.input_mean)}}};",
                  f"constexpr float kInputStd[] = {{{floats(metadata.input_std)}}};"]
    return "\n".join(lines) + "\n" if lines else ""


def model_data_files(flatbuffer: bytes, ident: str, banner: str, arena: ArenaInfo,
                     metadata: ArtifactMetadata = ArtifactMetadata()) -> dict[str, str]:
    basis, margin = arena.basis_bytes, arena.margin
    described = metadata_constants(metadata)
    array, length = f"g_{ident}_model_data", f"g_{ident}_model_data_len"
    rows = [", ".join(f"0x{b:02x}" for b in flatbuffer[i : i + 12]) for i in range(0, len(flatbuffer), 12)]
    body = ",\n  ".join(rows)
    cc = (
        f"{banner}#include \"model_data.h\"\n\n"
        f"alignas({ALIGN}) const unsigned char {array}[] = {{\n  {body}\n}};\n"
        f"const unsigned int {length} = {len(flatbuffer)};\n"
    )
    h = (
        f"{banner}#ifndef EDGE_SDK_MODEL_DATA_H_\n#define EDGE_SDK_MODEL_DATA_H_\n\n#include <cstddef>\n\n"
        f"// The .tflite flatbuffer, const so the linker places it in flash.\n"
        f"extern const unsigned char {array}[];\nextern const unsigned int {length};\n"
        f"#define EDGE_SDK_MODEL_DATA {array}\n#define EDGE_SDK_MODEL_DATA_LEN {length}\n\n"
        + (f"// Tensor arena: {basis} bytes measured with the TFLM RecordingMicroAllocator (64-bit host),\n"
           if arena.measured else
           f"// Tensor arena: {basis} bytes ESTIMATED (TFLM's host interpreter crashed on this model, so it\n"
           f"// could not be measured): check the arena on the device and adjust kTensorArenaSize.\n")
        + f"// + {margin:.0%} margin, rounded up to {ALIGN} bytes.\n"
        f"constexpr size_t kTensorArena{'Measured' if arena.measured else 'Estimated'}Bytes = {basis};\n"
        f"constexpr size_t kTensorArenaSize = {arena.bytes};\n\n{io_constants(read_graph(flatbuffer))}\n"
        + described + ("\n" if described else "")
        + "#endif  // EDGE_SDK_MODEL_DATA_H_\n"
    )
    return {"model_data.cc": cc, "model_data.h": h}


def op_resolver_file(ops: list[str], banner: str) -> str:
    calls = "\n".join(f"  if (resolver.{RESOLVER_METHODS[op]}() != kTfLiteOk) return kTfLiteError;" for op in ops)
    return (
        f"{banner}#ifndef EDGE_SDK_OP_RESOLVER_H_\n#define EDGE_SDK_OP_RESOLVER_H_\n\n"
        f"#include \"tensorflow/lite/micro/micro_mutable_op_resolver.h\"\n\n"
        f"// Exactly the ops the model uses: {', '.join(ops)}.\n"
        f"constexpr unsigned int kNumOps = {len(ops)};\n"
        f"using EdgeOpResolver = tflite::MicroMutableOpResolver<kNumOps>;\n\n"
        f"inline TfLiteStatus RegisterOps(EdgeOpResolver& resolver) {{\n{calls}\n  return kTfLiteOk;\n}}\n\n"
        f"#endif  // EDGE_SDK_OP_RESOLVER_H_\n"
    )


def _estimated_arena(flatbuffer: bytes, precision: str) -> int:
    """The liveness-simulation arena estimate on the flatbuffer's own op graph (when TFLM cannot load it)."""
    from edge_sdk.model import analyze
    from edge_sdk.frameworks.tflite.loading import specs_of
    from edge_sdk.contracts.model import LoadedModel
    from edge_sdk.planner.estimate import activation_dtype
    from edge_sdk.planner.memory import estimate_arena_bytes

    inputs, outputs = specs_of(flatbuffer)
    return estimate_arena_bytes(analyze(LoadedModel("tflite", flatbuffer, inputs, outputs, "tflite")),
                                activation_dtype(precision, "tflm"))


def export(model: LoadedModel, profile: Profile, config: ExportConfig, out_dir: Path) -> Artifact:
    if config.precision not in PRECISIONS:
        raise ExportError(
            f"TFLite Micro export is full-integer ({', '.join(PRECISIONS)}); precision {config.precision!r} was asked"
        )
    flatbuffer, record = convert(model, config, "tflm")
    graph = read_graph(flatbuffer)
    check_graph(graph, profile, [layer.name for layer in model.handle.layers])
    margin = config.arena_margin
    try:
        measured = measure_arena(flatbuffer)
        basis = required_arena(flatbuffer, measured["arena_total_bytes"])
        note = "" if basis == measured["arena_total_bytes"] else (
            f"the interpreter needs {basis} bytes to allocate and run it; its recorder counted {measured['arena_total_bytes']}")
        arena = ArenaInfo(arena_for_harness(basis, margin), basis, True, margin,
                          measured["arena_head_bytes"], measured["arena_tail_bytes"], note)
        if not fits_in_arena(flatbuffer, arena.bytes):  # the harness's kTensorArenaSize, exactly
            raise RuntimeError(f"TFLM does not run the model in the harness arena of {arena.bytes} bytes")
    except TFLMCrashed as exc:
        basis = _estimated_arena(flatbuffer, config.precision)
        arena = ArenaInfo(arena_for_harness(basis, margin), basis, False, margin, note=str(exc))
    ident = c_identifier(model.handle.name)
    banner = _header(profile, model.handle.name)
    texts = model_data_files(flatbuffer, ident, banner, arena, config.metadata)
    texts["op_resolver.h"] = op_resolver_file(graph.op_names(), banner)
    model_file = f"{config.metadata.file_stem}.tflite"
    with staging(out_dir) as stage:
        (stage / model_file).write_bytes(flatbuffer)
        for name, text in texts.items():
            (stage / name).write_text(text)
        files = commit(stage, out_dir)
    details = {
        "ops": graph.op_names(),
        "c_array": f"g_{ident}_model_data",
        "input_dtype": graph.tensors[graph.inputs[0]].dtype,
        "output_dtype": graph.tensors[graph.outputs[0]].dtype,
        **search_details(record),
    }
    return make_artifact("tflm", out_dir / model_file, files, config.precision, TOOLS, details, arena=arena)
