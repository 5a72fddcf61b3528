"""ExecuTorch `.pte` exporters: `pte` (XNNPACK delegate; Android, Jetson CPU) and `pte-coreml`
(the ExecuTorch Core ML partitioner; iOS).

A program with a dynamic batch is re-exported at batch 1 (what an app feeds; memory planning then
needs no upper bound); a static program keeps its exported batch
and lowered with `to_edge_transform_and_lower`. A model that ptq / qat (any mode)
already quantized is lowered as is; a float model asked for at int8 / dynamic-int8 is quantized here
with the same pt2e code (static int8 needs ExportConfig.calibration). Artifact.details records the
delegation coverage: graph nodes the backend took vs nodes left to the portable CPU kernels.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

from edge_sdk.frameworks.torch.graph import deploy_example, is_quantized, reexport
from edge_sdk.errors import ConfigError, ExportError
from edge_sdk.export.atomic import commit, make_artifact, staging
from edge_sdk.export.base import ExportConfig, register_exporter
from edge_sdk.model.types import LoadedModel
from edge_sdk.profiles import Profile
from edge_sdk.records import Artifact

PRECISIONS = ("float32", "int8", "dynamic-int8")
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


def _partitioner(backend: str) -> Any:
    if backend == "xnnpack":
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner

        return XnnpackPartitioner()
    from executorch.backends.apple.coreml.partition import CoreMLPartitioner

    return CoreMLPartitioner()


_MANIFEST_START = b'{\n    "fileFormatVersion"'


def canonical_manifests(buffer: bytes, seed: int) -> bytes:
    """Give each Core ML delegate's embedded mlpackage Manifest.json seed-derived item UUIDs.

    coremltools' native ModelPackage writer draws random UUIDs for the manifest items and lists them
    sorted by UUID; rewriting them (same length, entries ordered by path) keeps every offset in the
    program valid and makes the bytes reproducible.
    """
    start, n = 0, 0
    while (i := buffer.find(_MANIFEST_START, start)) >= 0:
        text = buffer[i:].decode("latin-1")
        manifest, end = json.JSONDecoder().raw_decode(text)
        entries = manifest.get("itemInfoEntries", {})
        renamed = {}
        for old, entry in sorted(entries.items(), key=lambda kv: kv[1].get("path", "")):
            renamed[old] = str(uuid.UUID(int=(seed << 64) + (n << 16) + len(renamed)))
        manifest["itemInfoEntries"] = {renamed[k]: v for k, v in entries.items()}
        manifest["rootModelIdentifier"] = renamed.get(manifest.get("rootModelIdentifier"), manifest.get("rootModelIdentifier"))
        new = json.dumps(manifest, indent=4, sort_keys=True).encode("latin-1")
        if len(new) != end:  # an unexpected layout: leave this manifest as it is rather than corrupt the program
            start = i + end
            continue
        buffer = buffer[:i] + new + buffer[i + end :]
        for old, fresh in renamed.items():
            buffer = buffer.replace(old.encode(), fresh.encode())
        start, n = i + end, n + 1
    return buffer


_IDENTIFIER = re.compile(rb"executorch_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def canonical_identifiers(buffer: bytes, seed: int) -> bytes:
    """The Core ML preprocessor names each delegate `executorch_<uuid4>` (the on-device compiled-model
    cache key); rename them, in order of appearance, to seed-derived UUIDs of the same length."""
    found = list(dict.fromkeys(m.group(0) for m in _IDENTIFIER.finditer(buffer)))
    for k, old in enumerate(found):
        buffer = buffer.replace(old, b"executorch_" + str(uuid.UUID(int=(seed << 64) + (1 << 48) + k)).encode())
    return buffer


def lower(model: LoadedModel, backend: str, seed: int = 0) -> tuple[bytes, dict[str, Any], tuple]:
    """The .pte bytes of `model` lowered to `backend`, its delegation coverage and the example it takes."""
    from executorch.exir import ExecutorchBackendConfig, to_edge_transform_and_lower

    static = reexport(model.handle.module(), model, deploy_example(model), static=True)
    try:
        edge = to_edge_transform_and_lower(static.handle, partitioner=[_partitioner(backend)])
        coverage = delegation(edge)
        # Quant fusion turns the weight-only embedding's dequantize (float zero points, which the
        # portable dequantize_per_channel kernel rejects; pytorch/executorch#6152 was never merged)
        # into quantized_decomposed.embedding_byte, which gathers rows and dequantizes only those.
        fuse = is_quantized(static.handle)
        buffer = edge.to_executorch(ExecutorchBackendConfig(do_quant_fusion_and_const_prop=fuse)).buffer
    except Exception as exc:  # noqa: BLE001 - lowering raises many types; the user can act on the message
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise ExportError(f"ExecuTorch lowering to {backend} failed: {first}") from None
    buffer = bytes(buffer)
    if backend == "coreml":
        buffer = canonical_identifiers(canonical_manifests(buffer, seed), seed)
    return buffer, coverage, static.example_inputs


def write_pte(fmt: str, backend: str, model: LoadedModel, config: ExportConfig, out_dir: Path) -> Artifact:
    start = time.perf_counter()
    model, precision, notes = prepared(model, config)
    buffer, coverage, example = lower(model, backend, config.seed)
    with staging(out_dir) as stage:
        (stage / "model.pte").write_bytes(buffer)
        files = commit(stage, out_dir)
    details = {
        "backend": backend,
        "batch": int(example[0].shape[0]),
        "inputs": [{"name": s.name, "shape": list(x.shape), "dtype": s.dtype} for s, x in zip(model.inputs, example)],
        "delegation": coverage,
        "export_s": round(time.perf_counter() - start, 3),
        "notes": notes,
    }
    return make_artifact(fmt, out_dir / "model.pte", files, precision, TOOLS, details)


@register_exporter("pte")
def export(model: LoadedModel, profile: Profile, config: ExportConfig, out_dir: Path) -> Artifact:
    return write_pte("pte", "xnnpack", model, config, out_dir)


@register_exporter("pte-coreml")
def export_coreml(model: LoadedModel, profile: Profile, config: ExportConfig, out_dir: Path) -> Artifact:
    if config.precision != "float32" or (model.framework == "torch" and is_quantized(model.handle)):
        raise ConfigError(
            "pte-coreml lowers float32 programs only (the XNNPACK int8 quantization does not carry over to "
            "Core ML); for a smaller iOS model use the coreml format with a coreml_compression"
        )
    return write_pte("pte-coreml", "coreml", model, config, out_dir)
