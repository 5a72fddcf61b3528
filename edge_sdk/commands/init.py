"""`edge-sdk init MODEL`: write a commented starter edge-sdk.yaml for a model.

Why: the project file is what CI builds from; starting from a file that already lists the targets
this model can reach (and says why the others cannot) is faster and less error-prone than the docs.
Only file names and the device profiles are read: no framework is imported.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from edge_sdk.errors import ConfigError, ModelLoadError

DATA_HINTS = {"calibration": ("calib",), "train_data": ("train",), "eval_data": ("eval", "test", "val")}


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init_command(
        model: Path = typer.Argument(..., help="The trained model (.keras, .h5, SavedModel dir, .pt2)."),
        out: Path = typer.Option(Path("edge-sdk.yaml"), "--out", "-o", help="Where to write the project file."),
        force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    ) -> None:
        """Write a commented starter edge-sdk.yaml for MODEL (targets it can reach, data found next to it)."""
        if out.exists() and not force:
            raise ConfigError(f"{out} already exists; pass --force to overwrite it")
        text, targets = starter_yaml(model, out.parent)
        from edge_sdk.atomic_text import write_text_atomic

        write_text_atomic(out, text)
        typer.echo(f"wrote {out}: {len(targets)} target(s) ({', '.join(targets)}); check the data paths, then run: edge-sdk build")


def detect_framework(model: Path) -> tuple[str, str]:
    """(framework for the planner, description) from the path alone."""
    if not model.exists():
        raise ModelLoadError(f"model file {model} does not exist")
    if model.is_dir():
        if (model / "saved_model.pb").is_file():
            return "keras", "TensorFlow SavedModel"
        raise ModelLoadError(f"{model}: a directory but not a SavedModel (no saved_model.pb inside)")
    suffix = model.suffix.lower()
    if suffix == ".keras":
        return "keras", "Keras .keras (Keras 3 files are bridged to tf_keras)"
    if suffix in (".h5", ".hdf5"):
        return "keras", "tf_keras HDF5"
    if suffix == ".pt2":
        return "torch", "PyTorch ExportedProgram (torch.export.save)"
    if suffix == ".tflite":
        raise ModelLoadError(
            f"{model}: a .tflite file can be inspected and benchmarked, not rebuilt; "
            "run init on the source model (.keras, .h5, SavedModel dir or .pt2)"
        )
    raise ModelLoadError(f"{model}: unknown model format {suffix or '(no suffix)'}; expected .keras, .h5, a SavedModel dir or .pt2")


def _target_lines(framework: str) -> tuple[list[str], list[str]]:
    """YAML lines for every family: reachable ones active, the others commented out with the reason."""
    from edge_sdk.planner.fit import choose_format
    from edge_sdk.profiles import FAMILIES, get_profile

    lines, active = [], []
    for family in FAMILIES:
        profile = get_profile(family)
        fmt = choose_format(framework, profile)
        if fmt is None:
            lines.append(f"  # - target: {family:<10} # {profile.name} runs {', '.join(profile.runtime.formats)}: not reachable from a {framework} model")
            continue
        lines.append(f"  - target: {family:<12} # default profile {profile.name}: exports {fmt}")
        if not active:
            lines.append("    # ram_bytes: 256KiB    # per-target overrides: ram_bytes, flash_bytes, latency_ms, max_accuracy_drop, min_fidelity")
        active.append(family)
    return lines, active


def _find_data(model: Path, base: Path) -> dict[str, Optional[str]]:
    """.npz files next to the model whose names suggest calibration / train / eval data."""
    folder = model.parent
    found: dict[str, Optional[str]] = {key: None for key in DATA_HINTS}
    for npz in sorted(folder.glob("*.npz")):
        for key, hints in DATA_HINTS.items():
            if found[key] is None and any(h in npz.stem.lower() for h in hints):
                found[key] = _rel(npz, base)
                break
    return found


def _rel(path: Path, base: Path) -> str:
    """Relative to the project file (so the project can move), absolute when they share no folder."""
    path, base = path.resolve(), base.resolve()
    if os.path.commonpath([path, base]) == path.anchor:
        return str(path)
    rel = os.path.relpath(path, base)
    return rel if rel.startswith("..") else f"./{rel}"


def starter_yaml(model: Path, base: Path) -> tuple[str, list[str]]:
    framework, description = detect_framework(model)
    target_lines, active = _target_lines(framework)
    if not active:
        raise ConfigError(f"no built-in target family can run a {framework} model")
    data = _find_data(model, base)
    calibration = data["calibration"] or "calibration.npz"
    cal_note = "found next to the model" if data["calibration"] else "REQUIRED: replace with your .npz"

    def optional(key: str, example: str, comment: str) -> str:
        value = data[key]
        return f"{key}: {value}   # {comment}" if value else f"# {key}: {example}   # {comment}"

    lines = [
        f"# edge-sdk project file, written by `edge-sdk init {model.name}`.",
        "# Build every target below:  edge-sdk build          one target:  edge-sdk build --target ios",
        "# Field reference: docs/project.md. Relative paths are relative to this file.",
        "",
        f"# The trained model: {description}.",
        f"model: {_rel(model, base)}",
        "# trust_model: false   # true allows Lambda layers / custom objects / pickles (runs code from the model file)",
        "",
        "# Data: .npz with `x` (or one array per model input, named by input) and optional labels `y`,",
        "# or module:function returning batches.",
        f"calibration: {calibration}   # {cal_note}: a few hundred representative inputs",
        optional("train_data", "train.npz", "fine-tuning data for QAT/pruning/distillation (default: calibration, label-free)"),
        optional("eval_data", "eval.npz", "held-out data; with labels y, accuracy is measured"),
        "",
        "# Budgets for every target (default: each device profile's own). Sizes accept 262144, 256KiB, 1.5MB.",
        "# budgets:",
        "#   max_accuracy_drop: 1.0   # points; needs labelled eval_data",
        "#   min_fidelity: 0.99       # top-1 agreement with the original model",
        "",
        "# A family name picks its default profile; any name from `edge-sdk profiles list` works too.",
        "targets:",
        *target_lines,
        "",
        "out: out              # OUT/<profile>/: artifact, harness/, report.json, report.html (+ index.html)",
        "search: first-fit     # or pareto: evaluate every candidate and keep the Pareto set",
        "seed: 0",
        "# cache_dir: .edge-sdk-cache   # reused trained steps ($EDGE_SDK_CACHE_DIR overrides; build --no-cache skips)",
        "# profiles_dir: profiles       # your own device profiles (YAML; may `extends:` a built-in)",
        "# devices:                     # for `edge-sdk bench --device NAME` and `edge-sdk devices`",
        "#   - name: orin",
        "#     address: ssh:ubuntu@192.168.1.20:22",
        "#     target: jetson",
        "#     identity_file: ~/.ssh/id_ed25519",
        "",
    ]
    return "\n".join(lines), active
