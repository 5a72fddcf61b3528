"""The base cost model: flash, RAM and latency of a model at a precision on a profile, before building it.

Inputs: `ModelInfo` (params P, MACs M, other ops E, peak live activation elements A, runtime ops per
layer), the profile, the export format and precision, and what the plan's training steps do to the
model: `params_scale` (width w scales params by ~w^2, low-rank by its own ratio), `macs_scale`,
`activation_scale` (width w scales activations by ~w) and `sparsity` s (fraction of zero weights).

Compute dtype of a precision (what the MAC units run):
    float32 -> float32; float16 -> float16 (units without float16 run it as float32, weights
    dequantized at load); dynamic-int8 -> int8 for the MACs of its quantized layers (LiteRT's hybrid
    kernels and XNNPACK's qd8 kernels quantize the activations on the fly and multiply in int8: every
    conv/dense/matmul with at least memory.DYNAMIC_MIN_ELEMS weights on TFLite formats, Linear layers
    on ExecuTorch's), float32 for the rest (measured on a BERT-style encoder's .pte: ~3x faster than
    fp32; charging all of it at float32 discarded that rung on a 33 ms budget); int8 -> int8;
    int16x8 -> int16 (the unit's int16 rate if the profile gives one, else half its int8 rate: the
    16x8 kernels are wider and slower than int8); palettize4/palettize6 (Core ML) -> float16.

Flash (artifact bytes):
    flash = memory.estimate_artifact_bytes(P * params_scale, fmt, precision)
    (weights at the precision's bytes per parameter + the format's per-op overhead; palettized
    weights are n bits each, computed as float16 weights scaled by n/16).
    flash_gzip = overhead * g + weights * g * (1 - K_ZERO * s), g = GZIP_RATIO[precision]
    (measured: gzip of the digits artifacts; K_ZERO = 0.8 fits gzip of randomly zeroed int8 weights:
    s = 0.5 / 0.8 / 0.9 keep 0.72 / 0.36 / 0.21 of the dense size, the line gives 0.60 / 0.36 / 0.28).

RAM:
    Cortex-M (family cortex-m or format tflm): ram = arena = memory.estimate_arena_bytes(A *
        activation_scale, activation dtype); weights stay in flash.
    elsewhere: ram = flash (weights resident) + A * activation_scale * activation dtype bytes
        + RUNTIME_OVERHEAD_BYTES[fmt] (interpreter / runtime working memory: an order-of-magnitude
        constant per runtime, not a measurement). arena_bytes is None.
    Activation dtype: int8 -> int8, int16x8 -> int16, Core ML float16 / palettized -> float16,
    every other precision -> float32.

Latency per compute unit that can run the compute dtype (among the units the format's runtime can use,
`Profile.units_for(fmt)`):
    ms = 1000 * (M * macs_scale + E * activation_scale) / (rate[dtype] * efficiency)
         (dynamic-int8: the quantized layers' MACs at the int8 rate, the rest at the float32 rate;
         int8-mixed once built: the share of MACs its float ops run, from the artifact, at float32)
         + N_ops * OP_OVERHEAD_CYCLES / clock_hz * 1000 + (ACCEL_DISPATCH_MS on non-CPU units)
    rate = the unit's sustained MAC/s for the dtype, efficiency = the unit's derate from the profile,
    other ops (bias, activation, pooling, elementwise) cost one MAC each, N_ops = ops that run in the
    format's runtime (folded layers cost nothing), OP_OVERHEAD_CYCLES = per-op interpreter dispatch on
    the host CPU, ACCEL_DISPATCH_MS = one submission to a GPU / NPU / ANE per inference.
    A unit whose profile gives `kernels` (per-op-kind cycles for the compute dtype) is estimated per
    runtime op instead (planner/cost_model.py): cycles per MAC or element by op kind, per op, per
    weight byte; dynamic-int8 and int8-mixed keep the rate formula above.
    A unit that states `memory_bandwidth_bytes_per_s` / `launch_overhead_s` (a Jetson GPU under TensorRT)
    is estimated per layer instead, as a roofline: sum over layers of max(compute at the unit's rate,
    weight + output bytes / bandwidth) + one launch overhead per layer that does work (+ ACCEL_DISPATCH_MS).
    best_unit is the unit with the lowest estimate.

Latency band: a unit whose kernel costs were calibrated (`edge-sdk calibrate`) carries, per dtype, the
range of measured / estimated ratios its leave-one-out predictions showed (`kernels.error_band`); its
estimate then has band = [low, high] x ms. Which end a latency budget is checked on is
`Budgets.latency_check` (contracts/budgets.py). Units without one have no band: the rate model's
error is not known for that device (docs/estimates.md measures it on published MCU results).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

from edge_sdk.contracts.model import DTYPE_BYTES, ModelInfo
from edge_sdk.planner.cost_model import kernel_ms, op_work
from edge_sdk.planner.memory import DYNAMIC_MIN_ELEMS, WEIGHTED, estimate_arena_bytes, estimate_artifact_bytes
from edge_sdk.profiles import OP_NAMESPACE, ComputeUnit, Profile

COMPUTE_DTYPE = {
    "float32": "float32",
    "float16": "float16",
    "dynamic-int8": "int8",  # its quantized layers; the rest runs float32 (see _latency)
    "int8": "int8",
    "int16x8": "int16",
    "palettize4": "float16",
    "palettize6": "float16",
}
PALETTE_BITS = {"palettize4": 4, "palettize6": 6}
GZIP_RATIO = {"float32": 0.92, "float16": 0.89, "dynamic-int8": 0.90, "int8": 0.85, "int16x8": 0.87}
GZIP_RATIO_DEFAULT = 0.95  # palettized weights are already near their entropy
K_ZERO = 0.8
RUNTIME_OVERHEAD_BYTES = {"tflite": 512 * 1024, "coreml": 2 * 1024 * 1024, "pte": 256 * 1024, "pte-coreml": 2 * 1024 * 1024}
OP_OVERHEAD_CYCLES = 2000
ACCEL_DISPATCH_MS = 0.3


@dataclass(frozen=True)
class Estimate:
    fmt: str
    precision: str
    compute_dtype: str
    flash_bytes: int
    flash_gzip_bytes: int
    ram_bytes: int
    arena_bytes: int | None  # Cortex-M only: the TFLM tensor arena
    latency_ms: dict[str, float] = field(default_factory=dict)  # unit name -> ms, units that run compute_dtype
    best_unit: str | None = None
    latency_band_ms: dict[str, tuple[float, float]] = field(default_factory=dict)  # unit -> (low, high), calibrated units

    @property
    def best_latency_ms(self) -> float | None:
        return self.latency_ms.get(self.best_unit) if self.best_unit else None

    @property
    def best_latency_band_ms(self) -> tuple[float, float] | None:
        return self.latency_band_ms.get(self.best_unit) if self.best_unit else None

    def to_dict(self) -> dict:
        return asdict(self)


def compute_dtype(precision: str) -> str:
    try:
        return COMPUTE_DTYPE[precision]
    except KeyError:
        raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(COMPUTE_DTYPE)}") from None


def activation_dtype(precision: str, fmt: str) -> str:
    if precision == "int8":
        return "int8"
    if precision == "int16x8":
        return "int16"
    if fmt == "coreml" and COMPUTE_DTYPE.get(precision) == "float16":
        return "float16"
    return "float32"


def unit_rate(unit: ComputeUnit, dtype: str) -> float | None:
    """Sustained MAC/s of a unit for a compute dtype (with the fallbacks above), None if it cannot."""
    rates = unit.dtypes
    if dtype == "float16":
        return rates.get("float16") or rates.get("float32")
    if dtype == "int16":
        return rates.get("int16") or (rates["int8"] / 2 if "int8" in rates else None)
    return rates.get(dtype)


def is_mcu(profile: Profile, fmt: str) -> bool:
    return profile.family == "cortex-m" or fmt == "tflm"


def estimate(
    info: ModelInfo,
    profile: Profile,
    *,
    fmt: str,
    precision: str,
    params_scale: float = 1.0,
    macs_scale: float = 1.0,
    sparsity: float = 0.0,
    activation_scale: float = 1.0,
    dense_per_tensor: bool = False,
    float_macs_fraction: float = 0.0,
) -> Estimate:
    dtype = compute_dtype(precision)
    flash, weight_bytes = _flash(info, fmt, precision, params_scale, dense_per_tensor)
    g = GZIP_RATIO.get(precision, GZIP_RATIO_DEFAULT)
    gzip_bytes = round((flash - weight_bytes) * g + weight_bytes * g * (1 - K_ZERO * min(max(sparsity, 0.0), 1.0)))
    act_dtype = activation_dtype(precision, fmt)
    scaled = replace(info, peak_activation_elems=round(info.peak_activation_elems * activation_scale))
    arena = None
    if is_mcu(profile, fmt):
        arena = estimate_arena_bytes(scaled, act_dtype, dense_per_tensor)
        ram = arena
    else:
        ram = flash + scaled.peak_activation_bytes(act_dtype) + RUNTIME_OVERHEAD_BYTES.get(fmt, 0)
    latency, bands = _latency(info, profile, fmt, precision, macs_scale, activation_scale, float_macs_fraction)
    best = min(latency, key=latency.get) if latency else None
    return Estimate(fmt, precision, dtype, int(flash), int(gzip_bytes), int(ram), arena, latency, best, bands)


def _flash(info: ModelInfo, fmt: str, precision: str, params_scale: float, dense_per_tensor: bool) -> tuple[int, int]:
    """(artifact bytes, the part of them that is weights)."""
    as_precision, scale = precision, params_scale
    if precision in PALETTE_BITS:
        as_precision, scale = "float16", params_scale * PALETTE_BITS[precision] / 16
    total = estimate_artifact_bytes(replace(info, params=round(info.params * scale)), fmt, as_precision, dense_per_tensor)
    overhead = estimate_artifact_bytes(replace(info, params=0), fmt, as_precision, dense_per_tensor)
    return total, total - overhead


def _latency(info: ModelInfo, profile: Profile, fmt: str, precision: str, macs_scale: float, activation_scale: float,
             float_macs_fraction: float = 0.0) -> tuple[dict[str, float], dict[str, tuple[float, float]]]:
    """(unit -> ms, unit -> band in ms for the units whose kernel costs carry an error band)."""
    namespace = OP_NAMESPACE.get(fmt, "tflite")
    ops = info.runtime_ops(namespace)
    n_ops = sum(len(v) for v in ops.values()) if any(ops.values()) else len(ops)
    dispatch_ms = n_ops * OP_OVERHEAD_CYCLES / profile.compute.clock_hz * 1000
    # (MACs or other work, the dtype it runs in)
    if precision == "dynamic-int8":
        int8_macs = dynamic_int8_macs(info, fmt)
        work = [(int8_macs * macs_scale, "int8"),
                ((info.macs - int8_macs) * macs_scale + info.other_ops * activation_scale, "float32")]
    elif precision == "int8" and float_macs_fraction > 0:  # int8 with ops kept float (int8-mixed, once built)
        floating = info.macs * float_macs_fraction * macs_scale
        work = [(info.macs * macs_scale - floating + info.other_ops * activation_scale, "int8"), (floating, "float32")]
    else:
        work = [(info.macs * macs_scale + info.other_ops * activation_scale, compute_dtype(precision))]
    out, bands = {}, {}
    for unit in profile.units_for(fmt):
        rates = [unit_rate(unit, dtype) for _, dtype in work]
        if not all(rates):
            continue
        accel = ACCEL_DISPATCH_MS if profile.family != "cortex-m" and "cpu" not in unit.name.lower() else 0.0
        if unit.memory_bandwidth_bytes_per_s or unit.launch_overhead_s is not None:
            roofline = _roofline_ms(info, unit, precision, rates[0], macs_scale, activation_scale)
            out[unit.name] = round(roofline + accel, 4)
            continue
        kernels = unit.kernels.cycles.get(work[0][1]) if unit.kernels and len(work) == 1 else None
        if kernels is not None:
            per_op = op_work(info, namespace, work[0][1], macs_scale=macs_scale, activation_scale=activation_scale)
            clock = profile.compute.clock_hz
            ms = out[unit.name] = round(kernel_ms(per_op, kernels, clock, clock / (rates[0] * unit.efficiency),
                                                  OP_OVERHEAD_CYCLES) + accel, 4)
            band = unit.kernels.error_band.get(work[0][1])  # type: ignore[union-attr]
            if band is not None:
                bands[unit.name] = (round(ms * band[0], 4), round(ms * band[1], 4))
            continue
        compute_ms = sum(1000 * amount / (rate * unit.efficiency) for (amount, _), rate in zip(work, rates))
        out[unit.name] = round(compute_ms + dispatch_ms + accel, 4)
    return out, bands


def _roofline_ms(info: ModelInfo, unit: ComputeUnit, precision: str, rate: float, macs_scale: float,
                 activation_scale: float) -> float:
    """A unit that states its memory bandwidth and per-layer launch overhead (a GPU under TensorRT): each
    layer takes the longer of its compute and its memory traffic (weights read once, output written
    once, at the precision's bytes), plus one launch per layer that does work (TensorRT fuses the
    elementwise tail of a conv into it, so a layer is about a kernel)."""
    bandwidth = unit.memory_bandwidth_bytes_per_s or float("inf")
    dtype = compute_dtype(precision)
    value_bytes = DTYPE_BYTES[dtype]
    total_s, kernels = 0.0, 0
    for layer in info.layers:
        work = layer.macs * macs_scale + layer.other_ops * activation_scale
        if work <= 0:
            continue
        kernels += 1
        traffic = layer.params * value_bytes + layer.output_elems * activation_scale * value_bytes
        total_s += max(work / (rate * unit.efficiency), traffic / bandwidth)
    return 1000 * (total_s + kernels * (unit.launch_overhead_s or 0.0))


def dynamic_int8_macs(info: ModelInfo, fmt: str) -> int:
    """The MACs dynamic-int8 runs in int8: layers whose weights it quantizes (module docstring)."""
    pte = fmt.startswith("pte")
    kinds, min_elems = (("dense", "matmul"), 1) if pte else (WEIGHTED, DYNAMIC_MIN_ELEMS)
    return sum(
        layer.macs for layer in info.layers
        if layer.kind in kinds and layer.weight_shapes and math.prod(layer.weight_shapes[0]) >= min_elems
    )
