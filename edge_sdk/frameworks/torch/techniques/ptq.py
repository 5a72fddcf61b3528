"""ptq for torch programs: torchao pt2e post-training int8 quantization for the XNNPACK backend.

mode int8 (default): static int8 (XNNPACKQuantizer from executorch.backends.xnnpack.quantizer, symmetric,
per-channel weights; on attention models linear and conv layers only, see static_quantizer), calibrated
on at most `max_samples` of the user's calibration data; embedding tables uint8 per row, or with
`embedding_bits: 4` the tables looked up by the inputs 4-bit per group of 32 (embedding_4bit.py).
mode dynamic-int8: dynamic int8 activations x per-channel int8 weights for Linear layers (what XNNPACK
runs fast for Linear-heavy models; with `weight_bits: 4` the linear weights 4-bit per channel), plus
int8 weight-only embedding tables (torchao's EmbeddingQuantizer, lowered to
quantized_decomposed.embedding_byte), so a transformer's size falls with its embeddings too. Only float tensors are ever annotated (the XNNPACK quantizer guards inputs by
dtype, see pytorch/executorch#21608), so integer index arithmetic stays integer; attention masks stay
float under dynamic-int8 because only Linear/embedding weights are quantized (an additive -inf mask
cannot be quantized, see pytorch/executorch#8736).
The result is a re-exported ExportedProgram with quantize/dequantize nodes that the `pte` exporter
lowers as is.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np

from edge_sdk import deps
from edge_sdk.data import Dataset
from edge_sdk.errors import ConfigError
from edge_sdk.frameworks.torch.graph import batch_range, checked, chunks, is_quantized, module_copy, reexport, require_torch, tensors
from edge_sdk.frameworks.torch.techniques import embedding_4bit
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.contracts.records import StepRecord
from edge_sdk.techniques.base import TechniqueData, register_technique
from edge_sdk.techniques.config import Count, TechniqueConfig


class PTQConfig(TechniqueConfig):
    mode: Literal["int8", "dynamic-int8"] = "int8"
    max_samples: Count = 200  # calibration samples (int8)
    per_channel: bool = True
    batch_size: Count = 32  # calibration batch (clamped to the batches the program accepts)
    embedding_bits: Literal[8, 4] = 8  # 4: tables looked up by the inputs become embedding_4bit (the rest 8-bit)
    weight_bits: Literal[8, 4] = 8  # 4 (dynamic-int8 only): linear weights 4-bit per channel (XNNPACK qd8-f32-qc4w)


def xnnpack_quantizer(*, dynamic: bool = False, qat: bool = False, per_channel: bool = True, weight_bits: int = 8) -> Any:
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import get_symmetric_quantization_config

    from edge_sdk.frameworks.torch.techniques.xnnpack_scalar_fix import xnnpack_quantizer_class

    four_bit = {"weight_qmin": -8, "weight_qmax": 7} if weight_bits == 4 else {}
    config = get_symmetric_quantization_config(is_per_channel=per_channel, is_dynamic=dynamic, is_qat=qat, **four_bit)
    return xnnpack_quantizer_class()().set_global(config)


def tensorrt_quantizer() -> Any:
    """QAT fake-quantization in TensorRT's explicit-quantization layout: int8 with zero point 0,
    activations per tensor (symmetric over [-128, 127]), weights per output channel over [-127, 127],
    annotated on conv and linear layers only, with the batch norm and ReLU fused into them (TensorRT
    fuses DQ -> conv/gemm -> Q into one int8 kernel and runs everything else in the engine's float
    precision). Exported to ONNX these become QuantizeLinear/DequantizeLinear pairs and int8 weight
    initializers."""
    torch = deps.torch()
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import QuantizationConfig
    from torchao.quantization.pt2e import FakeQuantize, MovingAverageMinMaxObserver, MovingAveragePerChannelMinMaxObserver
    from torchao.quantization.pt2e.quantizer import QuantizationSpec

    from edge_sdk.frameworks.torch.techniques.xnnpack_scalar_fix import xnnpack_quantizer_class

    def spec(lo: int, qscheme: Any, observer: Any, **axis: int) -> Any:
        fake = FakeQuantize.with_args(observer=observer, quant_min=lo, quant_max=127, dtype=torch.int8, qscheme=qscheme, **axis)
        return QuantizationSpec(dtype=torch.int8, quant_min=lo, quant_max=127, qscheme=qscheme,
                                observer_or_fake_quant_ctr=fake, **axis)

    activation = spec(-128, torch.per_tensor_symmetric, MovingAverageMinMaxObserver)
    weight = spec(-127, torch.per_channel_symmetric, MovingAveragePerChannelMinMaxObserver, ch_axis=0)
    config = QuantizationConfig(activation, activation, weight, None, is_qat=True)
    quantizer = xnnpack_quantizer_class()()  # no global config: only the patterns of these operators
    for op in (torch.ops.aten.conv1d.default, torch.ops.aten.conv2d.default, torch.ops.aten.linear.default):
        quantizer.set_operator_type(op, config)  # with the batch norm / ReLU the patterns fuse into them
    return quantizer


ATTENTION_OPS = ("aten.layer_norm", "aten.scaled_dot_product_attention", "aten.softmax", "aten._softmax")


def is_attention_model(program: Any) -> bool:
    return any(str(n.target).startswith(ATTENTION_OPS) for n in program.graph.nodes if n.op == "call_function")


def static_quantizer(per_channel: bool, attention: bool) -> Any:
    """XNNPACK's static int8 config, plus row-wise embedding tables. On an attention model only the
    linear and conv layers are quantized: XNNPACK's config also quantizes the outputs of add, mul and
    cat, which there are the residual stream and the attention math (the zoo BERT: per-sentence minimum
    cosine 0.99982 with them, 0.99998 without, the same bytes)."""
    torch = deps.torch()
    from torchao.quantization.pt2e.quantizer import ComposableQuantizer

    import executorch.kernels.quantized  # noqa: F401 - registers quantized_decomposed.embedding_byte for export

    xnnpack = xnnpack_quantizer(per_channel=per_channel)
    if attention:
        weighted = {torch.ops.aten.linear.default, torch.ops.aten.conv1d.default, torch.ops.aten.conv2d.default}
        xnnpack.set_filter_function(lambda node: node.target in weighted)
    return ComposableQuantizer([embedding_quantizer(), xnnpack])


def dynamic_quantizer(weight_bits: int = 8) -> Any:
    """Dynamic int8 activations; with `weight_bits` 4, the linear layers XNNPACK runs with 4-bit weights
    (per output channel, symmetric [-8, 7]: its qd8-f32-qc4w kernels, which pack two values per byte and
    need an even input width) take 4-bit weights, every other layer 8-bit."""
    from torchao.quantization.pt2e.quantizer import ComposableQuantizer

    import executorch.kernels.quantized  # noqa: F401 - registers quantized_decomposed.embedding_byte for export

    quantizers = [embedding_quantizer()]
    if weight_bits == 4:
        quantizers.append(xnnpack_quantizer(dynamic=True, weight_bits=4).set_filter_function(four_bit_linear))
    return ComposableQuantizer(quantizers + [xnnpack_quantizer(dynamic=True)])


def four_bit_linear(node: Any) -> bool:
    """A linear layer XNNPACK's 4-bit kernels take: a weight whose input width is even."""
    torch = deps.torch()
    if node.target != torch.ops.aten.linear.default:
        return False
    weight = node.args[1].meta.get("val")
    return weight is not None and weight.dim() == 2 and weight.shape[1] % 2 == 0


def embedding_quantizer() -> Any:
    """torchao's EmbeddingQuantizer (uint8 per row, float scale and zero point: what embedding_byte runs)
    with one change. Its PerChannelMinMaxObserver(eps=2**-12) does not clamp a row's scale to eps, it
    replaces any scale <= eps with 1.0, so every row spanning less than 255 * 2**-12 = 0.0625 collapses
    to a single value. Trained embeddings are that small (init std 0.02): the zoo BERT's token-type row 0,
    added to every token, became a constant -0.03 and cosine to fp32 fell to 0.955 (0.99999 with the
    rows quantized correctly). With eps at float32's, only rows that are (nearly) constant get scale 1.0,
    and those dequantize exactly."""
    torch = deps.torch()
    from torchao.quantization.pt2e.observer import PerChannelMinMaxObserver
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation, QuantizationSpec
    from torchao.quantization.pt2e.quantizer.embedding_quantizer import EmbeddingQuantizer
    from torchao.quantization.pt2e.quantizer.quantizer import Q_ANNOTATION_KEY

    spec = QuantizationSpec(
        dtype=torch.uint8, qscheme=torch.per_channel_affine_float_qparams, ch_axis=0,
        observer_or_fake_quant_ctr=PerChannelMinMaxObserver.with_args(eps=torch.finfo(torch.float32).eps),
    )

    class RowwiseEmbeddingQuantizer(EmbeddingQuantizer):
        def annotate(self, model: Any) -> Any:
            for node in model.graph.nodes:
                if node.op == "call_function" and node.target == torch.ops.aten.embedding.default:
                    node.meta[Q_ANNOTATION_KEY] = QuantizationAnnotation(input_qspec_map={node.args[0]: spec})
            return model

    return RowwiseEmbeddingQuantizer()


EMBEDDING_KERNELS = ("quantized_decomposed.embedding_byte", "quantized_decomposed.embedding_4bit")


def count_quantized(ep: Any) -> dict[str, int]:
    """How many ops the program quantizes: ops that consume a dequantize, by op, and the lookups
    already rewritten to a quantized embedding kernel."""
    found: dict[str, int] = {}
    for n in ep.graph.nodes:
        target = str(n.target)
        if n.op != "call_function":
            continue
        if target.startswith(EMBEDDING_KERNELS):
            key = target.split(".")[1]
        elif "quantize" not in target and any("dequantize" in str(a.target) for a in n.all_input_nodes if a.op == "call_function"):
            key = target.split(".")[1] if "." in target else target
        else:
            continue
        found[key] = found.get(key, 0) + 1
    return found


def quantize(model: LoadedModel, calibration: Dataset | None, *, mode: str, config: dict | None = None) -> tuple[LoadedModel, StepRecord]:
    """pt2e quantize `model` (mode "int8" = static, "dynamic-int8"); returns a re-exported program.
    The exporter's entry point: `config` holds the other PTQConfig keys."""
    return _quantize(model, calibration, PTQConfig.parse({**(config or {}), "mode": mode}, "ptq"))


def _quantize(model: LoadedModel, calibration: Dataset | None, cfg: PTQConfig) -> tuple[LoadedModel, StepRecord]:
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    torch = deps.torch()
    start = time.perf_counter()
    if is_quantized(model.handle):
        raise ConfigError("the model is already quantized (ptq or qat ran before); quantize once")
    attention = cfg.mode == "int8" and is_attention_model(model.handle)  # static int8 quantizes less there
    if cfg.mode == "int8":
        if cfg.weight_bits == 4:
            raise ConfigError("ptq weight_bits 4 runs with mode dynamic-int8 only (XNNPACK has no static 4-bit linear)")
        if calibration is None:
            raise ConfigError("ptq (int8) needs calibration data; pass --calibration FILE.npz")
        data = checked(calibration, model, "calibration", cfg.max_samples)
        quantizer = static_quantizer(cfg.per_channel, attention)
    else:
        data = checked(calibration, model, "calibration", 1) if calibration is not None else None
        quantizer = dynamic_quantizer(cfg.weight_bits)
    module, four_bit = module_copy(model), []
    if cfg.embedding_bits == 4:  # before annotating, so the 8-bit quantizer takes only the tables left
        four_bit = embedding_4bit.rewrite(module)
    prepared = prepare_pt2e(module, quantizer)
    samples = 0
    with torch.no_grad():
        if cfg.mode == "int8":  # in batches the program accepts (a batch-1 program: one sample at a time)
            arrays = list(data.inputs.values())
            for idx in chunks(np.arange(len(data)), batch_range(model), cfg.batch_size):
                prepared(*tensors([a[idx] for a in arrays]))
            samples = len(data)
        else:
            prepared(*model.example_inputs)
    converted = convert_pt2e(prepared)
    out = reexport(converted, model)
    record = StepRecord(
        technique="ptq",
        params={"mode": cfg.mode, "per_channel": cfg.per_channel, "quantizer": type(quantizer).__name__,
                "embedding_bits": cfg.embedding_bits, "weight_bits": cfg.weight_bits,
                **({"quantized": "linear and conv only (attention model)"} if attention else {})},
        metrics={"calibration_samples": samples, "quantized_ops": count_quantized(out.handle),
                 **({"embedding_4bit_tables": four_bit} if cfg.embedding_bits == 4 else {})},
        wall_s=time.perf_counter() - start,
    )
    return out, record


@register_technique("ptq", "torch", PTQConfig)
def apply(model: LoadedModel, data: TechniqueData, cfg: PTQConfig) -> tuple[LoadedModel, StepRecord]:
    require_torch(model, "ptq")
    return _quantize(model, data.calibration, cfg)
