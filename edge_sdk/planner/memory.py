"""Size and memory estimates from `ModelInfo`, before any conversion.

    estimate_artifact_bytes(info, fmt, precision, dense_per_tensor=False) -> int
        the artifact's weights at the precision (int8: int32 biases and per-channel scale/zero-point
        pairs too, one pair per FULLY_CONNECTED weight and bias with `dense_per_tensor`) + the format's per-tensor / per-op and fixed overhead (`Format.size`, calibrated
        against real artifacts; a format may bring its own estimate, e.g. weight blobs + program).
    estimate_arena_bytes(info, dtype="int8", dense_per_tensor=False) -> int
        the smallest TFLM tensor arena the interpreter allocates and runs the model in, from the
        interpreter's allocation timeline: the tail (persistent: bookkeeping, eval tensors, nodes,
        kernel op data) grows op by op as kernels are prepared, and the head must hold, in turn,
          - while an op is prepared: its temporary TfLiteTensors and, per quantized weight and bias,
            an int32 zero-point array of one entry per channel (InitializeTfLiteTensorFromFlatbuffer);
          - while the memory plan is computed: an AllocationInfo per tensor and the greedy planner's
            per-buffer lists (MicroAllocator::CommitStaticMemoryPlan);
          - while it runs: the activations, placed by a liveness simulation of the TFLite op graph with
            TFLM's greedy memory planner (what RecordingMicroAllocator reports as the head).
        The arena is the largest tail + head along the way. On models with small activations and wide
        layers (a dense autoencoder) the first two exceed the activations, and an arena sized from the
        recorder's total fails to allocate (measured: 17,360 B recorded, 22,048 B needed). A
        per-channel layer's kernel keeps two int32 multipliers per output channel in the tail;
        `dense_per_tensor` (FULLY_CONNECTED weights with one scale) drops them for FULLY_CONNECTED. An
        int16 SOFTMAX keeps its exp and reciprocal lookup tables there. Known limit: a wide layer in
        the middle of a dense stack is overestimated (up to +27% on 3-layer probes; the temporaries of
        such an op are smaller than this model charges), the safe direction for a RAM budget.

ModelInfo layers are Keras layers, not TFLite ops: each layer's `runtime_ops["tflite"]` says what
survives conversion (empty: folded into its producer, e.g. BatchNormalization after a conv, a fused
ReLU, Dropout: its output aliases its input; several ops, e.g. Dense(softmax) -> FULLY_CONNECTED +
SOFTMAX: an intermediate tensor). Callers may scale `info.params` and `info.peak_activation_elems`
(narrower candidate models); both estimates scale with them.

Constants were measured with ai-edge-litert/TF 2.21 flatbuffers and the tflite-micro Python
interpreter (64-bit host: its structs are larger than a Cortex-M's) on a plain CNN, a separable CNN with
residual Adds, an MLP, a dense autoencoder and stacks of dense layers; tests/planner/test_memory.py
checks the estimates against fresh measurements (the arena: the smallest one the interpreter runs in,
found by arena_search.required_arena).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from edge_sdk.formats import FORMATS
from edge_sdk.contracts.model import DTYPE_BYTES, LayerInfo, ModelInfo

# ---- artifact size ---------------------------------------------------------------------------------
WEIGHT_BYTES = {"float32": 4.0, "float16": 2.0, "dynamic-int8": 1.0, "int8": 1.0, "int16x8": 1.0}
BIAS_BYTES = {"float32": 4, "float16": 2, "dynamic-int8": 4, "int8": 4, "int16x8": 8}
DYNAMIC_MIN_ELEMS = 1024  # dynamic-range quantization leaves smaller weight tensors float32
QPARAM_BYTES = 12  # one float32 scale + one int64 zero point per channel (quantized tensors)
QUANTIZED = ("int8", "int16x8")
# Per-format overhead (fixed, per tensor, per op) is each format's `Format.size` (edge_sdk/formats/).
QUANTIZED_TENSOR_BYTES = 20  # the quantization table of an int8/int16 tensor
INT16X8_EXTRA_BYTES = 1800  # int16x8 flatbuffers carry more metadata (measured)

# ---- TFLM arena ------------------------------------------------------------------------------------
TFLM_ALIGN = 16
EVAL_TENSOR_BYTES = 24  # TfLiteEvalTensor per tensor (constants included)
NODE_BYTES = 64  # NodeAndRegistration per op
IO_TENSOR_BYTES = 96  # persistent TfLiteTensor + its quantization arrays, per graph input/output
TAIL_FIXED_BYTES = 720  # subgraph/context bookkeeping
INT16_OP_DATA = {"SOFTMAX": 2080}  # extra persistent bytes of the int16 kernel (LUTs), measured
# head while the memory plan is computed: per tensor (AllocationInfo), per planned buffer (the greedy
# planner's requirement, offset and sort lists); fitted on stacks of 1-20 dense layers (to 16 B)
PLAN_INFO_BYTES = 32
PLAN_BUFFER_BYTES = 40
PLAN_FIXED_BYTES = -8
# head while one weighted op is prepared: per tensor it touches (temporary TfLiteTensor and its
# quantization struct), per channel of each quantized constant (an int32 zero point)
PREPARE_TENSOR_BYTES = 82
ZERO_POINT_BYTES = 4
OP_DATA = {  # kernel op data (persistent buffers): (fixed bytes, bytes per output channel)
    "CONV_2D": (80, 8), "DEPTHWISE_CONV_2D": (80, 8), "FULLY_CONNECTED": (80, 8), "TRANSPOSE_CONV": (80, 8),
    "SOFTMAX": (124, 0), "ADD": (64, 0), "SUB": (64, 0), "MUL": (64, 0), "MEAN": (48, 0),
    "MAX_POOL_2D": (40, 0), "AVERAGE_POOL_2D": (40, 0), "RESHAPE": (0, 0), "QUANTIZE": (48, 0),
}
DEFAULT_OP_DATA = (48, 0)
CONST_INPUTS = {  # constant operands each op brings (weights, biases, shapes, axes)
    "CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 2, "TRANSPOSE_CONV": 3, "RESHAPE": 1, "MEAN": 1,
    "SUM": 1, "REDUCE_MAX": 1, "PAD": 1, "PADV2": 2, "EXPAND_DIMS": 1, "RESIZE_BILINEAR": 1,
    "RESIZE_NEAREST_NEIGHBOR": 1, "STRIDED_SLICE": 3, "MIRROR_PAD": 1, "SQUEEZE": 0,
}
WEIGHTED = ("conv", "depthwise", "separable", "dense", "matmul")


@dataclass
class _Graph:
    """The TFLite op graph a ModelInfo converts to: tensor sizes (elements) and ops over them."""

    sizes: list[int] = field(default_factory=list)
    ops: list[tuple[str, tuple[int, ...], int, int]] = field(default_factory=list)  # (op, inputs, output, channels)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)

    def tensor(self, elems: int) -> int:
        self.sizes.append(int(elems))
        return len(self.sizes) - 1


def _channels(layer: LayerInfo) -> int:
    shape = layer.output_shapes[0] if layer.output_shapes else ()
    return int(shape[-1]) if shape else 1


def _intermediate(layer: LayerInfo, step: int) -> tuple[int, int]:
    """(elements, channels) of the tensor between a layer's ops (separable: the depthwise output)."""
    if layer.kind == "separable" and step == 0 and layer.input_shapes:
        in_ch = layer.input_shapes[0][-1]
        mult = layer.weight_shapes[0][-1] if layer.weight_shapes else 1
        spatial = layer.output_elems // max(1, _channels(layer))
        return spatial * in_ch * mult, in_ch * mult
    return layer.output_elems, _channels(layer)


def tflite_graph(info: ModelInfo) -> _Graph:
    g = _Graph()
    owner: dict[str, int] = {}
    for layer in info.layers:
        if layer.kind == "input":
            owner[layer.name] = g.tensor(layer.output_elems)
            g.inputs.append(owner[layer.name])
            continue
        ops = layer.runtime_ops.get("tflite", ())
        srcs = tuple(owner[s] for s in layer.inputs if s in owner)
        if not ops:
            if srcs:
                owner[layer.name] = srcs[0]
            continue
        for step, op in enumerate(ops):
            elems, channels = (layer.output_elems, _channels(layer)) if step == len(ops) - 1 else _intermediate(layer, step)
            out = g.tensor(elems)
            g.ops.append((op, srcs, out, channels))
            srcs = (out,)
        owner[layer.name] = srcs[0]
    g.outputs = [owner[n] for n in info.output_names if n in owner]
    return g


def greedy_plan(sizes: list[int], first: list[int], last: list[int]) -> int:
    """TFLM's GreedyMemoryPlanner: largest buffers first (among equal sizes, the later tensor first, as
    the measured TFLM layouts show), each at the lowest offset that does not overlap a placed buffer
    alive at the same time. Returns the arena head (highest end offset)."""
    placed: list[tuple[int, int, int, int]] = []  # (offset, size, first, last)
    for i in sorted(range(len(sizes)), key=lambda i: (-sizes[i], -i)):
        live = sorted((p for p in placed if p[2] <= last[i] and first[i] <= p[3]), key=lambda p: p[0])
        offset = 0
        for p_off, p_size, _, _ in live:
            if offset + sizes[i] <= p_off:
                break
            offset = max(offset, p_off + p_size)
        placed.append((offset, sizes[i], first[i], last[i]))
    return max((p[0] + p[1] for p in placed), default=0)


def _align(n: float, to: int) -> int:
    return int(math.ceil(n / to) * to)


def _activation_scale(info: ModelInfo) -> float:
    """How much the caller scaled peak_activation_elems relative to the layers (1.0 when untouched)."""
    from edge_sdk.model.analysis import peak_live_elems

    aliases = [l.name for l in info.layers if l.kind != "input" and l.inputs and not l.runtime_ops.get("tflite")]
    base = peak_live_elems(info.layers, info.output_names, aliases)
    return info.peak_activation_elems / base if base else 1.0


def _per_tensor_op(op: str, dense_per_tensor: bool) -> bool:
    return dense_per_tensor and op == "FULLY_CONNECTED"


def estimate_arena_bytes(info: ModelInfo, dtype: str = "int8", dense_per_tensor: bool = False) -> int:
    g = tflite_graph(info)
    if not g.ops:
        return int(info.peak_activation_bytes(dtype) + TAIL_FIXED_BYTES)
    n = len(g.ops)
    first = [0] * len(g.sizes)
    last = [0] * len(g.sizes)
    for step, (_, ins, out, _) in enumerate(g.ops):
        first[out] = step
        last[out] = max(last[out], step)
        for t in ins:
            last[t] = max(last[t], step)
    for t in g.outputs:
        last[t] = n - 1
    scale = _activation_scale(info)
    sizes = [_align(s * scale * DTYPE_BYTES[dtype], TFLM_ALIGN) for s in g.sizes]
    constants = sum(CONST_INPUTS.get(op, 0) for op, *_ in g.ops)
    # the allocation timeline: the tail before any kernel is prepared, then each op's Prepare adds its
    # persistent op data while its temporaries sit in the head, then the plan is computed, then it runs
    tail = (
        TAIL_FIXED_BYTES
        + EVAL_TENSOR_BYTES * (len(g.sizes) + constants)
        + NODE_BYTES * n
        + IO_TENSOR_BYTES * (len(g.inputs) + len(g.outputs))
    )
    peak = 0
    for op, ins, _, ch in g.ops:
        per_tensor = _per_tensor_op(op, dense_per_tensor)
        fixed, per_channel = OP_DATA.get(op, DEFAULT_OP_DATA)
        tail += fixed + per_channel * (0 if per_tensor else ch) + (INT16_OP_DATA.get(op, 0) if dtype == "int16" else 0)
        peak = max(peak, tail + _prepare_bytes(op, len(ins), 1 if per_tensor else ch))
    planning = PLAN_INFO_BYTES * (len(g.sizes) + constants) + PLAN_BUFFER_BYTES * len(g.sizes) + PLAN_FIXED_BYTES
    return int(max(peak, tail + planning, tail + greedy_plan(sizes, first, last)))


def _prepare_bytes(op: str, activation_inputs: int, channels: int) -> int:
    """The temporaries of one op's Prepare: its tensors, and for a weighted op a zero-point entry per
    channel of its weights and bias (`channels` 1 when they have a single scale)."""
    consts = CONST_INPUTS.get(op, 0)
    weighted = op in OP_DATA and OP_DATA[op][1] > 0
    zero_points = ZERO_POINT_BYTES * (channels + 1) * min(consts, 2) if weighted else 0
    return _align(PREPARE_TENSOR_BYTES * (activation_inputs + consts + 1) + zero_points, TFLM_ALIGN)


def _weight_tensors(info: ModelInfo) -> list[tuple[int, int]]:
    """(kernel elements, bias elements) per weighted layer as converted (biases added where missing)."""
    found = []
    for layer in info.layers:
        if layer.kind not in WEIGHTED or not layer.runtime_ops.get("tflite", ("x",)):
            continue
        shapes = list(layer.weight_shapes)
        kernels = [s for s in shapes if len(s) > 1]
        found.extend((math.prod(k), 0) for k in kernels[:-1])  # separable: the depthwise kernel
        if kernels:
            found.append((math.prod(kernels[-1]), _channels(layer)))
    return found


def estimate_artifact_bytes(info: ModelInfo, fmt: str, precision: str, dense_per_tensor: bool = False) -> int:
    """Artifact bytes. Flatbuffer formats at int8/int16x8 get float I/O (QUANTIZE/DEQUANTIZE at the
    edges, what the planner exports for phones) unless the format says otherwise (`SizeModel.float_io`,
    false for integer-I/O microcontroller artifacts)."""
    size = FORMATS.get(fmt).size
    tensors = _weight_tensors(info)
    structural = sum(k + b for k, b in tensors)
    scale = info.params / structural if structural else 0.0  # the caller may scale params
    if size.artifact_bytes is not None:
        return size.artifact_bytes(info, tensors, scale, precision)
    bias_elems = sum(b for _, b in tensors)
    g = tflite_graph(info)
    n_tensors = len(g.sizes) + sum(CONST_INPUTS.get(op, 0) for op, *_ in g.ops)
    flatbuffer = size.flatbuffer
    if precision == "dynamic-int8":
        big = [(k, b) for k, b in tensors if k >= DYNAMIC_MIN_ELEMS]
        kernel_bytes = sum(k * (1 if k >= DYNAMIC_MIN_ELEMS else 4) for k, _ in tensors) * scale
        data = kernel_bytes + bias_elems * BIAS_BYTES[precision] + (QPARAM_BYTES * sum(b for _, b in big) if flatbuffer else 0)
    else:
        data = sum(k for k, _ in tensors) * scale * WEIGHT_BYTES.get(precision, 1.0) + bias_elems * BIAS_BYTES.get(precision, 4)
    per_tensor = size.per_tensor_bytes
    if flatbuffer and precision == "float16":  # each fp16 constant gets a DEQUANTIZE op and a float32 tensor
        n_tensors += 2 * len(tensors)
    if flatbuffer and precision in QUANTIZED:
        if size.float_io:  # float I/O: a QUANTIZE and a DEQUANTIZE tensor
            n_tensors += 2
        per_tensor += QUANTIZED_TENSOR_BYTES
        per_tensor_channels = sum(ch - 1 for op, _, _, ch in g.ops if _per_tensor_op(op, dense_per_tensor))
        # per-channel weights/biases (but per-tensor dense ones), per-tensor activations
        data += QPARAM_BYTES * (2 * (bias_elems - per_tensor_channels) + len(g.sizes))
        data += INT16X8_EXTRA_BYTES if precision == "int16x8" else 0
    overhead = size.base_bytes + per_tensor * n_tensors + size.per_op_bytes * len(g.ops)
    return int(data + overhead)
