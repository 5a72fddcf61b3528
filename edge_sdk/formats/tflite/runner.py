"""LiteRT (ai-edge-litert) runner for `.tflite` artifacts: the runtime Android apps ship."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np

from edge_sdk import deps
from edge_sdk.errors import VerificationError, first_line
from edge_sdk.formats.common.quant import from_output, to_input

BATCH = 64


def model_bytes(artifact_or_bytes) -> bytes:
    """The flatbuffer of an Artifact (its main file), a path, or bytes as given."""
    if isinstance(artifact_or_bytes, (bytes, bytearray)):
        return bytes(artifact_or_bytes)
    path = artifact_or_bytes if isinstance(artifact_or_bytes, (str, Path)) else artifact_or_bytes.path
    return Path(path).read_bytes()


def is_input_tensor(tensor_name: str, input_name: str) -> bool:
    """The converter names a model input's tensor `serving_default_NAME:0` (or keeps NAME)."""
    return tensor_name in (input_name, f"serving_default_{input_name}:0")


def input_order(details: list[dict], names: list[str]) -> list[int]:
    """For each model input name, the interpreter input index (by tensor name, else by position)."""
    order = []
    for pos, name in enumerate(names):
        match = [i for i, d in enumerate(details) if is_input_tensor(d["name"], name)]
        order.append(match[0] if match else pos)
    return order


def output_order(interp, names: list[str]) -> list[int]:
    """For each model output name, the LiteRT interpreter's output position, by the file's signature:
    the converter may list a multi-output model's outputs in another order than the model (MTCNN's
    RNet: class scores before boxes). Positional when the signature does not name every output."""
    positions = [d["index"] for d in interp.get_output_details()]
    if len(names) != len(positions) or len(names) < 2:
        return list(range(len(positions)))
    signatures = interp.get_signature_list()
    if len(signatures) != 1:
        return list(range(len(positions)))
    by_name = interp.get_signature_runner(next(iter(signatures))).get_output_details()
    keys = [name if name in by_name else name.split("/")[0] for name in names]  # Keras: layer/op tensor names
    if sorted(keys) != sorted(by_name):
        return list(range(len(positions)))
    return [positions.index(by_name[key]["index"]) for key in keys]


def output_names_of(reference) -> list[str]:
    return [spec.name for spec in reference.outputs] if reference is not None else []


def run(artifact_or_bytes, inputs: dict[str, np.ndarray], reference=None) -> list[np.ndarray]:
    """LiteRT as apps run it: optimized builtin kernels with the default XNNPACK delegate."""
    return _run(artifact_or_bytes, inputs, output_names_of(reference), reference_kernels=False)


def run_named(artifact_or_bytes, inputs: dict[str, np.ndarray], output_names: list[str]) -> list[np.ndarray]:
    """`run` for callers holding output names rather than a LoadedModel (the converter's own checks)."""
    return _run(artifact_or_bytes, inputs, output_names, reference_kernels=False)


def run_reference_kernels(artifact_or_bytes, inputs: dict[str, np.ndarray], reference=None) -> list[np.ndarray]:
    """LiteRT's reference kernels, no delegates: what TFLite Micro's kernels are derived from, so a TFLM
    artifact is expected to match them bit for bit (XNNPACK may round int8 differently by many LSBs)."""
    return _run(artifact_or_bytes, inputs, output_names_of(reference), reference_kernels=True)


def each_sample(flatbuffer: bytes, inputs: dict[str, np.ndarray]) -> Iterator[Any]:
    """The interpreter after running each sample alone with every tensor kept (LiteRT's reference
    kernels, no delegate, so intermediate tensors are all computed and readable): for passes that read
    a float model's activations (int8-tuned's ranges, bias correction)."""
    resolver = deps.module("ai_edge_litert.interpreter").OpResolverType.BUILTIN_REF
    interpreter = deps.litert_interpreter()(model_content=flatbuffer, experimental_preserve_all_tensors=True,
                                            experimental_op_resolver_type=resolver)
    interpreter.allocate_tensors()
    details = interpreter.get_input_details()
    names = list(inputs)
    for s in range(len(inputs[names[0]])):
        for name, index in zip(names, input_order(details, names)):
            interpreter.set_tensor(details[index]["index"], inputs[name][s:s + 1].astype(details[index]["dtype"]))
        interpreter.invoke()
        yield interpreter


def _static_batch(details: list[dict]) -> int | None:
    """The batch a model was converted at when it is fixed (recurrent models: batch 1), else None."""
    fixed = [int(d["shape_signature"][0]) for d in details if len(d["shape_signature"]) and d["shape_signature"][0] > 0]
    return fixed[0] if fixed else None


def _run(artifact_or_bytes, inputs: dict[str, np.ndarray], output_names: list[str], reference_kernels: bool) -> list[np.ndarray]:
    Interpreter = deps.litert_interpreter()
    kwargs = {}
    if reference_kernels:
        kwargs["experimental_op_resolver_type"] = deps.module("ai_edge_litert.interpreter").OpResolverType.BUILTIN_REF
    interp = Interpreter(model_content=model_bytes(artifact_or_bytes), num_threads=1, **kwargs)
    in_details = interp.get_input_details()
    order = input_order(in_details, list(inputs))
    arrays = list(inputs.values())
    n = len(arrays[0])
    batch = _static_batch(in_details) or BATCH
    outs: list[list[np.ndarray]] = []
    for start in range(0, n, batch):
        chunk = [a[start : start + batch] for a in arrays]
        for arr, idx in zip(chunk, order):
            interp.resize_tensor_input(in_details[idx]["index"], list(arr.shape))
        try:
            interp.allocate_tensors()
        except RuntimeError as exc:
            if "delegate" not in str(exc).lower():
                raise
            raise VerificationError(
                f"LiteRT's default XNNPACK delegate cannot prepare this artifact ({first_line(exc)}); an app "
                "loading it with default options fails the same way"
            ) from exc
        details = interp.get_input_details()
        for arr, idx in zip(chunk, order):
            interp.set_tensor(details[idx]["index"], to_input(arr, details[idx]))
        interp.invoke()
        outs.append([from_output(interp.get_tensor(d["index"]), d) for d in interp.get_output_details()])
    merged = [np.concatenate(parts) for parts in zip(*outs)]
    return [merged[i] for i in output_order(interp, output_names)]
