"""Regenerate the op lists in device_profiles/*.yaml from the installed runtimes (deterministic).

Each profile's `runtime.ops` block sits between two marker lines:

    # BEGIN GENERATED ops: tflite=tflm aten=xnnpack
    ...
    # END GENERATED ops

The BEGIN line names, per op vocabulary, which source fills it:

    litert        LiteRT builtin operators that have a kernel in the installed ai-edge-litert runtime
                  (BuiltinOperator names of its schema with a tflite::ops::builtin::Register_<NAME> symbol)
    tflm          builtin operators the installed tflite-micro runtime registers (Register_<NAME> symbols in
                  its _runtime.so, i.e. what MicroMutableOpResolver::Add<Name>() can add), schema names only
    coreml-iOS17  Core ML MIL ops of that opset in the installed coremltools' op registry (internal `_` ops left out)
    xnnpack       the aten ops ExecuTorch's XnnpackPartitioner delegates (ALL_PARTITIONER_CONFIGS targets)
    coreml-aten   the aten ops ExecuTorch's CoreMLPartitioner delegates: coremltools' torch frontend ops,
                  minus the partitioner's explicit exclusions; every non-`out` overload of each op

The YAML files are the committed truth; this script only rewrites those blocks.
    python scripts/gen_profile_ops.py           rewrite the blocks
    python scripts/gen_profile_ops.py --check   exit 1 if a block differs from the installed runtimes
"""

from __future__ import annotations

import argparse
import re
import site
import sys
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ROOT / "device_profiles"
BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN GENERATED ops: (?P<spec>.+)$")
END = "# END GENERATED ops"
WIDTH = 110


def _site_file(rel: str) -> Path:
    for base in site.getsitepackages():
        if (Path(base) / rel).is_file():
            return Path(base) / rel
    raise SystemExit(f"{rel} not found in site-packages; install edge-sdk[all]")


def _schema_builtins() -> set[str]:
    from ai_edge_litert import schema_py_generated as schema

    return {k for k in vars(schema.BuiltinOperator) if k.isupper()}


def _registered(so_rel: str, pattern: bytes) -> set[str]:
    data = _site_file(so_rel).read_bytes()
    return {m.decode() for m in re.findall(pattern, data)}


@lru_cache(maxsize=None)
def litert() -> tuple[str, ...]:
    kernels = _registered("ai_edge_litert/libpywrap_litert_common.so", rb"_ZN6tflite3ops7builtin\d+Register_([A-Z0-9_]+)Ev")
    return tuple(sorted(kernels & _schema_builtins()))


@lru_cache(maxsize=None)
def tflm() -> tuple[str, ...]:
    kernels = _registered("tflite_micro/python/tflite_micro/_runtime.so", rb"Register_([A-Z0-9_]+)Ev")
    return tuple(sorted(kernels & _schema_builtins()))


@lru_cache(maxsize=None)
def coreml(opset: str) -> tuple[str, ...]:
    import coremltools as ct
    from coremltools.converters.mil.mil.ops.registry import SSAOpRegistry

    target = getattr(ct.target, opset)
    ops = (name for name, versions in SSAOpRegistry.core_ops.items() if target in versions)
    return tuple(sorted(op for op in ops if not op.startswith("_")))  # `_const_symbolic` etc. are internal


def _qualified(name: str) -> str:
    """Partitioner configs match `OpOverload.__name__` (no namespace); put the namespace back."""
    if name.endswith("_affine.default") or name.startswith("choose_qparams_affine"):
        return f"torchao.{name}"
    if name.startswith(("quantize_per_tensor", "dequantize_per_tensor")):
        return f"quantized_decomposed.{name}"
    return f"aten.{name}"


@lru_cache(maxsize=None)
def xnnpack() -> tuple[str, ...]:
    from executorch.backends.xnnpack.partition.config import ALL_PARTITIONER_CONFIGS

    return tuple(sorted({_qualified(cfg.target_name) for cfg in ALL_PARTITIONER_CONFIGS}))


@lru_cache(maxsize=None)
def coreml_aten() -> tuple[str, ...]:
    import torch
    from coremltools.converters.mil.frontend.torch.torch_op_registry import _TORCH_OPS_REGISTRY
    from executorch.backends.apple.coreml.partition import coreml_partitioner

    excluded = {str(t) for t in getattr(coreml_partitioner, "_UNSUPPORTED_OP_TARGETS", ())}
    ops = set()
    for name in _TORCH_OPS_REGISTRY.name_to_func_mapping:
        try:
            packet = getattr(torch.ops.aten, name)
        except (AttributeError, RuntimeError):  # a frontend alias with no aten op of that name
            continue
        for overload in packet.overloads():
            qualified = f"aten.{name}.{overload}"
            if "out" not in overload.split("_") and qualified not in excluded:
                ops.add(qualified)
    return tuple(sorted(ops))


def source_ops(key: str) -> tuple[str, ...]:
    if key.startswith("coreml-iOS"):
        return coreml(key.split("-", 1)[1])
    return {"litert": litert, "tflm": tflm, "xnnpack": xnnpack, "coreml-aten": coreml_aten}[key]()


def _flow_list(ops: tuple[str, ...], indent: str) -> list[str]:
    lines, line = [], indent + "  "
    for op in ops:
        piece = op + ", "
        if len(line) + len(piece) > WIDTH and line.strip():
            lines.append(line.rstrip())
            line = indent + "  "
        line += piece
    lines.append(line.rstrip().rstrip(","))
    return lines


def render(spec: str, indent: str) -> list[str]:
    out = []
    for item in spec.split():
        vocab, key = item.split("=", 1)
        ops = source_ops(key)
        out.append(f"{indent}{vocab}:  # {len(ops)} ops from {key}")
        out.append(f"{indent}  [")
        out.extend(_flow_list(ops, indent + "  "))
        out.append(f"{indent}  ]")
    return out


def regenerate(text: str) -> str:
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        m = BEGIN.match(lines[i])
        out.append(lines[i])
        i += 1
        if not m:
            continue
        while i < len(lines) and lines[i].strip() != END:
            i += 1
        if i == len(lines):
            raise SystemExit(f"missing '{END}' after: {m.group(0).strip()}")
        out.extend(render(m.group("spec").strip(), m.group("indent")))
        out.append(lines[i])
        i += 1
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when a block differs")
    parser.add_argument("files", nargs="*", type=Path, help="profiles to process (default: all built-ins)")
    args = parser.parse_args(argv)
    stale = []
    for path in args.files or sorted(PROFILES.glob("*.yaml")):
        old = path.read_text()
        new = regenerate(old)
        if new != old:
            stale.append(path)
            if not args.check:
                path.write_text(new)
    if args.check and stale:
        print("op lists differ from the installed runtimes: " + ", ".join(p.name for p in stale))
        return 1
    print(("checked " if args.check else "regenerated ") + f"{len(args.files) or len(list(PROFILES.glob('*.yaml')))} profiles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
