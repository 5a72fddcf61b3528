"""PyTorch frontend: `.pt2` files (torch.export.save) and in-memory modules, as ExportedPrograms.

Why a safety scan first: `torch.export.load` (torch 2.13) is not a weights-only loader. It reads
pickled weights/constants with `torch.load(..., weights_only=False)`, custom objects with
`pickle.loads`, falls back to `weights_only=False` for the example inputs, and can load AOTInductor
native libraries. So, unless `trust_model=True`, every pickled member of the archive must load with
the restricted `torch.load(weights_only=True)` unpickler first, and archives holding custom/opaque
objects, AOTInductor code or the legacy (pre-2.7) layout are refused before anything is deserialised.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any, Sequence

from edge_sdk import deps
from edge_sdk.errors import ModelLoadError, first_line
from edge_sdk.contracts.model import FrontendResult, LoadedModel, TensorSpec

PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".bin")
_TRUST_HINT = "re-save it with torch.export.save from plain tensors, or pass --trust-model if you trust this file"


def detect(path: Path) -> str:
    """pt2; pickled PyTorch files (.pt, .pth, ...) are refused, never unpickled."""
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise ModelLoadError(
            f"{path}: pickled PyTorch files are not loaded; save the model with torch.export.save(ep, 'model.pt2')"
        )
    return "pt2"


def _safe_unpickle_check(path: Path, name: str, blob: bytes) -> None:
    torch = deps.torch()
    try:
        torch.load(io.BytesIO(blob), weights_only=True)
    except Exception as exc:  # the restricted unpickler refuses anything but tensors/containers
        first = first_line(exc)
        raise ModelLoadError(f"{path}: member {name} holds pickled objects beyond tensors ({first[:120]}); {_TRUST_HINT}") from exc


def scan_archive(path: Path) -> None:
    """Refuse (ModelLoadError) anything in a .pt2 that torch.export.load would unpickle unsafely or execute."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelLoadError(f"{path}: not a torch.export .pt2 archive ({exc})") from exc
    with zf:
        names = zf.namelist()
        rel = {n.split("/", 1)[1] if "/" in n else n: n for n in names}
        if "archive_format" not in rel:
            raise ModelLoadError(f"{path}: a legacy (pre-torch-2.7) or foreign .pt2 layout, which is loaded with pickle; {_TRUST_HINT}")
        for r, full in rel.items():
            if r.startswith("data/aotinductor/"):
                raise ModelLoadError(f"{path}: holds AOTInductor native code ({r}); {_TRUST_HINT}")
            if r.startswith("data/sample_inputs/") or (r.startswith(("data/weights/", "data/constants/")) and r.endswith(".pt")):
                _safe_unpickle_check(path, r, zf.read(full))
        for r, full in rel.items():
            if not (r.startswith(("data/weights/", "data/constants/")) and r.endswith("_config.json")):
                continue
            folder = r.rsplit("/", 1)[0]
            for fqn, meta in json.loads(zf.read(full)).get("config", {}).items():
                member = meta.get("path_name", "")
                if member.startswith(("custom_obj", "opaque_obj")):
                    raise ModelLoadError(f"{path}: constant {fqn} is a pickled custom object; {_TRUST_HINT}")
                if meta.get("use_pickle"):
                    _safe_unpickle_check(path, f"{folder}/{member}", zf.read(rel[f"{folder}/{member}"]))


def _dim(d: Any) -> int | None:
    return d if isinstance(d, int) else None


def dynamic_dims(ep: Any) -> list[dict[int, tuple[str, int, int | None]]]:
    """Per user input of the program: dim -> (its symbol, min, max or None when unbounded) for every dim
    the program leaves dynamic (a batch, a sequence length)."""
    nodes = {n.name: n for n in ep.graph.nodes}
    found = []
    for name in ep.graph_signature.user_inputs:
        dims = {}
        for i, d in enumerate(getattr(nodes[name].meta.get("val"), "shape", ())):
            if isinstance(d, int):
                continue
            expr = getattr(getattr(d, "node", None), "expr", None)
            bounds = ep.range_constraints.get(expr)
            dims[i] = (str(expr), *(_bounds(bounds) if bounds is not None else (1, None)))
        found.append(dims)
    return found


def _bounds(bounds: Any) -> tuple[int, int | None]:
    # torch's integer infinity (int_oo) claims is_finite, so unboundedness is tested by name too
    unbounded = bounds.upper.is_finite is False or type(bounds.upper).__name__ == "IntInfinity"
    return int(bounds.lower), None if unbounded else int(bounds.upper)


def _spec(name: str, val: Any, dynamic: dict[int, tuple[str, int, int | None]] | None = None) -> TensorSpec:
    dtype = str(val.dtype).replace("torch.", "")
    shape = tuple(_dim(d) for d in val.shape)
    ranges = tuple((dynamic[i][1], dynamic[i][2]) if i in dynamic else None for i in range(len(shape))) if dynamic else ()
    return TensorSpec(name, shape, dtype, ranges)


def _specs(ep: Any) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    sig = ep.graph_signature
    nodes = {n.name: n for n in ep.graph.nodes}
    inputs = tuple(_spec(name, nodes[name].meta["val"], dims) for name, dims in zip(sig.user_inputs, dynamic_dims(ep)))
    out_node = next(n for n in ep.graph.nodes if n.op == "output")
    vals = [a.meta.get("val") if hasattr(a, "meta") else None for a in out_node.args[0]]
    user = vals[len(vals) - len(sig.user_outputs):]
    outputs = tuple(_spec(f"output_{i}" if len(user) > 1 else "output", v) for i, v in enumerate(user) if v is not None)
    return inputs, outputs


def from_program(ep: Any) -> FrontendResult:
    """Specs and example inputs of an ExportedProgram (names = the forward() argument names)."""
    torch = deps.torch()
    if not isinstance(ep, torch.export.ExportedProgram):
        raise ModelLoadError(f"expected a torch.export.ExportedProgram, got {type(ep).__name__}")
    inputs, outputs = _specs(ep)
    example = ep.example_inputs[0] if ep.example_inputs else None
    if example is None or len(example) != len(inputs):
        example = tuple(torch.zeros([d or 1 for d in s.shape], dtype=getattr(torch, s.dtype)) for s in inputs)
    return FrontendResult("torch", ep, inputs, outputs, example_inputs=tuple(example))


def load(path: Path, *, trust_model: bool = False) -> FrontendResult:
    torch = deps.torch()
    if not trust_model:
        scan_archive(path)
    try:
        ep = torch.export.load(str(path))
    except Exception as exc:  # noqa: BLE001 - corrupt archives raise many types
        first = first_line(exc)
        raise ModelLoadError(f"{path}: cannot load as a torch.export program: {first}") from exc
    return from_program(ep)


def export_module(module: Any, example_inputs: Sequence[Any]) -> Any:
    """torch.export an eval-mode nn.Module, batch dim dynamic where the model allows it (Dim.AUTO)."""
    torch = deps.torch()
    example = tuple(torch.as_tensor(x) for x in example_inputs)
    dynamic = tuple({0: torch.export.Dim.AUTO} if x.ndim else None for x in example)
    try:
        return torch.export.export(module.eval(), example, dynamic_shapes=dynamic)
    except Exception as exc:  # noqa: BLE001 - export raises many error types
        first = first_line(exc)
        raise ModelLoadError(f"torch.export cannot trace {type(module).__name__}: {first}") from exc


def is_torch_model(model: Any) -> bool:
    """ExportedPrograms, nn.Modules (also duck-typed ones) and (nn.Module, example_inputs) pairs."""
    if type(model).__module__.startswith("torch") or (isinstance(model, tuple) and len(model) == 2):
        return True
    return hasattr(model, "parameters") and hasattr(model, "forward")


def wrap(model: Any, example_inputs: Any = None) -> LoadedModel:
    """An ExportedProgram, an `(nn.Module, example_inputs)` pair, or an nn.Module plus example_inputs."""
    torch = deps.torch()
    if isinstance(model, tuple) and len(model) == 2:
        model, example_inputs = model
    if not isinstance(model, torch.export.ExportedProgram):
        if not isinstance(model, torch.nn.Module):
            raise ModelLoadError(f"cannot use an in-memory {type(model).__name__}; pass an nn.Module or an ExportedProgram")
        if example_inputs is None:
            raise ModelLoadError(f"{type(model).__name__}: an nn.Module needs example_inputs (a tuple of tensors) to be exported")
        if not isinstance(example_inputs, (tuple, list)):
            example_inputs = (example_inputs,)
        model = export_module(model, example_inputs)
    loaded = from_program(model)
    return LoadedModel(
        framework="torch", handle=loaded.handle, inputs=loaded.inputs, outputs=loaded.outputs,
        source_format="memory", example_inputs=loaded.example_inputs,
    )
