"""qat: quantization-aware training with torchao pt2e (`prepare_qat_pt2e`, per-channel weights),
label-free by default: the original model is the teacher (KD loss on the user's unlabeled data).
Observers calibrate on the first pass, fake-quant nodes train with the weights (batch norm frozen at
its running statistics, as QAT fine-tuning of a trained model does), then `convert_pt2e`
gives the int8 program the exporter keeps as is: the `pte` exporter lowers it, the `onnx` exporter
writes its quantize/dequantize nodes as QuantizeLinear/DequantizeLinear (the learned scales).

    scheme: xnnpack   XNNPACKQuantizer's QAT config (activations int8 with a zero point), for ExecuTorch
            tensorrt  what TensorRT's explicit quantization takes: symmetric activations (zero point 0)
                      per tensor, symmetric weights per output channel in [-127, 127], on the
                      inputs and outputs of conv and linear layers only (`tensorrt_quantizer`)
"""

from __future__ import annotations

import time
from typing import Literal

from edge_sdk import deps
from edge_sdk.errors import ConfigError
from edge_sdk.frameworks.torch.graph import batch_range, is_quantized, module_copy, reexport, require_torch
from edge_sdk.frameworks.torch.techniques.ptq import count_quantized, tensorrt_quantizer, xnnpack_quantizer
from edge_sdk.frameworks.torch.techniques.training import kd_train, seed_everything, train_set
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.contracts.records import StepRecord
from edge_sdk.techniques.base import TechniqueData, register_technique
from edge_sdk.techniques.config import Count, Positive, TrainingConfig


class QATConfig(TrainingConfig):
    epochs: Count = 3
    learning_rate: Positive = 1e-5  # a fine-tune of a trained model (1e-4: a zoo MobileNetV2 0.68 -> 0.855 at 1e-5)
    per_channel: bool = True
    scheme: Literal["xnnpack", "tensorrt"] = "xnnpack"


@register_technique("qat", "torch", QATConfig)
def apply(model: LoadedModel, data: TechniqueData, cfg: QATConfig) -> tuple[LoadedModel, StepRecord]:
    from torchao.quantization.pt2e import move_exported_model_to_eval
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_qat_pt2e

    require_torch(model, "qat")
    if is_quantized(model.handle):
        raise ConfigError("qat needs a float model; this one is already quantized")
    torch = deps.torch()
    start = time.perf_counter()
    train = train_set(model, data, cfg)
    seed_everything(cfg.seed)
    if cfg.scheme == "tensorrt" and not cfg.per_channel:
        raise ConfigError("qat scheme 'tensorrt' quantizes weights per channel; drop per_channel: false")
    quantizer = tensorrt_quantizer() if cfg.scheme == "tensorrt" else xnnpack_quantizer(qat=True, per_channel=cfg.per_channel)
    prepared = prepare_qat_pt2e(module_copy(model), quantizer)
    # batch norm keeps its running statistics (and dropout is off) while the weights, batch norm's scale
    # and shift, and the fake-quant ranges train: in train mode the student normalizes by each batch's
    # statistics and updates the running ones, and drifts from the eval-mode teacher (a zoo MobileNetV2,
    # no weight change at all: top-1 agreement 0.575 in train mode, 0.865 frozen)
    move_exported_model_to_eval(prepared)
    metrics = kd_train(prepared, data.teacher, train, cfg, accepted=batch_range(model), kinds=data.output_kinds)
    with torch.no_grad():
        converted = convert_pt2e(prepared)
    out = reexport(converted, model)
    metrics["quantized_ops"] = count_quantized(out.handle)
    params = {k: getattr(cfg, k) for k in ("epochs", "learning_rate", "temperature", "per_channel", "scheme", "use_labels")}
    return out, StepRecord("qat", params, metrics, wall_s=time.perf_counter() - start)
