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
    xnnpack       the aten ops ExecuTorch's XnnpackPartitioner delegates: its ALL_PARTITIONER_CONFIGS targets
                  (Edge-dialect names such as aten.convolution.default) plus the torch.export names
                  (aten.conv2d.default, as edge-sdk's analysis reports them) of common layers whose probe
                  lowered completely into the XNNPACK delegate
    coreml-aten   the aten ops ExecuTorch's CoreMLPartitioner delegates: coremltools' torch frontend ops,
                  minus the partitioner's explicit exclusions; every non-`out` overload of each op

The YAML files are the committed truth; this script only rewrites those blocks.
    python scripts/gen_profile_ops.py           rewrite the blocks
    python scripts/gen_profile_ops.py --check   exit 1 if a block differs from the installed runtimes
    add --skip-probes to reuse the committed XNNPACK probe results (lowering the probes takes minutes)
"""

from __future__ import annotations

import argparse
import re
import site
import sys
from functools import lru_cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ROOT / "device_profiles"
BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN GENERATED ops: (?P<spec>.+)$")
END = "# END GENERATED ops"
WIDTH = 110


def _site_file(rel: str) -> Path:
    for base in site.getsitepackages():
        if (Path(base) / rel).is_file():
            return Path(base) / rel
    raise SystemExit(f"{rel} not found in site-packages; install the project with its [all] extra: pip install -e '.[all]'")


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
    """Partitioner targets (Edge-dialect names) + the torch.export names of layers that lower onto them."""
    from executorch.backends.xnnpack.partition.config import ALL_PARTITIONER_CONFIGS

    targets = {_qualified(cfg.target_name) for cfg in ALL_PARTITIONER_CONFIGS}
    return tuple(sorted(targets | _xnnpack_probe_ops()))


def _probes() -> dict:
    """One small module per common layer; each gets a relu before and after so no probe is a lone op."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Fn(nn.Module):
        def __init__(self, fn):
            super().__init__()
            self.fn = fn

        def forward(self, x):
            return self.fn(x)

    return {
        "conv2d": nn.Conv2d(4, 4, 3), "depthwise": nn.Conv2d(4, 4, 3, groups=4),
        "conv_transpose2d": nn.ConvTranspose2d(4, 4, 2), "linear": nn.Linear(4, 8),
        "relu": nn.ReLU(), "relu6": nn.ReLU6(), "hardswish": nn.Hardswish(), "hardsigmoid": nn.Hardsigmoid(),
        "sigmoid": nn.Sigmoid(), "tanh": nn.Tanh(), "gelu": nn.GELU(), "silu": nn.SiLU(), "leaky_relu": nn.LeakyReLU(),
        "elu": nn.ELU(), "prelu": nn.PReLU(), "softmax": nn.Softmax(-1), "log_softmax": nn.LogSoftmax(-1),
        "batch_norm": nn.BatchNorm2d(4), "layer_norm": nn.LayerNorm(8), "max_pool": nn.MaxPool2d(2),
        "avg_pool": nn.AvgPool2d(2), "global_avg_pool": nn.AdaptiveAvgPool2d(1), "flatten": nn.Flatten(),
        "dropout": nn.Dropout(0.5), "upsample_bilinear": nn.Upsample(scale_factor=2, mode="bilinear"),
        "upsample_nearest": nn.Upsample(scale_factor=2, mode="nearest"), "zero_pad": nn.ZeroPad2d(1),
        "pad": Fn(lambda x: F.pad(x, (1, 1, 1, 1))), "add": Fn(lambda x: x + x), "sub": Fn(lambda x: x - 1.0),
        "mul": Fn(lambda x: x * x), "div": Fn(lambda x: x / 3.0), "cat": Fn(lambda x: torch.cat([x, x * 2], 1)),
        "reshape": Fn(lambda x: x.reshape(1, -1)), "view": Fn(lambda x: x.view(1, 4, 64)),
        "permute": Fn(lambda x: x.permute(0, 2, 3, 1)), "transpose": Fn(lambda x: x.transpose(1, 2)),
        "unsqueeze": Fn(lambda x: x.unsqueeze(0)), "squeeze": Fn(lambda x: x.squeeze(0)),
        "slice": Fn(lambda x: x[:, :, 1:5]), "mean": Fn(lambda x: x.mean((2, 3), keepdim=True)),
        "sum": Fn(lambda x: x.sum(1)), "matmul": Fn(lambda x: x @ x), "clamp": Fn(lambda x: x.clamp(-1, 1)),
        "abs": Fn(torch.abs), "exp": Fn(torch.exp), "sqrt": Fn(torch.sqrt), "maximum": Fn(lambda x: torch.maximum(x, x * 2)),
    }


SKIP_PROBES = False  # --skip-probes: keep the committed probe results (lowering the probes takes minutes)


def _committed_probe_ops() -> set[str]:
    from executorch.backends.xnnpack.partition.config import ALL_PARTITIONER_CONFIGS

    ops = yaml.safe_load((PROFILES / "pixel-8.yaml").read_text())["runtime"]["ops"]["aten"]
    return set(ops) - {_qualified(cfg.target_name) for cfg in ALL_PARTITIONER_CONFIGS}


@lru_cache(maxsize=None)
def _xnnpack_probe_ops() -> set[str]:
    """torch.export op names (what edge-sdk's analysis reports) of the probes XNNPACK delegated completely.

    Lowering one module that holds every probe with ExecuTorch's XnnpackPartitioner; an op is listed when
    every probe that uses it ended up inside a delegate (nothing of the probe left on the portable CPU ops).
    """
    if SKIP_PROBES:
        return _committed_probe_ops()
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    probes = _probes()

    class All(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.p = torch.nn.ModuleDict(probes)

        def forward(self, x):
            outs = []
            for name, probe in self.p.items():
                inp = torch.relu(x.mean((2, 3)) if name == "linear" else x)
                outs.append(torch.relu(probe(inp)))
            return tuple(outs)

    def probe_of(node):
        for path, _ in (node.meta.get("nn_module_stack") or {}).values():
            parts = path.split(".")
            if len(parts) >= 2 and parts[0] == "p":
                return parts[1]
        return None

    torch.manual_seed(0)
    program = torch.export.export(All().eval(), (torch.randn(1, 4, 8, 8),))
    used: dict[str, set[str]] = {}
    for node in program.graph.nodes:
        if node.op == "call_function" and probe_of(node):
            used.setdefault(probe_of(node), set()).add(str(node.target))
    lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).exported_program()
    left = {probe_of(n) for n in lowered.graph.nodes
            if n.op == "call_function" and "executorch_call_delegate" not in str(n.target) and "getitem" not in str(n.target)}
    delegated = {op for name, ops in used.items() if name not in left for op in ops}
    refused = {op for name, ops in used.items() if name in left for op in ops}
    return delegated - refused


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
    parser.add_argument("--skip-probes", action="store_true",
                        help="reuse the committed XNNPACK probe results instead of lowering the probes again")
    parser.add_argument("files", nargs="*", type=Path, help="profiles to process (default: all built-ins)")
    args = parser.parse_args(argv)
    global SKIP_PROBES
    SKIP_PROBES = args.skip_probes
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
