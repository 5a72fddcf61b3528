"""ExecuTorch `.pte` exporter ("pte", XNNPACK delegate; Android, Jetson CPU) and the lowering it shares
with `pte-coreml` (the Core ML partitioner, `formats/pte_coreml/`).

A program with a dynamic batch is re-exported at batch 1 (what an app feeds; memory planning then
needs no upper bound); a static program keeps its exported batch; both are lowered with
`to_edge_transform_and_lower`. For XNNPACK, scaled_dot_product_attention is first written out as explicit
matmul / softmax (attention.py: 1.5-2.3x faster on an encoder, measured). A model that ptq / qat (any mode)
already quantized is lowered as is; a float model asked for at int8 / dynamic-int8 is quantized here
with the same pt2e code (static int8 needs ExportConfig.calibration), at float16 converted to a float16
program with float32 I/O (float16.py). Artifact.details records the
delegation coverage: graph nodes the backend took vs nodes left to the portable CPU kernels.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from edge_sdk.frameworks.torch.graph import deploy_example, is_quantized, reexport
from edge_sdk.errors import ConfigError
from edge_sdk.formats.base import ExportConfig, export_errors
from edge_sdk.formats.common.atomic import commit, make_artifact, staging
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.profiles import Profile
from edge_sdk.contracts.records import Artifact

PRECISIONS = ("float32", "float16", "int8", "dynamic-int8")
TOOLS = ("torch", "executorch", "torchao")


def quantized_precision(ep: Any) -> str | None:
    """int8 | dynamic-int8 for a pt2e-quantized program (dynamic ones choose qparams at run time), else None."""
    if not is_quantized(ep):
        return None
    dynamic = any("choose_qparams" in str(n.target) for n in ep.graph.nodes if n.op == "call_function")
    return "dynamic-int8" if dynamic else "int8"


def prepared(model: LoadedModel, config: ExportConfig) -> tuple[LoadedModel, str, list[str]]:
    """(model to lower, its precision, notes): quantize a float model when config.precision asks for it."""
    if model.framework != "torch":
        raise ConfigError(f"the pte exporters take PyTorch models; got a {model.framework} model (use tflite or coreml)")
    if config.precision not in PRECISIONS:
        raise ConfigError(f"pte precision {config.precision!r} is not supported; valid: {', '.join(PRECISIONS)}")
    done = quantized_precision(model.handle)
    if done is not None:
        notes = [] if config.precision in (done, "float32") else [f"model already quantized ({done}); lowered as is"]
        return model, done, notes
    if config.precision == "float32":
        return model, "float32", []
    if config.precision == "float16":
        from edge_sdk.formats.executorch.float16 import float16_program

        return float16_program(model), "float16", []
    from edge_sdk.frameworks.torch.techniques.ptq import quantize

    quantized, record = quantize(
        model, config.calibration, mode=config.precision, config={"max_samples": config.max_calibration_samples}
    )
    return quantized, config.precision, [f"quantized at export: {record.metrics}"]


def delegation(edge: Any) -> dict[str, Any]:
    """Nodes delegated to the backend vs left to portable kernels, per op."""
    from executorch.devtools.backend_debug import get_delegation_info

    info = get_delegation_info(edge.exported_program().graph_module)
    total = info.num_delegated_nodes + info.num_non_delegated_nodes
    portable = {op: b.non_delegated for op, b in sorted(info.delegation_by_operator.items()) if b.non_delegated}
    return {
        "delegated_nodes": info.num_delegated_nodes,
        "portable_nodes": info.num_non_delegated_nodes,
        "coverage": round(info.num_delegated_nodes / total, 4) if total else 0.0,
        "delegated_subgraphs": info.num_delegated_subgraphs,
        "portable_ops": portable,
    }


def xnnpack_partitioner() -> Any:
    from edge_sdk.formats.executorch.xnnpack_prelu import partitioner

    return partitioner()


GraphPass = Callable[[Any], int]


def lower(model: LoadedModel, backend: str, partitioner: Any,
          graph_pass: GraphPass | None = None) -> tuple[bytes, dict[str, Any], tuple]:
    """The .pte bytes of `model` lowered to `backend`, its delegation coverage and the example it takes.
    `graph_pass` edits the program's graph module in place before the re-export (returns nodes changed)."""
    from executorch.exir import ExecutorchBackendConfig, to_edge_transform_and_lower

    module = model.handle.module()
    rewritten = graph_pass(module) if graph_pass else 0
    static = reexport(module, model, deploy_example(model), static=True)
    failed = f"ExecuTorch lowering to {backend} failed"
    with export_errors(failed):
        edge = to_edge_transform_and_lower(static.handle, partitioner=[partitioner])
    coverage = {**delegation(edge), "rewritten_nodes": rewritten}
    # Quant fusion turns the weight-only embedding's dequantize (float zero points, which the
    # portable dequantize_per_channel kernel rejects; pytorch/executorch#6152 was never merged)
    # into quantized_decomposed.embedding_byte, which gathers rows and dequantizes only those.
    backend_config = ExecutorchBackendConfig(do_quant_fusion_and_const_prop=is_quantized(static.handle))
    with export_errors(failed):
        buffer = edge.to_executorch(backend_config).buffer
    return bytes(buffer), coverage, static.example_inputs


def input_details(spec: Any, example: Any) -> dict[str, Any]:
    """An input as the .pte takes it: the shape the runners feed (a dim with a declared range, such as a
    sequence length, at its maximum: latency is measured at the longest input) and those ranges."""
    ranges = {str(i): list(r) for i, r in enumerate(spec.ranges) if r is not None and i > 0 and r[1] is not None}
    shape = [ranges[str(i)][1] if str(i) in ranges else int(d) for i, d in enumerate(example.shape)]
    return {"name": spec.name, "shape": shape, "dtype": spec.dtype, **({"ranges": ranges} if ranges else {})}


def write_pte(fmt: str, backend: str, partitioner: Callable[[], Any], model: LoadedModel, config: ExportConfig,
              out_dir: Path, canonical: Callable[[bytes, int], bytes] | None = None,
              graph_pass: GraphPass | None = None) -> Artifact:
    """Prepare, lower and write NAME.pte (the model's name); `canonical(buffer, seed)` makes a backend's bytes reproducible,
    `graph_pass` rewrites the graph for the backend (see lower)."""
    start = time.perf_counter()
    model, precision, notes = prepared(model, config)
    buffer, coverage, example = lower(model, backend, partitioner(), graph_pass)
    if canonical is not None:
        buffer = canonical(buffer, config.seed)
    name = f"{config.metadata.file_stem}.pte"
    with staging(out_dir) as stage:
        (stage / name).write_bytes(buffer)
        files = commit(stage, out_dir)
    details = {
        "backend": backend,
        "batch": int(example[0].shape[0]),
        "inputs": [input_details(s, x) for s, x in zip(model.inputs, example)],
        "delegation": coverage,
        "export_s": round(time.perf_counter() - start, 3),
        "notes": notes,
    }
    return make_artifact(fmt, out_dir / name, files, precision, TOOLS, details)


def export(model: LoadedModel, profile: Profile, config: ExportConfig, out_dir: Path) -> Artifact:
    from edge_sdk.formats.executorch.attention import write_out_attention

    return write_pte("pte", "xnnpack", xnnpack_partitioner, model, config, out_dir, graph_pass=write_out_attention)
