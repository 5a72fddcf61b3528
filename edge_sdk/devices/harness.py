"""Emit the on-device benchmark harness: render `targets/<family>/` into `OUT/<profile>/harness/`.

Files ending in `.tmpl` are rendered (`{{ name }}` placeholders, every one must be known) and lose the
suffix; other files are copied as they are, so the Python runner and the Android script in the harness
are byte-for-byte the files `edge-sdk bench` itself runs (one implementation, not two copies).
`config.json` carries the profile's settings (threads, delegate, arena) for the scripts to read.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path
from types import ModuleType

from edge_sdk.errors import EdgeSDKError
from edge_sdk.profiles import Profile
from edge_sdk.contracts.records import Artifact

TARGETS_DIR = Path(__file__).resolve().parent.parent.parent / "targets"
FAMILY_DIRS = {"android": "android", "ios": "ios", "cortex-m": "cortex_m", "jetson": "jetson"}
PYTHON_RUNNER = TARGETS_DIR / "jetson" / "bench_runner.py"
TRT_RUNNER = TARGETS_DIR / "jetson" / "trt_runner.py"  # .onnx without trtexec: TensorRT's Python API
ANDROID_SCRIPT = TARGETS_DIR / "android" / "run_benchmark.py"
DEFAULT_RUNS, DEFAULT_WARMUP = 50, 5
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_CORTEX_M = re.compile(r"cortex-(m\d+)(\+|plus)?", re.IGNORECASE)


def script_module(path: Path, name: str) -> ModuleType:
    """One of our own scripts under targets/ (never user input) imported as a module, to reuse its code
    on this machine (the Python runner's input conversion, the Android script's parsers)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def device_settings(profile: Profile, unit: str | None = None) -> dict:
    """Threads, delegate and Core ML compute units to run with, from the profile.

    `runtime.constraints.threads` wins; else Jetson boards use every core ("4-core ..." in compute.cpu)
    and phones one thread (what their latency estimates assume). The delegate follows the compute unit
    the planner picked (gpu -> GPU delegate, npu -> NNAPI, cpu -> XNNPACK).
    """
    constraints = profile.runtime.constraints
    unit = unit or profile.compute.units[0].name
    cores = re.search(r"(\d+)-core", profile.compute.cpu)
    threads = int(constraints.get("threads") or (int(cores.group(1)) if profile.family == "jetson" and cores else 1))
    delegate = {"gpu": "gpu", "npu": "nnapi", "nnapi": "nnapi"}.get(unit, "xnnpack")
    return {"threads": threads, "delegate": delegate, "unit": unit,
            "compute_units": str(constraints.get("compute_units", "ALL"))}


def arm_flags(profile: Profile) -> list[str]:
    """arm-none-eabi-gcc CPU/FPU flags for a Cortex-M profile (from compute.cpu)."""
    m = _CORTEX_M.search(profile.compute.cpu)
    if not m:
        raise EdgeSDKError(f"profile {profile.name}: compute.cpu {profile.compute.cpu!r} names no Cortex-M core")
    core = m.group(1).lower() + ("plus" if m.group(2) else "")
    cpu = profile.compute.cpu.lower()
    fpu = None
    if "fpu" in cpu or core == "m4" and "m4f" in cpu:
        fpu = {"m4": "fpv4-sp-d16", "m7": "fpv5-d16" if "double" in cpu else "fpv5-sp-d16",
               "m33": "fpv5-sp-d16", "m55": "fpv5-d16"}.get(core)
    flags = [f"-mcpu=cortex-{core}", "-mthumb"]
    return flags + ([f"-mfpu={fpu}", "-mfloat-abi=hard"] if fpu else ["-mfloat-abi=soft"])


def _values(profile: Profile, artifact: Artifact, unit: str | None) -> dict[str, str]:
    settings = device_settings(profile, unit)
    values = {
        "profile": profile.name,
        "family": profile.family,
        "description": " ".join(profile.description.split()),
        "artifact": artifact.path.name,
        "format": artifact.format,
        "precision": artifact.precision,
        "threads": str(settings["threads"]),
        "delegate": settings["delegate"],
        "compute_units": settings["compute_units"],
        "runs": str(DEFAULT_RUNS),
        "warmup": str(DEFAULT_WARMUP),
        "arena_bytes": str(artifact.arena.bytes if artifact.arena else ""),
        "clock_hz": str(profile.compute.clock_hz),
    }
    if profile.family == "cortex-m":
        flags = arm_flags(profile)
        values["arm_flags"] = " ".join(flags)
        values["arm_core"] = flags[0].split("=", 1)[1]
        values["input_bytes"] = str(input_bytes(artifact))
    return values


def input_bytes(artifact: Artifact) -> int:
    """Bytes of a .tflite/TFLM model's input tensors (main.cc keeps a copy of its sample)."""
    import numpy as np

    from edge_sdk.formats.common.flatbuffer import read_graph

    graph = read_graph(Path(artifact.path).read_bytes())
    return sum(int(np.prod(t.shape)) * np.dtype(t.dtype).itemsize for t in (graph.tensors[i] for i in graph.inputs))


RUNTIME_SETTINGS = {  # the settings each format's runtime takes (issue 16, point 9: no delegate for TFLM)
    "tflite": ("threads", "delegate"),  # LiteRT: XNNPACK threads, or the GPU / NNAPI delegate
    "pte": ("threads",),  # ExecuTorch: its delegate (XNNPACK, Core ML) is baked into the program
    "pte-coreml": ("threads",),
    "tflm": ("arena_bytes",),  # TFLite Micro: one thread, no delegate; the tensor arena to reserve
    "coreml": ("compute_units",),  # Core ML: which units it may use (ALL, CPU_AND_NE, ...)
    "onnx": (),  # TensorRT: trtexec builds the engine on the board (precision from the model's Q/DQ)
}


def _config(profile: Profile, artifact: Artifact, unit: str | None) -> dict:
    """config.json: the artifact and, of the profile's settings, only those its runtime reads."""
    s = {**device_settings(profile, unit), "arena_bytes": artifact.arena.bytes if artifact.arena else None}
    kind = {"tflite": "tflite", "tflm": "tflm", "pte": "pte"}.get(artifact.format)
    return {"profile": profile.name, "family": profile.family, "format": artifact.format, "kind": kind,
            "model": f"../{artifact.path.name}", "runs": DEFAULT_RUNS, "warmup": DEFAULT_WARMUP,
            **{key: s[key] for key in RUNTIME_SETTINGS.get(artifact.format, ())}}


def render(text: str, values: dict[str, str], name: str) -> str:
    def sub(m: re.Match) -> str:
        if m.group(1) not in values:
            raise KeyError(f"{name}: unknown placeholder {m.group(1)!r}")
        return values[m.group(1)]

    return _PLACEHOLDER.sub(sub, text)


def emit(profile: Profile, artifact: Artifact, out_dir: Path, unit: str | None = None) -> Path:
    """Write out_dir/harness/ for the profile's family; returns the harness dir."""
    src = TARGETS_DIR / FAMILY_DIRS[profile.family]
    dest = Path(out_dir) / "harness"
    if dest.exists():
        shutil.rmtree(dest)
    values = _values(profile, artifact, unit)
    for path in sorted(p for p in src.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        rel = path.relative_to(src)
        target = dest / (str(rel)[: -len(".tmpl")] if path.name.endswith(".tmpl") else rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.name.endswith(".tmpl"):
            target.write_text(render(path.read_text(), values, str(rel)))
        else:
            shutil.copy2(path, target)
    if profile.family == "ios" and artifact.path.suffix == ".mlpackage":  # SwiftPM resources live in the target
        (dest / "Sources" / "EdgeBenchKit" / "model.mlpackage").symlink_to(Path("../../..") / artifact.path.name)
    (dest / "config.json").write_text(json.dumps(_config(profile, artifact, unit), indent=2) + "\n")
    return dest
