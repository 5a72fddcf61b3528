"""Core ML runner. On macOS: real prediction (method "executed"). Elsewhere Core ML cannot predict, so:

(a) structural checks of the saved mlpackage: it loads, input/output names and shapes, the MIL op types
    present, the compressed weights' storage (LUT sizes, int8 data, sparse masks), the spec version
    for the deployment target, and at float16 no constant beyond float16's range (`fp16.py`);
(b) simulated numerics (method "simulated"): every conv/linear weight stored in the package is
    decompressed in numpy (`weights.py`), mapped back onto the Keras layers (Core ML conv weights
    are OIHW, Keras HWIO; linear weights are transposed; batch norms that Core ML folded into the conv
    are folded the same way in the clone) and the original Keras model runs with those weights
    (PyTorch models: `runner_torch.simulate`, the same idea on the torch program).
    This reproduces the weight error of fp16 storage, quantization, palettization and sparsity exactly;
    a float16 package's activations are rounded through float16 op by op (`fp16_activations.py`), so an
    activation beyond float16's range overflows here as it would on the device.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from edge_sdk import deps
from edge_sdk.formats.coreml.exporter import SPEC_VERSION
from edge_sdk.formats.coreml import fp16_activations, interface
from edge_sdk.formats.coreml.fp16 import fp16_hazards
from edge_sdk.formats.coreml.weights import WeightOp, load_program, weight_ops

EXECUTED = sys.platform == "darwin"
EXPECTED_OPS = {
    "linear8": ("constexpr_affine_dequantize", "constexpr_blockwise_shift_scale"),
    "palettize4": ("constexpr_lut_to_dense",),
    "palettize6": ("constexpr_lut_to_dense",),
    "palettize8": ("constexpr_lut_to_dense",),
    "sparse": ("constexpr_sparse_to_dense",),
    "sparse-palettize4": ("constexpr_lut_to_sparse",),
}


def _storage(program) -> dict[str, list[str]]:
    """constexpr op type -> the dtypes/sizes its stored data uses (e.g. lut16:float16, data:int8)."""
    found: dict[str, set[str]] = {}
    for op in program.functions["main"].operations:
        if not op.op_type.startswith("constexpr"):
            continue
        for name, var in op.inputs.items():
            val = var.val
            if isinstance(val, np.ndarray) and name in ("lut", "quantized_data", "data", "indices", "indices_nonzero_data", "nonzero_data"):
                label = f"lut{val.shape[-2] if val.ndim > 1 else val.size}" if name == "lut" else name
                found.setdefault(op.op_type, set()).add(f"{label}:{val.dtype}")
    return {k: sorted(v) for k, v in sorted(found.items())}


def structural_checks(artifact) -> dict:
    ct = deps.coremltools()
    ct.models.MLModel(str(artifact.path), skip_model_load=True)  # raises if the package is malformed
    spec, program = load_program(Path(artifact.path))
    d = artifact.details
    problems = interface.problems(spec, program, d)
    inputs = {i.name: _input_shape(i, d) for i in spec.description.input}
    want_inputs = {i["name"]: list(i["shape"]) for i in d.get("inputs", [])}
    if want_inputs and inputs != want_inputs:
        problems.append(f"inputs {inputs} != expected {want_inputs}")
    outputs = [o.name for o in spec.description.output if o.name != spec.description.predictedFeatureName]
    if d.get("outputs") and outputs != d["outputs"]:
        problems.append(f"outputs {outputs} != expected {d['outputs']}")
    op_types = sorted({op.op_type for op in program.functions["main"].operations})
    compression = d.get("compression")
    if compression and not set(EXPECTED_OPS[compression]) & set(op_types):
        problems.append(f"no {' or '.join(EXPECTED_OPS[compression])} op for {compression} weights")
    storage = _storage(program)
    if compression and compression.startswith("palettize"):
        luts = {s for v in storage.values() for s in v if s.startswith("lut")}
        want = f"lut{2 ** int(compression[-1])}"
        if not all(s.startswith(want + ":") for s in luts):
            problems.append(f"palettized LUTs {sorted(luts)} are not {want}")
    if compression == "linear8" and not any(s.endswith(":int8") for v in storage.values() for s in v):
        problems.append("no int8 weight data for linear8")
    target = d.get("minimum_deployment_target")
    if target in SPEC_VERSION and spec.specificationVersion < SPEC_VERSION[target]:
        problems.append(f"spec version {spec.specificationVersion} is below {target} ({SPEC_VERSION[target]})")
    if d.get("compute_precision") == "float16":
        problems += fp16_hazards(program)
    if spec.WhichOneof("Type") != "mlProgram":
        problems.append(f"model type {spec.WhichOneof('Type')} is not mlProgram")
    return {
        "loads": True, "inputs": inputs, "outputs": outputs, "op_types": op_types, "weight_storage": storage,
        "spec_version": int(spec.specificationVersion), "deployment_target": target,
        "model_type": spec.WhichOneof("Type"), "problems": problems,
    }


def _input_shape(feature, details: dict) -> list[int]:
    """A multi-array input's shape; an image input's is the declared one once its size matched (problems)."""
    if feature.type.WhichOneof("Type") == "imageType":
        declared = {i["name"]: i["shape"] for i in details.get("inputs", [])}
        return list(declared.get(feature.name, []))
    return [int(x) for x in feature.type.multiArrayType.shape]


def _layer_for(op_name: str, layers: dict):
    padded = f"_{op_name}_"
    matches = [name for name in layers if f"_{name}_" in padded]
    return layers[max(matches, key=len)] if matches else None


def _keras_kernel(layer, wop: WeightOp, keras) -> tuple[str, np.ndarray]:
    """(attribute, value) of the Keras kernel that a Core ML weight corresponds to."""
    w = wop.weight
    L = keras.layers
    if isinstance(layer, L.Dense):
        return "kernel", w.T
    spatial = tuple(range(2, w.ndim))  # Core ML (Cout, Cin, *spatial) -> Keras (*spatial, Cin, Cout); Conv1D too
    depthwise = w.reshape(wop.groups, w.shape[0] // wop.groups, *w.shape[2:]).transpose(*spatial, 0, 1) if wop.groups > 1 else None
    if isinstance(layer, L.SeparableConv2D):
        return ("depthwise_kernel", depthwise) if wop.groups > 1 else ("pointwise_kernel", w.transpose(*spatial, 1, 0))
    if isinstance(layer, L.DepthwiseConv2D):
        return "depthwise_kernel", depthwise
    return "kernel", w.transpose(*spatial, 1, 0)


def _inbound(layer):
    nodes = layer.inbound_nodes
    inbound = nodes[0].inbound_layers if nodes else []
    return inbound[0] if isinstance(inbound, list) else inbound


def substitute(handle, wops: list[WeightOp]):
    """A clone of the Keras model carrying the Core ML weights; (clone, unmapped layer names).

    Weights are matched by the Keras layer name in the MIL op name. A weight op named otherwise (after
    the model's output, `Identity`, for a final Dense without activation; `conv_0` for a nameless
    classifier conv; after an `add` that coremltools fused into the conv's bias, as MobileNetV3's
    hard-sigmoid `x + 3` after a squeeze-excite conv) goes, in program order, to the first layer still
    without weights whose kernel has its size. Such a layer keeps its own bias: the fused one is not its
    bias alone (a bias is only rounded to float16 in the package, never compressed)."""
    keras = deps.tf_keras()
    clone = keras.models.clone_model(handle)
    clone.set_weights(handle.get_weights())
    layers = {layer.name: layer for layer in clone.layers}
    done: set[str] = set()
    nameless = []
    for wop in wops:
        layer = _layer_for(wop.name, layers)
        if layer is not None and _assign(layer, wop, keras):
            done.add(_inbound(layer).name if isinstance(layer, keras.layers.BatchNormalization) else layer.name)
        else:  # no layer of that name, or one the weight cannot be (an `add` layer for a fused bias add)
            nameless.append(wop)
    kernels = [l for l in clone.layers if l.weights and any(w.name.split("/")[-1].startswith(("kernel", "depthwise_kernel")) for w in l.weights)]
    for wop in nameless:
        sized = [l for l in kernels if l.name not in done and _keras_kernel(l, wop, keras)[1].size == wop.weight.size]
        if sized and _assign(sized[0], wop, keras, with_bias=False):
            done.add(sized[0].name)
    return clone, [l.name for l in kernels if l.name not in done]


def _assign(layer, wop: WeightOp, keras, with_bias: bool = True) -> bool:
    """Give `layer` the Core ML weight (and bias); a batch norm Core ML folded into its producer gives
    the producer the folded weight and becomes the identity. False when the weight is not this layer's."""
    bn = None
    if isinstance(layer, keras.layers.BatchNormalization):
        bn, layer = layer, _inbound(layer)
    attr, value = _keras_kernel(layer, wop, keras)
    if getattr(layer, attr, None) is None or value.size != int(np.prod(getattr(layer, attr).shape)):
        return False
    getattr(layer, attr).assign(value.reshape(getattr(layer, attr).shape))
    bias = wop.bias if with_bias else None
    if bn is not None:
        _neutral_bn(bn, None if getattr(layer, "use_bias", False) else bias)
    if bias is not None and getattr(layer, "use_bias", False) and (attr != "depthwise_kernel" or isinstance(layer, keras.layers.DepthwiseConv2D)):
        layer.bias.assign(bias.reshape(layer.bias.shape))
    return True


def _neutral_bn(bn, beta) -> None:
    """Make a batch norm the identity (plus `beta`), its effect being folded into the conv weights."""
    if bn.scale:
        bn.gamma.assign(np.ones(bn.gamma.shape, np.float32))
    if bn.center:
        bn.beta.assign(np.zeros(bn.beta.shape, np.float32) if beta is None else beta.reshape(bn.beta.shape))
    bn.moving_mean.assign(np.zeros(bn.moving_mean.shape, np.float32))
    bn.moving_variance.assign(np.full(bn.moving_variance.shape, 1.0 - bn.epsilon, np.float32))


def simulate(artifact, inputs: dict[str, np.ndarray], reference) -> list[np.ndarray]:
    _, program = load_program(Path(artifact.path))
    clone, unmapped = substitute(reference.handle, weight_ops(program))
    if unmapped:
        raise NotImplementedError(
            f"simulated numerics not possible: the Core ML weights of layers {', '.join(unmapped)} could not be "
            "mapped back onto the Keras model (structural checks only; verify on macOS)"
        )
    if float16_activations(artifact):
        clone = fp16_activations.keras_model(clone)
    arrays = list(inputs.values())
    out = clone.predict(arrays[0] if len(arrays) == 1 else arrays, batch_size=64, verbose=0)
    return [np.asarray(o, dtype=np.float32) for o in (out if isinstance(out, (list, tuple)) else [out])]


def float16_activations(artifact) -> bool:
    return artifact.details.get("compute_precision") == "float16"


def predict(artifact, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Real Core ML prediction (macOS only), one sample at a time. An image input gets the sample as
    pixels (`interface.pixels`), a classifier's label -> probability dictionary comes back as scores in
    label order (`interface.scores`)."""
    import json

    from PIL import Image

    ct = deps.coremltools()
    units = getattr(ct.ComputeUnit, artifact.details.get("compute_units", "ALL"))
    model = ct.models.MLModel(str(artifact.path), compute_units=units)
    images = {i["name"]: i for i in artifact.details.get("inputs", []) if "image" in i}
    labels = json.loads(model.user_defined_metadata.get("labels", "[]"))
    names = list(inputs)
    results: list[list[np.ndarray]] = []
    for s in range(len(inputs[names[0]])):
        feed = {n: Image.fromarray(interface.pixels(inputs[n][s], images[n])) if n in images else inputs[n][s : s + 1] for n in names}
        out = model.predict(feed)
        results.append([interface.scores(out[k], labels) for k in artifact.details["outputs"]])
    return [np.concatenate(parts) for parts in zip(*results)]


def run(artifact, inputs: dict[str, np.ndarray], reference=None) -> list[np.ndarray]:
    if EXECUTED:
        return predict(artifact, inputs)
    if reference is not None and reference.framework == "torch":
        from edge_sdk.formats.coreml import runner_torch

        return runner_torch.simulate(Path(artifact.path), reference, inputs, float16_activations(artifact))[0]
    if reference is None or reference.framework != "keras":
        raise NotImplementedError(
            "Core ML cannot predict on this OS and simulated numerics need the original Keras model; "
            "run verification on macOS for this model"
        )
    return simulate(artifact, inputs, reference)
