"""The candidate ladder: every plan worth trying for one model on one profile, cheapest first.

Order (cost to apply, then expected quality loss), per the target's capabilities: float precisions
where the target runs float ops, then int8 PTQ, QAT, pruning, clustering, low-rank, conv decomposition
(Tucker-2, CP) and distillation to smaller widths. Each framework lists its own rungs for the formats it exports to (its Frontend's
`rungs`, edge_sdk/frameworks/<name>/rungs.py). Core ML targets get the format's rungs whatever the
framework: float16 compute, then weight compression (8-bit linear, 6- and 4-bit palettization,
sparse + 4-bit palettization). ONNX targets (TensorRT) get fp32, fp16 and int8 Q/DQ. Technique names are the same for every framework (a step runs the
implementation of the model's framework), and every step's params are checked against its
technique's declared config when the ladder is built. Each candidate carries its cost-model
estimate; the search discards those whose estimate breaks a hard budget before any training.
"""

from __future__ import annotations

from functools import partial

from edge_sdk.errors import ConfigError, ModelLoadError
from edge_sdk.frameworks import FRONTENDS
from edge_sdk.contracts.model import ModelInfo
from edge_sdk.contracts.plan import Candidate, Step
from edge_sdk.planner.candidates import distill_rungs
from edge_sdk.contracts.fit import FitReport
from edge_sdk.planner.fit import check_fit
from edge_sdk.profiles import Profile
from edge_sdk.techniques.dispatch import validate_step


def build_ladder(info: ModelInfo, profile: Profile, fit: FitReport | None = None) -> list[Candidate]:
    """The ladder for `profile`; `fit` is the fit check the caller already ran (computed if not given)."""
    fit = fit or check_fit(info, profile)
    fit.raise_for_unsupported()  # no format, or ops the target lacks: compression cannot fix either
    fmt = fit.fmt
    allows_float = not profile.int8_only and fmt != "tflm"
    frontend = FRONTENDS.get(info.framework)
    if frontend.converted:
        sources = [FRONTENDS.get(n).accepts for n in FRONTENDS.names() if not FRONTENDS.get(n).converted]
        raise ModelLoadError(
            f"a {info.framework} model can be inspected and benchmarked, not rebuilt; build from the source model "
            f"({', '.join(sources)})"
        )
    if fmt == "coreml":
        # coremltools converts float programs only: Core ML's own weight compression, not int8 PTQ/QAT
        rungs = _coreml_rungs(profile, info.framework)
    elif fmt == "onnx":
        rungs = _onnx_rungs(profile, info.framework)
    else:
        rungs = frontend.rungs(info, profile, fmt, allows_float)
    for cand in rungs:
        check_rung(cand)
    return rungs


def check_rung(cand: Candidate) -> None:
    """The rung's framework, format and precision, and every step's params against its technique's
    declared config, before any work (ConfigError naming the rung and the field, listing the valid names)."""
    from edge_sdk.formats import FORMATS

    if cand.framework not in FRONTENDS:
        raise ConfigError(f"rung {cand.name!r}: unknown framework {cand.framework!r}; valid: {', '.join(FRONTENDS.names())}")
    if cand.fmt not in FORMATS:
        raise ConfigError(f"rung {cand.name!r}: unknown format {cand.fmt!r}; valid: {', '.join(FORMATS.names())}")
    precisions = FORMATS.get(cand.fmt).frameworks.get(cand.framework, ())
    if cand.precision not in precisions:
        valid = ", ".join(precisions) or f"none: {cand.fmt} takes no {cand.framework} models"
        raise ConfigError(f"rung {cand.name!r}: format {cand.fmt} has no precision {cand.precision!r} for "
                          f"{cand.framework} models; valid: {valid}")
    if cand.dense_per_tensor and (cand.fmt not in ("tflite", "tflm") or cand.precision not in ("int8", "int16x8")):
        raise ConfigError(f"rung {cand.name!r}: dense_per_tensor applies to tflite/tflm exports at int8 or int16x8, "
                          f"not {cand.fmt} at {cand.precision}; set it to false")
    if cand.tuned and (cand.fmt not in ("tflite", "tflm", "onnx") or cand.precision != "int8"):
        raise ConfigError(f"rung {cand.name!r}: tuned applies to tflite/tflm/onnx exports at int8, "
                          f"not {cand.fmt} at {cand.precision}; set it to false")
    for step in cand.steps:
        try:
            validate_step(step.technique, step.params, cand.framework)
        except ConfigError as exc:
            raise ConfigError(f"rung {cand.name!r}: {exc}") from None


def _onnx_rungs(profile: Profile, framework: str) -> list[Candidate]:
    """TensorRT's precisions for the same file format: the float32 file built at fp32, then at
    `--fp16` (the file stays float32: params counted twice over the float16 size), then int8 Q/DQ
    calibrated at export by min-max, then with the calibration chosen per model (`int8-tuned`), then
    (torch) quantization-aware trained in TensorRT's symmetric layout, its learned Q/DQ kept (`qat-int8`);
    distilled students at int8."""
    rung = partial(Candidate, framework=framework)
    dtypes = {d for unit in profile.units_for("onnx") for d in unit.dtypes}
    rungs = [rung("fp32", "onnx", "float32")]
    if "float16" in dtypes:
        rungs.append(rung("fp16", "onnx", "float16", params_scale=2.0))
    if "int8" in dtypes:
        rungs += [rung("int8", "onnx", "int8"), rung("int8-tuned", "onnx", "int8", tuned=True)]
        if framework == "torch":  # Keras QAT (TFMOT) learns activations with a zero point: not TensorRT's layout
            rungs.append(rung("qat-int8", "onnx", "int8", (Step("qat", {"scheme": "tensorrt"}),), trains=True))
    return rungs + (distill_rungs(framework, "int8", "onnx", "int8") if "int8" in dtypes else [])


def _coreml_rungs(profile: Profile, framework: str) -> list[Candidate]:
    from edge_sdk.formats import FORMATS

    # joint sparse + palettized weights need the iOS18 opset; older targets get plain sparse storage
    joint = "sparse-palettize4" in FORMATS.get("coreml").weight_compressions(profile)
    sparse = "sparse-palettize4" if joint else "sparse"
    rung = partial(Candidate, framework=framework)
    rungs = [
        rung("fp16", "coreml", "float16"),
        rung("fp16-linear8", "coreml", "float16", coreml_compression="linear8"),
        rung("fp16-palettize6", "coreml", "float16", coreml_compression="palettize6"),
        rung("fp16-palettize4", "coreml", "float16", coreml_compression="palettize4"),
        rung(
            f"prune50-fp16-{sparse}", "coreml", "float16", (Step("prune", {"sparsity": 0.5}),),
            coreml_compression=sparse, sparsity=0.5, trains=True,
        ),
    ]
    return rungs + distill_rungs(framework, "fp16-palettize4", "coreml", "float16", coreml_compression="palettize4")
